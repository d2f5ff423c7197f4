"""Aggregation: from cells to per-patient aggregates (METHOD.md Step 2b)."""
from .bootstrap_median import STATISTICS, BootstrapMedianAggregator, check_statistic

__all__ = ["BootstrapMedianAggregator", "STATISTICS", "check_statistic"]
