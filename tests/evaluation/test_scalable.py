"""The scalable path: chosen past the stated size and said so; at chance on null cohorts of any size,
finds a planted signal; reproducible; memory-mapped encodings give the same numbers. The exact path is
unchanged: the patient-level figures match leave-one-patient-out written out on normalize(X)."""
import numpy as np
import pytest
from sklearn.preprocessing import normalize
from sklearn.svm import SVC

from vexscreen.data import load_encodings, save_encodings
from vexscreen.data.synthetic import simple_structure, synthetic_encodings
from vexscreen.evaluation import ScaleConfig, evaluate
from vexscreen.evaluation.classifier import RBFNystroem, platt_svc
from vexscreen.evaluation.metrics import binary_metrics
from vexscreen.evaluation.phenotype import prepare
from vexscreen.exceptions import InputError

CHEAP = dict(iterations=1, aggregates=20, progress=False)


def _cohort(n_pos, n_neg, *, signal, patient_effect=1.0, cells=30, dim=16, seed=0):
    structure = simple_structure({"MDS": n_neg, "VEXAS": n_pos}, samples_per_patient=1, cells_per_sample=cells)
    return synthetic_encodings(structure, dim=dim, signal=signal, patient_effect=patient_effect, seed=seed)


def test_auto_takes_the_exact_path_up_to_the_limits_and_says_which():
    small = _cohort(10, 10, signal=1.0)  # 20 patients, 100 pairs: exact
    r = evaluate(small, ["MDS", "VEXAS"], patient_level=False, **CHEAP)
    assert r["parameters"]["method"] == "exact"
    assert r["parameters"]["scale"]["max_exact_pairs"] == 100 and "100 positive-negative pairs <= 100" in \
        r["parameters"]["scale"]["why"]
    big = _cohort(11, 10, signal=1.0)  # 110 pairs: scalable
    r = evaluate(big, ["MDS", "VEXAS"], **CHEAP)
    assert r["parameters"]["method"] == "scalable" and "Nystroem" in r["parameters"]["classifier"]
    pl = r["patient_level"]
    assert pl["method"] == "repeated stratified patient-grouped 5-fold (3 repeats)"
    assert pl["settings"]["folds"] == 5 and pl["settings"]["aggregates"] == 20 and len(pl["repeat_aucs"]) == 3
    assert len(pl["scores"]) == 21 and pl["n_positive"] == 11
    forced = evaluate(big, ["MDS", "VEXAS"], method="exact", patient_level=False, **CHEAP)
    assert forced["parameters"]["method"] == "exact" and "requested" in forced["parameters"]["scale"]["why"]
    wider = evaluate(big, ["MDS", "VEXAS"], scale=ScaleConfig(max_exact_pairs=110), patient_level=False, **CHEAP)
    assert wider["parameters"]["method"] == "exact"


@pytest.mark.parametrize("n, seeds", [(15, range(3)), (100, range(1))])
def test_null_cohorts_stay_at_chance(n, seeds):
    """No group signal, strong patient effects: the patient-level AUC stays near 0.5 at any size,
    while scoring the same patients with a model that saw them (resubstitution) is far above it."""
    aucs, pairs, resub = [], [], []
    for seed in seeds:
        enc = _cohort(n, n, signal=0.0, cells=20, seed=seed)
        r = evaluate(enc, ["MDS", "VEXAS"], method="scalable", seed=seed, **CHEAP)
        aucs.append(r["patient_level"]["auc"])
        pairs.append(r["patient_level"]["pair_auc"])
        X, y, patients, _, _ = prepare(enc, ["MDS", "VEXAS"])
        means = {p: X[patients == p].mean(axis=0) for p in dict.fromkeys(patients)}
        A = np.array(list(means.values()))
        y_p = np.array([int(p.startswith("VEXAS")) for p in means])
        resub.append(binary_metrics(y_p, SVC(C=100).fit(A, y_p).decision_function(A))["auc"])
    # sd of a null AUC: ~0.13 at 15 v 15 (/ sqrt(3) averaged over 3 seeds), ~0.05 at 100 v 100
    assert abs(np.mean(aucs) - 0.5) < 0.12 and abs(np.mean(pairs) - 0.5) < 0.12
    assert np.mean(resub) > 0.8


def test_finds_a_planted_signal():
    enc = _cohort(25, 25, signal=0.6, patient_effect=0.5)
    r = evaluate(enc, ["MDS", "VEXAS"], method="scalable", **CHEAP)
    pl = r["patient_level"]
    assert r["aggregate_level"]["auc"]["mean"] > 0.9
    assert pl["auc"] > 0.95 and pl["pair_auc"] > 0.95 and pl["p_value"] < 0.001
    assert min(pl["repeat_aucs"]) > 0.9
    assert np.mean([pl["scores"][f"VEXAS[{i}]"] for i in range(1, 26)]) > \
        np.mean([pl["scores"][f"MDS[{i}]"] for i in range(1, 26)])


