"""Report: what a clinician or a reviewer reads. The library computes and returns; this package
presents: figures (:mod:`.figures`), text tables (:mod:`.tables`), the CLI's words around them
(:mod:`.text`), result files (:mod:`.files`) and the screening report pages (:mod:`.screening`,
imported on first use: it loads Jinja2 and matplotlib)."""
from importlib import import_module

from .figures import aggregate_umap_figure, consistency_umap_figure
from .files import consistency_record, write_consistency
from .tables import (format_consistency, format_consistency_ci, format_evaluation_row, format_recovery,
                     format_summary, matrix_to_json)
from .text import format_demo_step, format_pipeline_result

_LAZY = {"render_patient_report": "screening", "render_index": "screening"}

__all__ = ["aggregate_umap_figure", "consistency_record", "consistency_umap_figure", "format_consistency",
           "format_consistency_ci", "format_demo_step", "format_evaluation_row", "format_pipeline_result",
           "format_recovery", "format_summary", "matrix_to_json", "render_index", "render_patient_report",
           "write_consistency"]


def __getattr__(name):
    if name in _LAZY:
        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
