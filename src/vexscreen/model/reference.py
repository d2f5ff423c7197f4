"""The reference model: the study's classifier per cell type, fitted on a whole reference cohort.

Per cell type (METHOD.md Step 2b, every patient of the reference cohort in
training): L2-normalised cell features -> ``n_aggregates`` bootstrapped medians of
``aggregate_size`` cells per patient -> RBF SVM with Platt scaling. Beside it, the
cohort's honest figures: every reference patient scored by a model fitted without
them (leave-one-patient-out), per type and combined, with an exact permutation p;
those scores are the reference distribution a new patient is set against.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from . import blocks as _blocks
from .. import __version__ as VEXSCREEN_VERSION
from ..aggregation import check_statistic
from ..data import file_sha256
from ..evaluation.classifier import platt_svc
from ..evaluation.metrics import auc_permutation_p, binary_metrics
from ..evaluation.phenotype import patient_aggregates
from ..exceptions import InputError
from .applicability import fit_profile
from .combine import check_combiner, combined_patient_level
from .measures import reference_ranges

log = logging.getLogger(__name__)


class ReferenceModel(BaseEstimator):
    """Reference model for screening (scikit-learn style: ``__init__`` stores, ``fit`` works).

    ``classes``: the reference classes compared, last = positive (as ``evaluate``).
    ``min_cells``: fewest cells of a type for it to count for a patient (docs/screening.md
    gives the measurement behind 30). ``combiner``: see :mod:`vexscreen.model.combine`.
    ``threshold``: combined probability at or above which the verdict is positive.
    ``n_bootstrap``/``interval``: the patient's interval (resampled cells, redrawn aggregates).
    ``measurement_columns``: ``all``, or ``stain_robust`` to leave the columns that read the
    stain's intensity (optical densities, texture energy) out of the classifier's vector (they
    stay in the report's table); see :func:`vexscreen.model.blocks.stain_dependent`.
    ``statistic``: ``median`` (the study's) or ``mean`` aggregates (see
    :class:`~vexscreen.aggregation.BootstrapMedianAggregator`; the mean keeps the vacuolated
    fraction that a median of 10 cells erases).

    Fitted: ``classifiers_`` (per type), ``reference_`` (the leave-one-patient-out figures and
    scores), ``applicability_`` (per type, what a new patient's distance to the reference
    patients is measured against: :mod:`vexscreen.model.applicability`), and what the
    features came from (``blocks_``, ``encoders_``, ``measurements_``, ``n_cells_``).
    """

    def __init__(self, classes=("UBA1-WT", "VEXAS"), cell_types=("PN", "MO"), n_aggregates: int = 100,
                 aggregate_size: int = 10, statistic: str = "median", min_cells: int = 30,
                 combiner: str = "mean", measurement_columns: str = "all",
                 threshold: float = 0.5, n_bootstrap: int = 200, interval: float = 0.95,
                 random_state: int = 4512):
        self.classes = classes
        self.cell_types = cell_types
        self.n_aggregates = n_aggregates
        self.aggregate_size = aggregate_size
        self.statistic = statistic
        self.min_cells = min_cells
        self.combiner = combiner
        self.measurement_columns = measurement_columns
        self.threshold = threshold
        self.n_bootstrap = n_bootstrap
        self.interval = interval
        self.random_state = random_state

    # ------------------------------------------------------------------ fit
    def fit(self, blocks_per_cell_type: dict, y=None):
        """Fit one classifier per cell type on every reference patient of ``classes``.

        ``blocks_per_cell_type``: ``{cell type: blocks}``, blocks being a folder (encodings),
        an :class:`EncodingSet`, a :class:`~vexscreen.model.blocks.Block`, a dict
        ``{"encodings": ..., "measurements": ...}`` or a list of these.
        """
        self._check_params()
        classes = list(self.classes)
        missing = [ct for ct in self.cell_types if ct not in blocks_per_cell_type]
        if missing:
            raise InputError(f"no reference data for cell type(s) {missing}")
        self.classifiers_, self.blocks_, self.encoders_, self.measurements_ = {}, {}, {}, {}
        self.applicability_ = {}
        per_type, self.n_cells_, self.cells_dropped_ = {}, {}, {}
        for ct in self.cell_types:
            blocks = self._select(as_blocks(blocks_per_cell_type[ct]))
            X, meta, table, dropped = _blocks.join_blocks(blocks)
            X, meta, table = _select(X, meta, table, classes, ct)
            self.blocks_[ct] = [{"kind": b.kind, "dim": b.dim} for b in blocks]
            self.encoders_[ct] = encoder_info(blocks, ct)
            self.cells_dropped_[ct] = dropped
            log.info("fitting %s: %d cells, %d patients", ct, len(X), meta["PATIENT"].nunique())
            per_type[ct] = self._fit_type(ct, X, meta)
            self.applicability_[ct] = fit_profile(X, meta["PATIENT"].astype(str).to_numpy(), _dims(blocks))
            classes_of = per_type[ct]["groups"]
            self.measurements_[ct] = _measurement_info(blocks, table, meta, classes_of, classes)
        self.reference_ = self._reference(per_type)
        self.vexscreen_version_ = VEXSCREEN_VERSION
        return self

    def _select(self, blocks: list) -> list:
        """The measurement block reduced to the ``measurement_columns`` preset's columns."""
        out = []
        for b in blocks:
            if b.kind == "measurements":
                b, _ = _blocks.select_columns(b, self.measurement_columns)
            out.append(b)
        return out

    def _check_params(self) -> None:
        if len(self.classes) < 2 or len(set(self.classes)) != len(self.classes):
            raise InputError(f"need two or more distinct classes, last = positive; got {list(self.classes)}")
        if not self.cell_types or len(set(self.cell_types)) != len(self.cell_types):
            raise InputError(f"need one or more distinct cell types; got {list(self.cell_types)}")
        for name in ("n_aggregates", "aggregate_size", "min_cells", "n_bootstrap"):
            if int(getattr(self, name)) < 1:
                raise InputError(f"{name} must be at least 1, got {getattr(self, name)}")
        if not 0.0 <= self.threshold <= 1.0 or not 0.0 < self.interval < 1.0:
            raise InputError(f"threshold must be in [0, 1] and interval in (0, 1); got "
                             f"{self.threshold}, {self.interval}")
        check_combiner(self.combiner)
        check_statistic(self.statistic)
        _blocks.check_measurement_columns(self.measurement_columns)
        if not isinstance(self.random_state, (int, np.integer)) or isinstance(self.random_state, bool):
            raise InputError(f"random_state must be an integer seed (screening is reproducible), "
                             f"got {self.random_state!r}")

    def _fit_type(self, ct: str, X: np.ndarray, meta: pd.DataFrame) -> dict:
        """Fit the type's classifier on all patients; score each patient leaving it out."""
        patients = meta["PATIENT"].astype(str).to_numpy()
        labels = meta["GROUP"].astype(str).to_numpy()
        y = (labels == self.classes[-1]).astype(int)
        A, y_A, owners = patient_aggregates(X, y, patients, aggregates=int(self.n_aggregates),
                                            aggregate_size=int(self.aggregate_size),
                                            seed=int(self.random_state), statistic=self.statistic)
        self.classifiers_[ct] = platt_svc().fit(A, y_A)
        scores = {}
        for p in dict.fromkeys(owners.tolist()):
            out = owners == p
            clf = platt_svc().fit(A[~out], y_A[~out])
            scores[str(p)] = float(_positive(clf, A[out]).mean())
        groups = dict(zip(patients.tolist(), labels.tolist()))
        self.n_cells_[ct] = {str(p): int(n) for p, n in pd.Series(patients).value_counts(sort=False).items()}
        figures = _figures(scores, groups, self.classes[-1], self.threshold)
        return {"scores": scores, "groups": {p: groups[p] for p in scores}, **figures}

    def _reference(self, per_type: dict) -> dict:
        classes_of = {p: g for r in per_type.values() for p, g in r["groups"].items()}
        combined = combined_patient_level({ct: r["scores"] for ct, r in per_type.items()}, classes_of,
                                          self.classes[-1], n_cells=self.n_cells_,
                                          min_cells=int(self.min_cells), combiner=self.combiner,
                                          threshold=self.threshold)
        scores = {cls: sorted(s for p, s in combined["scores"].items() if classes_of[p] == cls)
                  for cls in self.classes}
        return {"classes": list(self.classes), "positive": self.classes[-1], "scores": scores,
                "patient_level": combined, "cell_types": per_type,
                "n_patients": {cls: sum(g == cls for g in classes_of.values()) for cls in self.classes}}

    # ------------------------------------------------------------------ scoring
    def score_cells(self, cell_type: str, X: np.ndarray) -> np.ndarray:
        """Positive probability of each row of ``X`` (aggregates, or single cells: solitary scores)."""
        return _positive(self.classifiers_[cell_type], np.asarray(X, dtype=np.float32))

    @property
    def uses(self) -> list[str]:
        """The block kinds the model rests on ("encodings", "measurements"), in that order."""
        kinds = {b["kind"] for bl in self.blocks_.values() for b in bl}
        return [k for k in _blocks.KINDS if k in kinds]

    def screen(self, patient, out_dir=None, *, class_map=None, measure_fn=None, progress: bool = False,
               workers: int = 0):
        """Screen one patient (a patient folder or a :class:`vexscreen.screen.PatientScan`).

        Returns a :class:`vexscreen.screen.ScreeningResult`; ``out_dir`` keeps the encodings
        (``out_dir/<cell type>/``) so a re-run resumes. See :func:`vexscreen.screen.screen_patient`.
        """
        from ..screen.screening import screen_patient

        return screen_patient(self, patient, out_dir, class_map=class_map, measure_fn=measure_fn,
                              progress=progress, workers=workers)

    def save(self, path) -> Path:
        """Write the model folder (see :mod:`vexscreen.model.files`)."""
        from .files import save_model

        return save_model(self, path)

    @classmethod
    def load(cls, path) -> "ReferenceModel":
        """Read a model folder, verifying every file's SHA-256 and the classifiers' types."""
        from .files import load_model

        return load_model(path)


def _positive(clf, A) -> np.ndarray:
    return clf.predict_proba(A)[:, list(clf.classes_).index(1)]


def _figures(scores: dict, groups: dict, positive: str, threshold: float) -> dict:
    names = list(scores)
    y = np.array([groups[p] == positive for p in names], dtype=int)
    s = np.array([scores[p] for p in names])
    if not 0 < y.sum() < len(y):
        return {"auc": None, "p_value": None, "sensitivity": None, "specificity": None}
    return {**binary_metrics(y, s, threshold), "p_value": auc_permutation_p(y, s),
            "n_positive": int(y.sum()), "n_negative": int(len(y) - y.sum())}


def _dims(blocks) -> list[tuple[int, int]]:
    """The (start, stop) columns of each block in the joined features (blocks in order)."""
    stops = np.cumsum([b.dim for b in blocks]).tolist()
    return list(zip([0] + stops[:-1], stops))


def as_blocks(value) -> list:
    """Normalise one cell type's reference input to a list of Blocks (at most one per kind)."""
    if isinstance(value, dict):
        unknown = [k for k in value if k not in _blocks.KINDS]
        if unknown:
            raise InputError(f"unknown block kind(s) {unknown}; choose from {', '.join(_blocks.KINDS)}")
        out = [_one_block(value[k], k) for k in _blocks.KINDS if value.get(k) is not None]
    elif isinstance(value, (list, tuple)):
        out = [_one_block(v, "encodings") for v in value]
    else:
        out = [_one_block(value, "encodings")]
    kinds = [b.kind for b in out]
    if len(set(kinds)) != len(kinds):
        raise InputError(f"one block of each kind per cell type, got {kinds}")
    return out


def _one_block(value, kind: str):
    if isinstance(value, _blocks.Block):
        return value
    if hasattr(value, "X") and hasattr(value, "meta"):  # an EncodingSet
        folder = Path(value.source).parent if getattr(value, "source", "") not in ("", "synthetic") else None
        return _blocks.Block(kind, np.asarray(value.X, dtype=np.float32), value.meta, folder)
    return _blocks.load_block(value, kind)


def _select(X, meta, table, classes, ct):
    for col in ("PATIENT", "GROUP"):
        if col not in meta.columns:
            raise InputError(f"{ct}: metadata has no {col} column; a reference cohort needs it")
    groups = meta["GROUP"].astype(str)
    absent = [c for c in classes if not (groups == c).any()]
    if absent:
        raise InputError(f"{ct}: class(es) {absent} not in the reference data; classes present: "
                         f"{sorted(groups.unique())}")
    keep = groups.isin(classes).to_numpy()
    meta = meta[keep].reset_index(drop=True)
    per_patient = meta.groupby(meta["PATIENT"].astype(str))["GROUP"].nunique()
    if (per_patient > 1).any():
        raise InputError(f"{ct}: patient {per_patient[per_patient > 1].index[0]!r} is in several classes")
    table = None if table is None else table[keep].reset_index(drop=True)
    return X[keep], meta, table


def encoder_info(blocks, ct) -> dict | None:
    """The encoder behind the type's encodings block, from its encode.json (None without one).

    ``source`` is the encoder file named there, if it still exists with the recorded SHA-256
    (None otherwise: the model can then score encodings but not encode new images).
    """
    enc = next((b for b in blocks if b.kind == "encodings"), None)
    if enc is None:
        return None
    prov = enc.provenance
    sha = prov.get("encoder_sha256")
    if not sha:
        log.warning("%s: no encode.json with the encoder's SHA-256 beside the encodings; "
                    "the model can score these encodings but not encode new images", ct)
        return None
    source = prov.get("encoder")
    found = source if source and Path(source).is_file() and file_sha256(source) == sha else None
    return {"sha256": sha, "source": found,
            "settings": {k: prov.get(k) for k in ("backbone", "pooling", "dim", "scale", "field",
                                                   "full_size", "oversize", "input_size")}}


def _measurement_info(blocks, table, meta, classes_of, classes) -> dict | None:
    meas = next((b for b in blocks if b.kind == "measurements"), None)
    if meas is None:
        return None
    settings = _blocks.provenance_settings(meas.provenance)
    ranges = ({} if table is None else
              reference_ranges(table, meta["PATIENT"].astype(str), classes_of, classes))
    return {"settings": settings, "dim": meas.dim, "reference": ranges,
            "standardisation": _blocks.standardisation(meas.provenance)}
