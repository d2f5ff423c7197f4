"""vexscreen: screen for VEXAS syndrome from single-leukocyte blood-smear images.

Pipeline (each stage importable on its own):
data -> encoder -> encodings -> aggregation -> evaluation/diagnosis -> report.
Method: Chabrun, Lacombe et al., Clin Chem Lab Med 2023 (doi:10.1515/cclm-2022-1283).
"""
__version__ = "0.1.0"

from .data import EncodingSet, InputError, load_encodings, save_encodings  # noqa: E402

__all__ = ["EncodingSet", "InputError", "load_encodings", "save_encodings", "__version__"]
