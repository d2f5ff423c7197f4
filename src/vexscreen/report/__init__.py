"""Report: figures and tables a clinician or a reviewer can read."""
from .figures import aggregate_umap_figure, consistency_umap_figure
from .tables import format_consistency, format_evaluation_row, matrix_to_json

__all__ = ["aggregate_umap_figure", "consistency_umap_figure", "format_consistency",
           "format_evaluation_row", "matrix_to_json"]
