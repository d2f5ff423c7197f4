"""Evaluation: encoder consistency (Step 2a) and phenotypic prediction (Step 2b)."""
from .classifier import PatientClassifier, RBFNystroem, nystroem_svc, platt_svc
from .consistency import consistency_ci, consistency_matrix, pairwise_auc
from .knn import half_splits, knn_predictions, knn_split_scores
from .metrics import auc_permutation_p, binary_metrics, mean_ci
from .phenotype import evaluate, leave_one_patient_out, patient_aggregates
from .scalable import ScaleConfig, kfold_patient_level
from .splitters import StratifiedPatientSplit, study_resample

__all__ = ["PatientClassifier", "RBFNystroem", "ScaleConfig", "StratifiedPatientSplit", "auc_permutation_p",
           "binary_metrics", "consistency_ci", "consistency_matrix", "evaluate", "half_splits",
           "kfold_patient_level", "knn_predictions", "knn_split_scores", "leave_one_patient_out", "mean_ci",
           "nystroem_svc", "pairwise_auc", "patient_aggregates", "platt_svc", "study_resample"]
