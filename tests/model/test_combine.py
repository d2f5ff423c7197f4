"""Combiners of cell types, and the combined patient-level figure from per-type LOPO scores."""
from __future__ import annotations

import math

import numpy as np

import pytest

from vexscreen.exceptions import InputError
from vexscreen.model import combine, combined_from_evaluations, combined_patient_level
from vexscreen.model.combine import combine_rows, evidence_weights


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


def test_weighted_combiner_weighs_each_type_by_its_reference_evidence():
    assert combine([0.2, 0.8], "weighted", [1.0, 0.0]) == pytest.approx(0.2)
    assert combine([0.2, 0.8], "weighted", [0.5, 0.25]) == pytest.approx((0.1 + 0.2) / 0.75)
    assert combine([0.2, 0.8], "weighted", [0.0, 0.0]) == pytest.approx(0.5)  # all at chance: the mean
    assert combine([0.2, None, 0.8], "weighted", [1.0, 5.0, 1.0]) == pytest.approx(0.5)  # weights follow
    P = np.array([[0.2, 0.8], [0.4, 0.6]])
    assert combine_rows(P, "weighted", [3.0, 1.0]) == pytest.approx([0.35, 0.45])


def test_evidence_weights_and_the_honest_combined_figure():
    """PN orders every pair of reference patients right (weight 1), MO none better than chance
    (weight 0); each patient's combined score uses weights computed without its own scores."""
    classes = {"a": "VEXAS", "b": "VEXAS", "c": "VEXAS", "d": "UBA1-WT", "e": "UBA1-WT", "f": "UBA1-WT"}
    scores = {"PN": {"a": 0.9, "b": 0.8, "c": 0.7, "d": 0.3, "e": 0.2, "f": 0.1},
              "MO": {"a": 0.2, "b": 0.9, "c": 0.4, "d": 0.8, "e": 0.3, "f": 0.5}}
    w = evidence_weights(scores, classes, "VEXAS")
    assert w["PN"] == 1.0 and w["MO"] == pytest.approx(max(0.0, 2 * (4 / 9) - 1))  # MO AUC 4/9: weight 0
    r = combined_patient_level(scores, classes, "VEXAS", combiner="weighted")
    assert r["weights"] == w and r["combiner"] == "weighted"
    for p in classes:
        own = evidence_weights(scores, classes, "VEXAS", exclude=p)
        expected = (own["PN"] * scores["PN"][p] + own["MO"] * scores["MO"][p]) / (own["PN"] + own["MO"])
        assert r["scores"][p] == pytest.approx(expected)
    assert r["auc"] == 1.0 and combined_patient_level(scores, classes, "VEXAS")["auc"] < 1.0
    # leaving out a patient changes the weights it is combined with: b alone makes MO look useful
    assert evidence_weights(scores, classes, "VEXAS", exclude="a")["MO"] != w["MO"]
    assert evidence_weights({"PN": {"a": 0.9, "b": 0.1}}, {"a": "VEXAS", "b": "VEXAS"}, "VEXAS") == {"PN": 0.0}
