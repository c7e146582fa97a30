"""worksheetgen: randomized neural-network problem sets with exact worked solutions."""

__version__ = "0.1.0"
