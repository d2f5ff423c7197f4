"""The applicability check: leave-one-out distances, conformal p-values, calibration, the flag."""
from __future__ import annotations

import numpy as np
import pytest

from vexscreen.model.applicability import MIN_PATIENTS, assess, distance, fit_profile, furthest_measurements


def _cohort(rng, n_patients, cells=20, dim=12, shift=0.0, patient_sd=0.3):
    """Cells of ``n_patients`` patients: a patient effect (sd ``patient_sd``) plus cell noise."""
    X, owners = [], []
    for p in range(n_patients):
        centre = shift + rng.normal(0, patient_sd, dim)
        X.append(centre + rng.normal(0, 1, (cells, dim)))
        owners += [f"P{p}"] * cells
    return np.concatenate(X), np.array(owners)


def _brute_loo(V, floor):
    out = []
    for i in range(len(V)):
        rest = np.delete(V, i, axis=0)
        sd = np.maximum(rest.std(axis=0, ddof=1), floor)
        out.append(np.sqrt(np.mean(((V[i] - rest.mean(axis=0)) / sd) ** 2)))
    return np.array(out)


def test_leave_one_out_distances_match_a_direct_computation():
    rng = np.random.default_rng(0)
    X, owners = _cohort(rng, 9, dim=10)
    prof = fit_profile(X, owners, [(0, 4), (4, 10)])
    V = np.stack([X[owners == f"P{p}"].mean(axis=0) for p in range(9)])
    expected = np.mean([_brute_loo(V[:, a:b], blk["floor"]) for (a, b), blk in
                        zip([(0, 4), (4, 10)], prof["blocks"])], axis=0)
    assert np.allclose(list(prof["loo"].values()), expected)
    assert list(prof["loo"]) == [f"P{p}" for p in range(9)]
    # a new patient's distance is against all reference patients, with the same formula
    new = X[owners == "P0"].mean(axis=0) + 5.0
    blocks = [V[:, :4], V[:, 4:]]
    direct = np.mean([np.sqrt(np.mean(((new[a:b] - B.mean(0)) / np.maximum(B.std(0, ddof=1), blk["floor"])) ** 2))
                      for (a, b), B, blk in zip([(0, 4), (4, 10)], blocks, prof["blocks"])])
    assert distance(prof, new) == pytest.approx(direct)


def test_too_few_reference_patients_give_no_profile():
    rng = np.random.default_rng(1)
    X, owners = _cohort(rng, MIN_PATIENTS - 1)
    assert fit_profile(X, owners, [(0, X.shape[1])]) is None
    assert assess({"PN": None}, {"PN": X.mean(axis=0)}) is None
    assert assess({}, {}) is None


def test_patients_like_the_reference_are_flagged_at_the_nominal_rate_and_shifted_ones_always():
    """Exchangeable new patients: flagged about alpha of the time (19 reference patients: 1/20);
    patients whose cells are shifted (another stain or scanner): flagged every time."""
    rng = np.random.default_rng(2)
    X, owners = _cohort(rng, 19)
    prof = {"PN": fit_profile(X, owners, [(0, X.shape[1])])}
    like, shifted, ps = [], [], []
    for _ in range(300):
        Y, _ = _cohort(rng, 1)
        r = assess(prof, {"PN": Y.mean(axis=0)})
        like.append(r["flagged"])
        ps.append(r["p_value"])
        Z, _ = _cohort(rng, 1, shift=1.0)
        shifted.append(assess(prof, {"PN": Z.mean(axis=0)})["flagged"])
    assert 0.01 <= np.mean(like) <= 0.11          # nominal 0.05
    assert np.mean(np.array(ps) <= 0.5) == pytest.approx(0.5, abs=0.1)  # p roughly uniform
    assert all(shifted)
    assert r["n_reference"] == 19 and r["alpha"] == 0.05


def test_small_reference_flags_only_patients_further_than_every_reference_patient():
    rng = np.random.default_rng(3)
    X, owners = _cohort(rng, 6)
    prof = {"PN": fit_profile(X, owners, [(0, X.shape[1])])}
    loo = sorted(prof["PN"]["loo"].values())
    V = {p: X[owners == p].mean(axis=0) for p in prof["PN"]["loo"]}
    centre = np.mean(list(V.values()), axis=0)
    r = assess(prof, {"PN": centre})   # the reference's own centre: as typical as can be
    assert r["p_value"] == 1.0 and not r["flagged"]
    far = assess(prof, {"PN": centre + 10.0})
    assert far["p_value"] == pytest.approx(1 / 7) and far["flagged"]
    assert far["distance"] > loo[-1] and far["reference_range"] == pytest.approx([loo[0], loo[-1]])


def test_the_largest_cell_type_distance_counts_against_the_same_types_of_the_reference():
    rng = np.random.default_rng(4)
    X, owners = _cohort(rng, 8)
    Y, _ = _cohort(rng, 8)
    prof = {"PN": fit_profile(X, owners, [(0, 12)]), "MO": fit_profile(Y, owners, [(0, 12)])}
    pn, mo = X[owners == "P0"].mean(axis=0), Y[owners == "P1"].mean(axis=0) + 3.0
    both = assess(prof, {"PN": pn, "MO": mo})
    assert both["distance"] == both["cell_types"]["MO"] > both["cell_types"]["PN"] and both["flagged"]
    only_pn = assess(prof, {"PN": pn})   # MO not assessable: the reference's PN distances only
    assert set(only_pn["cell_types"]) == {"PN"}
    assert only_pn["reference_range"] == pytest.approx([min(prof["PN"]["loo"].values()),
                                                        max(prof["PN"]["loo"].values())])


def test_furthest_measurements_are_ranked_by_distance_from_the_reference_patients():
    ref = {"PN": {"cell_area_um2": {"unit": "µm²", "patients": {"a": 110.0, "b": 114.0, "c": 118.0}},
                  "nucleus_lobes": {"unit": "", "patients": {"a": 2.5, "b": 3.0, "c": 3.5}},
                  "constant": {"unit": "", "patients": {"a": 1.0, "b": 1.0, "c": 1.0}}}}
    mine = {"PN": {"cell_area_um2": 155.0, "nucleus_lobes": 2.0, "constant": 4.0}}
    out = furthest_measurements(ref, mine, k=2)
    assert [m["name"] for m in out] == ["cell_area_um2", "nucleus_lobes"]
    assert out[0]["z"] == pytest.approx((155 - 114) / 4) and out[0]["reference"] == [110.0, 118.0]
    assert out[1]["z"] == pytest.approx(-2.0) and out[0]["cell_type"] == "PN"
