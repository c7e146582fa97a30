"""A hint to ext4 about where a build's folders go on disk.

A 500-student build creates some 5,000 files. On ext4 without a journal, the allocator passes
over inodes freed in the last minutes (the previous build's files, a test run's) when it
creates a file near them, one at a time, on every creation: measured here, 5,000 files cost
2-4.5 s of system time in that state instead of 0.2 s. By default a new folder goes into its
parent's group, which is exactly where the previous build was deleted.

A folder flagged "top of a directory hierarchy" (``chattr +T``) has its subfolders placed
the way the allocator places top-level folders: in groups with many free inodes. The build
flags its staging folder, so each student's folder lands away from the freed inodes. Only a
placement hint: nothing about the files changes, and where the flag cannot be set (another
file system, another system) nothing happens.
"""

from __future__ import annotations

import array
import os
import platform
import sys
from pathlib import Path

try:
    import fcntl
except ImportError:  # not a Unix system
    fcntl = None  # type: ignore[assignment]

# _IOR('f', 1, long) and _IOW('f', 2, long), encoded as on the architectures listed (other
# encodings exist: the hint is not attempted there).
_ARCHITECTURES = {"x86_64", "amd64", "aarch64", "arm64"}
_GETFLAGS, _SETFLAGS = 0x80086601, 0x40086602
_TOPDIR = 0x00020000  # FS_TOPDIR_FL


def _flags(fd: int) -> int:
    buf = array.array("i", [0])
    fcntl.ioctl(fd, _GETFLAGS, buf)
    return buf[0]


def spread_subfolders(folder: Path) -> bool:
    """Ask the file system to place ``folder``'s subfolders as top-level folders; whether it
    took the hint. Never raises."""
    if fcntl is None or sys.platform != "linux" or platform.machine().lower() not in _ARCHITECTURES:
        return False
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return False
    try:
        flags = _flags(fd)
        if not flags & _TOPDIR:
            fcntl.ioctl(fd, _SETFLAGS, array.array("i", [flags | _TOPDIR]))
        return bool(_flags(fd) & _TOPDIR)
    except OSError:
        return False
    finally:
        os.close(fd)
