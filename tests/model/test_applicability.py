"""The applicability check: leave-one-out distances, conformal p-values, calibration, the flag."""
from __future__ import annotations

import numpy as np
import pytest

from vexscreen.model.applicability import MIN_PATIENTS, assess, distance, fit_profile, furthest_measurements


def _cohort(rng, n_patients, cells=20, dim=12, shift=0.0, patient_sd=0.3):
    """Cells of ``n_patients`` patients: a patient effect (sd ``patient_sd``) plus cell noise (sd 1).
    ``cells``: one count for all, or one per patient."""
    counts = np.broadcast_to(cells, (n_patients,))
    X, owners = [], []
    for p, k in enumerate(counts):
        centre = shift + rng.normal(0, patient_sd, dim)
        X.append(centre + rng.normal(0, 1, (int(k), dim)))
        owners += [f"P{p}"] * int(k)
    return np.concatenate(X), np.array(owners)


def _direct_distance(v, k, others_X, others_owner, within, floor):
    """The module doc's distance of one patient (mean ``v`` of ``k`` cells) against other patients."""
    names = list(dict.fromkeys(others_owner))
    V = np.stack([others_X[others_owner == p].mean(axis=0) for p in names])
    counts = np.array([np.sum(others_owner == p) for p in names])
    var = V.var(axis=0, ddof=1)
    tau2 = np.clip(var - within * np.mean(1 / counts), 0, None)
    sd = np.maximum(np.sqrt(tau2 + within / k + var / len(names)), floor)
    return np.sqrt(np.mean(((v - V.mean(axis=0)) / sd) ** 2))


def test_leave_one_out_distances_match_a_direct_computation():
    rng = np.random.default_rng(0)
    X, owners = _cohort(rng, 9, cells=rng.integers(5, 60, 9), dim=10)
    dims = [(0, 4), (4, 10)]
    prof = fit_profile(X, owners, dims)
    assert list(prof["loo"]) == [f"P{p}" for p in range(9)]
    for i in range(9):
        me = owners == f"P{i}"
        expected = np.mean([_direct_distance(X[me, a:b].mean(axis=0), me.sum(), X[~me, a:b], owners[~me],
                                             np.asarray(blk["within"]), blk["floor"])
                            for (a, b), blk in zip(dims, prof["blocks"])])
        assert prof["loo"][f"P{i}"] == pytest.approx(expected)
    # a new patient's distance: the same formula against all reference patients
    new = X[owners == "P0"][:7] + 2.0
    expected = np.mean([_direct_distance(new[:, a:b].mean(axis=0), 7, X[:, a:b], owners,
                                         np.asarray(blk["within"]), blk["floor"])
                        for (a, b), blk in zip(dims, prof["blocks"])])
    assert distance(prof, new.mean(axis=0), 7) == pytest.approx(expected)


def test_too_few_reference_patients_give_no_profile():
    rng = np.random.default_rng(1)
    X, owners = _cohort(rng, MIN_PATIENTS - 1)
    assert fit_profile(X, owners, [(0, X.shape[1])]) is None
    assert assess({"PN": None}, {"PN": X.mean(axis=0)}, {"PN": len(X)}) is None
    assert assess({}, {}, {}) is None


