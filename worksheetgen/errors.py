"""The project's errors.

One class for anything the user can fix (a spec, a roster, a parameter): it carries where the
problem is and what would have been accepted, so the CLI can print one line and exit 2.
"""

from __future__ import annotations


class WorksheetError(Exception):
    """A problem in user input: ``source: field: problem (allowed: ...)``."""

    def __init__(
        self,
        problem: str,
        *,
        source: str | None = None,
        field: str | None = None,
        allowed: str | None = None,
    ) -> None:
        super().__init__(problem)
        self.problem = problem
        self.source = source
        self.field = field
        self.allowed = allowed

    def at(self, source: str | None = None, field_prefix: str | None = None) -> "WorksheetError":
        """Attach the file and the enclosing field; the innermost caller knows the rest."""
        if source and not self.source:
            self.source = source
        if field_prefix:
            self.field = f"{field_prefix}.{self.field}" if self.field else field_prefix
        return self

    def __str__(self) -> str:
        where = ": ".join(part for part in (self.source, self.field) if part)
        text = f"{where}: {self.problem}" if where else self.problem
        if self.allowed:
            text += f" (allowed: {self.allowed})"
        return text


class CheckError(Exception):
    """The exact solver and the independent NumPy recomputation disagree: a bug, never shipped."""


class TexError(Exception):
    """The TeX engine failed; the message carries the relevant lines of the log."""


class WorkerError(RuntimeError):
    """A worker process of a parallel build died (killed, out of memory): the build stops and
    writes nothing. A RuntimeError, so callers that caught that before still do."""
