"""Combiners of cell types, and the combined patient-level figure from per-type LOPO scores."""
from __future__ import annotations

import math

import numpy as np

import pytest

from vexscreen.exceptions import InputError
from vexscreen.model import combine, combined_from_evaluations, combined_patient_level


def test_combiners():
    assert combine([0.2, 0.6]) == pytest.approx(0.4)
    assert combine([0.2, None, 0.6]) == pytest.approx(0.4)
    assert combine([]) is None and combine([None]) is None
    # logit mean: odds 0.25 and 1.5 -> geometric mean sqrt(0.375)
    odds = math.sqrt(0.25 * 1.5)
    assert combine([0.2, 0.6], "logit_mean") == pytest.approx(odds / (1 + odds))
    with pytest.raises(InputError, match="unknown combiner 'max'"):
        combine([0.5], "max")


def test_combined_patient_level():
    scores = {"PN": {"a": 0.9, "b": 0.2, "c": 0.6, "d": 0.1, "e": 0.5},
              "MO": {"a": 0.7, "b": 0.4, "c": 0.2, "d": 0.3}}
    classes = {"a": "VEXAS", "b": "UBA1-WT", "c": "VEXAS", "d": "UBA1-WT", "e": "VEXAS"}
    n = {"PN": {"a": 50, "b": 50, "c": 50, "d": 5, "e": 4}, "MO": {"a": 40, "b": 40, "c": 3, "d": 40}}
    r = combined_patient_level(scores, classes, "VEXAS", n_cells=n, min_cells=30)
    assert r["scores"] == pytest.approx({"a": 0.8, "b": 0.3, "c": 0.6, "d": 0.3})
    assert r["types_used"] == {"a": ["PN", "MO"], "b": ["PN", "MO"], "c": ["PN"], "d": ["MO"]}
    assert r["not_assessable"] == ["e"]
    assert (r["n_positive"], r["n_negative"]) == (2, 2)
    assert r["auc"] == 1.0 and r["p_value"] == pytest.approx(1 / 6)
    assert r["sensitivity"] == 1.0 and r["specificity"] == 1.0
    # without counts every scored type counts
    r = combined_patient_level(scores, classes, "VEXAS")
    assert r["scores"]["c"] == pytest.approx(0.4) and r["scores"]["e"] == 0.5 and r["not_assessable"] == []


def test_combined_one_class_only():
    r = combined_patient_level({"PN": {"a": 0.9, "b": 0.8}}, {"a": "VEXAS", "b": "VEXAS"}, "VEXAS")
    assert r["auc"] is None and r["p_value"] is None
    with pytest.raises(InputError, match="no class given"):
        combined_patient_level({"PN": {"a": 0.9}}, {}, "VEXAS")


def test_combined_from_evaluate_results():
    """From the shape `evaluate` returns per cell type (its patient_level block)."""
    from vexscreen.data.synthetic import simple_structure, synthetic_encodings
    from vexscreen.evaluation import evaluate

    structure = simple_structure({"UBA1-WT": 3, "VEXAS": 3}, 1, 20)
    results = {ct: evaluate(synthetic_encodings(structure, dim=8, signal=s, seed=i), ["UBA1-WT", "VEXAS"],
                            iterations=2, aggregates=10, progress=False)
               for i, (ct, s) in enumerate((("PN", 2.0), ("MO", 0.2)))}
    r = combined_from_evaluations(results)
    for p, score in r["scores"].items():
        assert score == pytest.approx(np.mean([results[ct]["patient_level"]["scores"][p] for ct in results]))
    assert r["cell_types"] == ["PN", "MO"] and r["n_positive"] == 3 and r["auc"] is not None
    results["MO"]["positive"] = "UBA1-WT"
    with pytest.raises(InputError, match="different positive classes"):
        combined_from_evaluations(results)
