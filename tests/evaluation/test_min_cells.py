"""evaluate(min_cells=N) is evaluate on the cohort without the patients that have fewer cells."""
from __future__ import annotations

import numpy as np

from vexscreen.data.synthetic import simple_structure, synthetic_encodings
from vexscreen.evaluation import evaluate
from vexscreen.evaluation.phenotype import select_patients, small_patients

FAST = dict(iterations=3, aggregates=10, progress=False)


def _cohort():
    enc = synthetic_encodings(simple_structure({"UBA1-WT": 4, "VEXAS": 4}, cells_per_sample=10), dim=16,
                              signal=0.8, patient_effect=0.3, seed=1)
    drop = np.flatnonzero(enc.patients == "UBA1-WT[2]")[4:]  # UBA1-WT[2] keeps 4 cells
    return enc.subset(~np.isin(np.arange(len(enc)), drop))


def _numbers(result):
    return {k: v for k, v in result.items() if k not in ("timing", "excluded_patients", "parameters")}


def test_min_cells_is_evaluate_without_those_patients():
    enc = _cohort()
    kept = enc.subset(enc.patients != "UBA1-WT[2]")
    a = evaluate(enc, ["UBA1-WT", "VEXAS"], min_cells=5, **FAST)
    b = evaluate(kept, ["UBA1-WT", "VEXAS"], **FAST)
    assert a["excluded_patients"] == {"UBA1-WT[2]": 4} and b["excluded_patients"] == {}
    assert _numbers(a) == _numbers(b)
    assert a["parameters"] == {**b["parameters"], "min_cells": 5}


def test_select_patients_and_small_patients():
    enc = _cohort()
    same, none = select_patients(enc, ["UBA1-WT", "VEXAS"], 0)
    assert same is enc and none == {}
    sub, excluded = select_patients(enc, ["UBA1-WT", "VEXAS"], 5)
    assert excluded == {"UBA1-WT[2]": 4} and "UBA1-WT[2]" not in set(sub.patients)
    assert small_patients(enc.patients, 10) == {"UBA1-WT[2]": 4}
    assert small_patients(enc.patients, 4) == {}
