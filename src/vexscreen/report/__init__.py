"""Report: what a clinician or a reviewer reads. The library computes and returns; this package
presents: figures (:mod:`.figures`), text tables (:mod:`.tables`), the CLI's words around them
(:mod:`.text`) and result files (:mod:`.files`)."""
from .figures import aggregate_umap_figure, consistency_umap_figure
from .files import consistency_record, write_consistency
from .tables import (format_consistency, format_evaluation_row, format_recovery, format_summary,
                     matrix_to_json)
from .text import format_demo_step, format_pipeline_result

__all__ = ["aggregate_umap_figure", "consistency_umap_figure", "consistency_record", "write_consistency",
           "format_consistency", "format_evaluation_row", "format_recovery", "format_summary",
           "matrix_to_json", "format_demo_step", "format_pipeline_result"]