def test_reproducible_with_threads_and_memory_mapped(tmp_path):
    enc = _cohort(12, 10, signal=0.3, seed=5)
    save_encodings(tmp_path, enc.X, enc.meta)
    mapped = load_encodings(tmp_path, mmap=True)
    assert isinstance(mapped.X, np.memmap)
    runs = [evaluate(e, ["MDS", "VEXAS"], iterations=2, aggregates=20, n_jobs=j, progress=False)
            for e, j in ((enc, 1), (enc, 2), (mapped, 2))]
    for r in runs:
        r.pop("timing")
    assert runs[0] == runs[1] == runs[2]
    assert runs[0]["parameters"]["method"] == "scalable"
    exact = [evaluate(e, ["MDS", "VEXAS"], method="exact", iterations=2, aggregates=10, progress=False)
             for e in (enc, mapped)]
    for r in exact:
        r.pop("timing")
    assert exact[0] == exact[1]


def test_exact_patient_level_matches_leave_one_patient_out_written_out():
    """Aggregates drawn from the cells as loaded (normalised per drawn row, medians by the selection
    network) give exactly the LOPO scores of the study's arithmetic on normalize(X) and np.median."""
    enc = _cohort(3, 3, signal=0.4, patient_effect=0.5, cells=25)
    r = evaluate(enc, ["MDS", "VEXAS"], iterations=1, aggregates=8, aggregate_size=5, progress=False)
    X = normalize(enc.X)
    patients = enc.patients
    rng = np.random.RandomState(4512)
    names = sorted(set(patients))
    A = np.array([np.median(X[rng.choice(np.where(patients == p)[0], size=5)], axis=0)
                  for p in names for _ in range(8)])
    owners = np.repeat(names, 8)
    y_A = np.array([int(o.startswith("VEXAS")) for o in owners])
    for p in names:
        out = owners == p
        svm = platt_svc().fit(A[~out], y_A[~out])
        assert r["patient_level"]["scores"][p] == float(svm.predict_proba(A[out])[:, 1].mean())


def test_settings_are_checked():
    enc = _cohort(3, 3, signal=0.4)
    for bad, fragment in [(ScaleConfig(folds=1), "folds must be at least 2"),
                          (ScaleConfig(aggregates=4), "at least 5 per patient"),
                          (ScaleConfig(classifier="forest"), "unknown scalable classifier")]:
        with pytest.raises(InputError, match=fragment):
            evaluate(enc, ["MDS", "VEXAS"], scale=bad, **CHEAP)
    with pytest.raises(InputError, match="unknown method"):
        evaluate(enc, ["MDS", "VEXAS"], method="fast", **CHEAP)
    with pytest.raises(InputError, match="at least 2 patients in each class"):
        evaluate(_cohort(1, 4, signal=0.4), ["MDS", "VEXAS"], method="scalable", **CHEAP)


def test_nystroem_features_follow_the_svc_kernel():
    """gamma='scale' as SVC computes it; the float32 transform agrees with scikit-learn's Nystroem."""
    rng = np.random.default_rng(0)
    A = (rng.normal(size=(400, 24)) * 0.2).astype(np.float32)
    f = RBFNystroem(100, random_state=3).fit(A)
    assert f.gamma_ == pytest.approx(1 / (24 * A.var()))
    np.testing.assert_allclose(f.transform(A), f.nystroem_.transform(A), atol=2e-5)
    K = f.transform(A[:50]) @ f.transform(A[:50]).T  # the kernel, approximated
    exact = np.exp(-f.gamma_ * ((A[:50, None] - A[None, :50]) ** 2).sum(-1))
    assert np.abs(K - exact).mean() < 0.02


def test_refit_permutations_give_an_exact_p_value():
    """With permutations, the cross-validation is re-run on permuted labels: p = (1 + #null >= obs) / (1 + N)."""
    strong = evaluate(_cohort(6, 6, signal=1.0, patient_effect=0.3), ["MDS", "VEXAS"], method="scalable",
                      scale=ScaleConfig(permutations=9, repeats=1), **CHEAP)["patient_level"]
    assert strong["p_value"] == pytest.approx(0.1) and "9 seeded label permutations" in strong["p_value_method"]
    null = evaluate(_cohort(6, 6, signal=0.0), ["MDS", "VEXAS"], method="scalable",
                    scale=ScaleConfig(permutations=9, repeats=1), **CHEAP)["patient_level"]
    assert null["p_value"] > 0.1 and null["p_value"] in {k / 10 for k in range(2, 11)}
    default = evaluate(_cohort(6, 6, signal=0.0), ["MDS", "VEXAS"], method="scalable", **CHEAP)["patient_level"]
    assert default["p_value_method"].startswith("labels permuted, scores fixed")


def test_scalable_iterations_draw_the_exact_paths_aggregates(monkeypatch):
    """Same splits, seeds and aggregates: with the exact SVM on all 100 aggregates the scalable path's
    iterations are the exact path's, number for number, even drawn and scored in chunks of patients."""
    from vexscreen.evaluation import scalable

    monkeypatch.setattr(scalable, "CHUNK_AGGREGATES", 45)  # 2 patients per chunk
    enc = _cohort(4, 5, signal=0.3, seed=2)
    exact = evaluate(enc, ["MDS", "VEXAS"], iterations=3, aggregates=20, patient_level=False, progress=False)
    same = evaluate(enc, ["MDS", "VEXAS"], iterations=3, aggregates=20, patient_level=False, progress=False,
                    method="scalable", scale=ScaleConfig(classifier="svc", aggregates=20))
    assert same["parameters"]["method"] == "scalable"
    assert same["iterations"] == exact["iterations"]
