"""Phantom cohorts: generated single-leukocyte images whose morphology, and so whose answer, is known.

* :mod:`.render`     the cell renderer (:class:`CellSpec`, :func:`render_cell`, :func:`render`)
* :mod:`.phenotypes` group phenotypes: patient -> distribution of cell specs
* :mod:`.cohort`     :func:`make_cohort`: a labeled cohort in the study's layout + truth.csv
* :mod:`.texture`    real-texture mode: vacuoles planted into real cell images
* :mod:`.recovery`   :func:`feature_recovery`: what an encoder's encodings hold of each drawn feature
"""
from .cohort import COHORTS, TRUTH_COLUMNS, cohort_structure, make_cohort, read_truth, study_structure
from .phenotypes import ENCODER_TEST_GROUPS, PatientPhenotype, patient_phenotype
from .recovery import FEATURES, feature_recovery, phantom_feature_recovery
from .render import CELL_TYPES, CellSpec, Rendered, render, render_cell
from .texture import find_cytoplasm, plant_vacuoles

__all__ = ["COHORTS", "TRUTH_COLUMNS", "cohort_structure", "make_cohort", "read_truth", "study_structure",
           "ENCODER_TEST_GROUPS", "PatientPhenotype", "patient_phenotype", "CELL_TYPES", "CellSpec",
           "Rendered", "render", "render_cell", "find_cytoplasm", "plant_vacuoles", "FEATURES",
           "feature_recovery", "phantom_feature_recovery"]
