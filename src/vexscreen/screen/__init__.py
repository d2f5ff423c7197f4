"""Screening a new patient: patient folders, the screening computation and its result.

``scan_patient(folder, class_map)`` reads one patient's export; ``screen_patient(model,
folder)`` (or ``ReferenceModel.screen(folder)``) returns a ``ScreeningResult`` whose
``to_dict()`` is the report's ``report.json`` (schema in docs/screening.md).
"""
from .patient import DEFAULT_CLASS_MAP, PatientScan, normalise_class, read_class_map, scan_patient
from .result import DISCLAIMER, CellTypeResult, ScreeningResult
from .measuring import default_measure_fn, measure_block
from .screening import cell_features, patient_probability, screen_patient

__all__ = ["DEFAULT_CLASS_MAP", "DISCLAIMER", "CellTypeResult", "PatientScan", "ScreeningResult",
           "cell_features", "default_measure_fn", "measure_block", "normalise_class", "patient_probability",
           "read_class_map", "scan_patient", "screen_patient"]
