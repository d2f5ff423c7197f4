"""ReferenceModel.fit: the study's classifier per type on all reference patients, honest LOPO figures."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from vexscreen.data.synthetic import simple_structure, synthetic_encodings
from vexscreen.exceptions import InputError
from vexscreen.model import ReferenceModel

STRUCTURE = simple_structure({"MDS": 2, "UBA1-WT": 3, "VEXAS": 3}, samples_per_patient=1, cells_per_sample=40)


@pytest.fixture(scope="module")
def cohort():
    return {"PN": synthetic_encodings(STRUCTURE, dim=16, signal=2.0, seed=1),
            "MO": synthetic_encodings(STRUCTURE, dim=12, signal=2.0, seed=2)}


@pytest.fixture(scope="module")
def fitted(cohort):
    return ReferenceModel(n_aggregates=30, min_cells=20).fit(cohort)


def test_sklearn_style():
    m = ReferenceModel(classes=("MDS", "VEXAS"), min_cells=12)
    assert clone(m).get_params() == m.get_params()
    assert m.get_params()["classes"] == ("MDS", "VEXAS")
    assert not hasattr(m, "classifiers_")


def test_fit_on_the_classes_only(fitted):
    ref = fitted.reference_
    assert ref["classes"] == ["UBA1-WT", "VEXAS"] and ref["positive"] == "VEXAS"
    assert ref["n_patients"] == {"UBA1-WT": 3, "VEXAS": 3}  # the MDS patients are not used
    assert set(fitted.n_cells_["PN"]) == {"UBA1-WT[1]", "UBA1-WT[2]", "UBA1-WT[3]", "VEXAS[1]", "VEXAS[2]",
                                          "VEXAS[3]"}
    assert fitted.classifiers_["PN"].n_features_in_ == 16 and fitted.classifiers_["MO"].n_features_in_ == 12
    assert fitted.uses == ["encodings"]


def test_planted_signal_ranks_patients(fitted):
    ref = fitted.reference_
    assert min(ref["scores"]["VEXAS"]) > max(ref["scores"]["UBA1-WT"])
    pl = ref["patient_level"]
    assert pl["auc"] == 1.0 and pl["p_value"] == pytest.approx(1 / 20)  # exact: 3 of 6 patients positive
    for ct in ("PN", "MO"):
        assert ref["cell_types"][ct]["auc"] == 1.0


def test_lopo_scores_match_the_evaluation(cohort, fitted):
    """Per-type LOPO scores are evaluate's leave-one-patient-out scores (same aggregates, same classifier)."""
    from sklearn.preprocessing import normalize

    from vexscreen.evaluation.phenotype import leave_one_patient_out

    sub = cohort["PN"].subset(cohort["PN"].meta["GROUP"].isin(["UBA1-WT", "VEXAS"]).to_numpy())
    X = normalize(sub.X, norm="l2")
    y = (sub.meta["GROUP"] == "VEXAS").to_numpy().astype(int)
    label_of = dict(zip(sub.meta["PATIENT"], sub.meta["GROUP"]))
    expected = leave_one_patient_out(X, y, sub.meta["PATIENT"].to_numpy(), label_of, aggregates=30,
                                     progress=False)
    got = fitted.reference_["cell_types"]["PN"]
    assert got["scores"] == pytest.approx(expected["scores"], abs=1e-12)
    assert got["auc"] == expected["auc"] and got["p_value"] == expected["p_value"]


def test_mean_aggregates_as_evaluate_draws_them(cohort, fitted):
    """statistic="mean": the LOPO scores are evaluate's with mean aggregates of the same draws."""
    from sklearn.preprocessing import normalize

    from vexscreen.evaluation.phenotype import leave_one_patient_out

    model = ReferenceModel(n_aggregates=30, min_cells=20, statistic="mean", cell_types=("PN",)).fit(cohort)
    sub = cohort["PN"].subset(cohort["PN"].meta["GROUP"].isin(["UBA1-WT", "VEXAS"]).to_numpy())
    y = (sub.meta["GROUP"] == "VEXAS").to_numpy().astype(int)
    label_of = dict(zip(sub.meta["PATIENT"], sub.meta["GROUP"]))
    expected = leave_one_patient_out(normalize(sub.X, norm="l2"), y, sub.meta["PATIENT"].to_numpy(), label_of,
                                     aggregates=30, statistic="mean")
    got = model.reference_["cell_types"]["PN"]["scores"]
    assert got == pytest.approx(expected["scores"], abs=1e-12)
    assert got != pytest.approx(fitted.reference_["cell_types"]["PN"]["scores"], abs=1e-6)


def test_refit_is_identical(cohort, fitted):
    again = ReferenceModel(n_aggregates=30, min_cells=20).fit(cohort)
    assert again.reference_ == fitted.reference_
    X = np.random.default_rng(0).normal(size=(7, 16)).astype(np.float32)
    np.testing.assert_array_equal(again.score_cells("PN", X), fitted.score_cells("PN", X))


def test_min_cells_in_the_combined_figure(cohort):
    m = ReferenceModel(n_aggregates=10, min_cells=41).fit(cohort)  # every patient has 40 cells per type
    pl = m.reference_["patient_level"]
    assert pl["scores"] == {} and len(pl["not_assessable"]) == 6 and pl["auc"] is None


@pytest.mark.parametrize("params, message", [
    (dict(classes=("VEXAS",)), "two or more distinct classes"),
    (dict(classes=("VEXAS", "VEXAS")), "two or more distinct classes"),
    (dict(min_cells=0), "min_cells must be at least 1"),
    (dict(threshold=1.5), "threshold must be in"),
    (dict(combiner="median"), "unknown combiner"),
    (dict(statistic="mode"), "statistic must be one of median, mean"),
    (dict(cell_types=("PN", "LY")), r"no reference data for cell type\(s\) \['LY'\]"),
    (dict(classes=("MDS", "CTRL")), r"class\(es\) \['CTRL'\] not in the reference data"),
])
def test_bad_settings(cohort, params, message):
    with pytest.raises(InputError, match=message):
        ReferenceModel(**params).fit(cohort)


def test_patient_in_two_classes(cohort):
    bad = cohort["PN"].subset(np.ones(len(cohort["PN"]), bool))
    first = bad.meta.index[bad.meta["PATIENT"] == "UBA1-WT[1]"][0]
    bad.meta.loc[first, "GROUP"] = "VEXAS"  # one cell of a UBA1-WT patient labelled VEXAS
    with pytest.raises(InputError, match=r"PN: patient 'UBA1-WT\[1\]' is in several classes"):
        ReferenceModel(cell_types=("PN",)).fit({"PN": bad})
