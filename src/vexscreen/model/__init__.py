"""The reference model: fitted on a reference cohort, saved as a folder, applied to new patients.

``ReferenceModel(classes, cell_types, ...).fit({ct: blocks})`` -> ``.save(MODEL)``;
``ReferenceModel.load(MODEL).screen(PATIENT_DIR)`` -> a ``ScreeningResult``.
"""
from .applicability import assess, fit_profile
from .blocks import Block, join_blocks, load_block, restandardise
from .combine import COMBINERS, combine, combined_from_evaluations, combined_patient_level
from .files import FORMAT, TRUSTED_TYPES, VERSION, load_model, save_model
from .reference import ReferenceModel

__all__ = ["Block", "COMBINERS", "FORMAT", "ReferenceModel", "TRUSTED_TYPES", "VERSION", "assess", "combine",
           "combined_from_evaluations", "fit_profile", "combined_patient_level", "join_blocks", "load_block", "load_model",
           "restandardise", "save_model"]
