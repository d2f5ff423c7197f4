"""Aggregation: from cells to per-patient aggregates (METHOD.md Step 2b)."""
from .bootstrap_median import BootstrapMedianAggregator

__all__ = ["BootstrapMedianAggregator"]
