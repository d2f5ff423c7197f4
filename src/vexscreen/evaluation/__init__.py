"""Evaluation: encoder consistency (Step 2a) and phenotypic prediction (Step 2b)."""
from .classifier import PatientClassifier, platt_svc
from .consistency import consistency_matrix, pairwise_auc
from .metrics import auc_permutation_p, binary_metrics, mean_ci
from .phenotype import evaluate, leave_one_patient_out, patient_aggregates
from .splitters import LeaveOnePatientOut, StratifiedPatientSplit, study_resample

__all__ = ["LeaveOnePatientOut", "PatientClassifier", "StratifiedPatientSplit",
           "auc_permutation_p", "binary_metrics", "consistency_matrix", "evaluate",
           "leave_one_patient_out", "mean_ci", "pairwise_auc", "patient_aggregates", "platt_svc",
           "study_resample"]