@pytest.mark.parametrize("new_cells", [8, 400])
def test_patients_like_the_reference_are_not_flagged_beyond_the_nominal_rate_and_shifted_ones_are(new_cells):
    """Patients drawn like the reference's (19 patients of 10 to 300 cells; the new one of 8 or 400):
    P(p <= a) at most about a (conservative at small a, never liberal), whatever the new patient's
    cell count, over several reference cohorts; the same patients with shifted cells (another stain
    or scanner) are flagged every time. Without the cell sampling term, 8-cell patients would look
    atypical for their noise alone."""
    rng = np.random.default_rng(2)
    ps, shifted = [], []
    for _ in range(12):
        X, owners = _cohort(rng, 19, cells=rng.integers(10, 300, 19))
        prof = {"PN": fit_profile(X, owners, [(0, X.shape[1])])}
        for _ in range(80):
            Y, _ = _cohort(rng, 1, cells=new_cells)
            r = assess(prof, {"PN": Y.mean(axis=0)}, {"PN": new_cells})
            ps.append(r["p_value"])
            Z, _ = _cohort(rng, 1, cells=new_cells, shift=1.5)
            shifted.append(assess(prof, {"PN": Z.mean(axis=0)}, {"PN": new_cells})["flagged"])
    ps = np.array(ps)
    for a in (0.05, 0.1, 0.2, 0.5):   # within 3 Monte Carlo standard errors of a valid p-value
        assert np.mean(ps <= a) <= a + 3 * np.sqrt(a * (1 - a) / len(ps)), a
    assert np.mean(ps <= 0.5) >= 0.3  # not degenerate: typical patients spread over the p-values
    assert all(shifted)
    assert r["n_reference"] == 19 and r["alpha"] == 0.05


def test_without_the_sampling_term_few_cell_patients_would_be_flagged_for_their_noise():
    """The reason for the cell sampling term: against the plain spread of well-sampled reference
    patients' means, a like patient of 8 cells lies outside far more often than alpha."""
    rng = np.random.default_rng(6)
    X, owners = _cohort(rng, 19, cells=300)
    prof = fit_profile(X, owners, [(0, X.shape[1])])
    V = np.stack([X[owners == p].mean(axis=0) for p in prof["loo"]])
    naive_ref = max(np.sqrt(np.mean(((V[i] - np.delete(V, i, 0).mean(0)) / np.delete(V, i, 0).std(0, ddof=1)) ** 2))
                    for i in range(19))
    naive, ours = [], []
    for _ in range(400):
        Y, _ = _cohort(rng, 1, cells=8)
        v = Y.mean(axis=0)
        naive.append(np.sqrt(np.mean(((v - V.mean(0)) / V.std(0, ddof=1)) ** 2)) > naive_ref)
        ours.append(assess({"PN": prof}, {"PN": v}, {"PN": 8})["flagged"])
    se = np.sqrt(0.05 * 0.95 / len(ours))
    assert np.mean(naive) > 0.05 + 3 * se and np.mean(ours) <= 0.05 + 3 * se, (np.mean(naive), np.mean(ours))


def test_small_reference_flags_only_patients_further_than_every_reference_patient():
    rng = np.random.default_rng(3)
    X, owners = _cohort(rng, 6)
    prof = {"PN": fit_profile(X, owners, [(0, X.shape[1])])}
    loo = sorted(prof["PN"]["loo"].values())
    centre = np.mean([X[owners == p].mean(axis=0) for p in prof["PN"]["loo"]], axis=0)
    r = assess(prof, {"PN": centre}, {"PN": 20})   # the reference's own centre: as typical as can be
    assert r["p_value"] == 1.0 and not r["flagged"]
    far = assess(prof, {"PN": centre + 10.0}, {"PN": 20})
    assert far["p_value"] == pytest.approx(1 / 7) and far["flagged"]
    assert far["distance"] > loo[-1] and far["reference_range"] == pytest.approx([loo[0], loo[-1]])


def test_the_largest_cell_type_distance_counts_against_the_same_types_of_the_reference():
    rng = np.random.default_rng(4)
    X, owners = _cohort(rng, 8)
    Y, _ = _cohort(rng, 8)
    prof = {"PN": fit_profile(X, owners, [(0, 12)]), "MO": fit_profile(Y, owners, [(0, 12)])}
    pn, mo = X[owners == "P0"].mean(axis=0), Y[owners == "P1"].mean(axis=0) + 3.0
    both = assess(prof, {"PN": pn, "MO": mo}, {"PN": 20, "MO": 20})
    assert both["distance"] == both["cell_types"]["MO"] > both["cell_types"]["PN"] and both["flagged"]
    only_pn = assess(prof, {"PN": pn}, {"PN": 20})   # MO not assessable: the reference's PN distances only
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
