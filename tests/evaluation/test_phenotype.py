"""Phenotypic prediction (Step 2b): finds a planted signal, stays at chance without one."""
import json

import numpy as np
import pytest

from vexscreen.cli import main
from vexscreen.data import save_encodings
from vexscreen.data.synthetic import simple_structure, synthetic_encodings
from vexscreen.evaluation import StratifiedPatientSplit, evaluate
from vexscreen.evaluation.classifier import platt_svc
from vexscreen.evaluation.metrics import binary_metrics
from vexscreen.evaluation.phenotype import prepare
from vexscreen.evaluation.splitters import study_resample
from vexscreen.exceptions import InputError

FAST = dict(iterations=4, aggregates=30, progress=False)


def _cohort(signal, patient_effect, n=(3, 3, 6), cells=40, seed=0):
    structure = simple_structure({"MDS": n[2], "UBA1-WT": n[1], "VEXAS": n[0]}, cells_per_sample=cells)
    return synthetic_encodings(structure, dim=32, signal=signal, patient_effect=patient_effect, seed=seed)


def test_finds_planted_signal():
    enc = _cohort(signal=1.0, patient_effect=0.3)
    r = evaluate(enc, ["UBA1-WT", "VEXAS"], **FAST)
    assert r["aggregate_level"]["auc"]["mean"] > 0.95
    assert r["patient_level"]["auc"] == 1.0
    assert r["patient_level"]["p_value"] == pytest.approx(1 / 20)  # 3 of 6 patients: C(6,3)=20
    assert r["patient_level"]["leave_pair_out_auc"] == 1.0
    assert all(r["patient_level"]["scores"][f"VEXAS[{i}]"] > 0.5 for i in (1, 2, 3))


def test_patient_effects_without_signal_stay_at_chance():
    """Strong patient effects, no group signal: patient splits give chance, cell splits would not."""
    enc = _cohort(signal=0.0, patient_effect=1.5, n=(10, 0, 10), cells=30, seed=3)
    r = evaluate(enc, ["MDS", "VEXAS"], iterations=10, aggregates=30, progress=False)
    auc = r["aggregate_level"]["auc"]
    assert abs(auc["mean"] - 0.5) < 0.15 and auc["low"] < 0.5 < auc["high"]
    assert r["patient_level"]["p_value"] > 0.05
    # The same data split by cell instead of by patient is inflated: the check above can fail.
    X, y, patients, _, _ = prepare(enc, ["MDS", "VEXAS"])
    rng = np.random.RandomState(0)
    cells = rng.permutation(len(y))
    tr, te = cells[: len(y) // 2], cells[len(y) // 2:]
    leaky = platt_svc().fit(X[tr], y[tr]).predict_proba(X[te])[:, 1]
    assert binary_metrics(y[te], leaky)["auc"] > 0.9


def test_deterministic(tmp_path):
    enc = _cohort(signal=0.4, patient_effect=0.5)
    save_encodings(tmp_path / "enc", enc.X, enc.meta)
    outs = []
    for k in range(2):
        out = tmp_path / f"run{k}"
        assert main(["evaluate", str(tmp_path / "enc"), "--groups", "MDS,UBA1-WT,VEXAS", "--out", str(out),
                     "--iterations", "3", "--aggregates", "20", "--no-plots", "--no-progress"]) == 0
        data = json.loads((out / "evaluation.json").read_text())
        data.pop("timing")
        outs.append(data)
    assert outs[0] == outs[1]
    d = outs[0]
    assert d["positive"] == "VEXAS" and d["groups"] == ["MDS", "UBA1-WT", "VEXAS"]
    assert [it["seed"] for it in d["iterations"]] == [4512, 4513, 4514]
    for key in ("auc", "sensitivity", "specificity"):
        s = d["aggregate_level"][key]
        assert s["low"] <= s["mean"] <= s["high"]
    assert d["patient_level"]["method"] == "leave-one-patient-out"
    # one score per patient, patients sorted (leave-one-group-out order)
    assert list(d["patient_level"]["scores"]) == sorted(
        f"{g}[{i}]" for g, n in (("MDS", 6), ("UBA1-WT", 3), ("VEXAS", 3)) for i in range(1, n + 1))


@pytest.mark.parametrize("groups", [["UBA1-WT", "VEXAS"], ["MDS", "VEXAS"], ["MDS", "UBA1-WT", "VEXAS"]])
def test_no_patient_in_both_halves(groups):
    enc = _cohort(signal=0.5, patient_effect=0.5).select_classes(groups)
    splitter = StratifiedPatientSplit(10, 0.5, 4512)
    patients, labels = enc.patients, enc.labels
    all_patients = set(patients)
    for seed, train, test in splitter.split_patients(labels, patients):
        assert not set(train) & set(test)
        assert set(train) | set(test) == all_patients
        for g in groups:  # stratified: every group on the training side
            assert any(p.startswith(g + "[") for p in train)
    for tr, te in splitter.split(enc.X, labels, patients):
        assert not set(patients[tr]) & set(patients[te])


def test_evaluate_cli_help(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["evaluate", "--help"])
    assert exc.value.code == 0
    assert "--aggregate-size" in capsys.readouterr().out


def test_iterations_match_the_study_loop_written_out():
    """Per iteration: patient split, one RandomState(seed) for training then test aggregates, SVM."""
    enc = _cohort(signal=0.4, patient_effect=0.5)
    classes = ["MDS", "UBA1-WT", "VEXAS"]
    r = evaluate(enc, classes, iterations=3, aggregates=15, patient_level=False, progress=False)
    X, y, patients, labels, table = prepare(enc, classes)
    ids, grp = table["patient"].to_numpy(), table["label"].to_numpy()
    for n, record in enumerate(r["iterations"]):
        seed = 4512 + n
        train = study_resample(ids, len(ids) * 0.5, grp, seed)
        test = np.setdiff1d(ids, train)
        rng = np.random.RandomState(seed)

        def aggregates(names):
            rows = [(np.median(X[rng.choice(np.where(patients == p)[0], size=10)], axis=0),
                     int(grp[ids == p][0] == "VEXAS")) for p in names for _ in range(15)]
            return np.array([a for a, _ in rows]), np.array([t for _, t in rows])

        A_tr, y_tr = aggregates(train)
        A_te, y_te = aggregates(test)
        p = platt_svc().fit(A_tr, y_tr).predict_proba(A_te)[:, 1]
        assert record["train_patients"] == list(train) and record["test_patients"] == list(test)
        assert record == {**record, **binary_metrics(y_te, p)}


def test_progress_goes_to_the_callback_and_nothing_is_printed(capsys, caplog, monkeypatch):
    enc = _cohort(signal=1.0, patient_effect=0.3)
    calls = []
    evaluate(enc, ["UBA1-WT", "VEXAS"], iterations=2, aggregates=10,
             progress=lambda desc, done, total: calls.append((desc, done, total)))
    stages = list(dict.fromkeys(desc for desc, _, _ in calls))
    assert stages == ["evaluate UBA1-WT/VEXAS", "leave-one-patient-out", "leave-pair-out"]
    assert [(d, t) for desc, d, t in calls if desc == stages[0]] == [(1, 2), (2, 2)]
    assert [(d, t) for desc, d, t in calls if desc == "leave-pair-out"][-1] == (9, 9)  # 3 x 3 pairs
    monkeypatch.setattr("vexscreen.progress.LOG_EVERY", 0.0)  # log every step, as a slow run would
    with caplog.at_level("INFO", logger="vexscreen.progress"):
        evaluate(enc, ["UBA1-WT", "VEXAS"], iterations=2, aggregates=10, progress=True,
                 patient_level=False)
    assert "evaluate UBA1-WT/VEXAS: 2/2 it" in caplog.text
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""


@pytest.mark.parametrize("settings, fragment", [
    ({"iterations": 0}, "iterations must be at least 1"),
    ({"aggregates": 4}, "aggregates must be at least 5"),
    ({"aggregate_size": 0}, "aggregate size must be at least 1"),
    ({"train_fraction": 1.0}, "train fraction must be between 0 and 1"),
    ({"threshold": 1.5}, "threshold must be between 0 and 1"),
    ({"n_jobs": 0}, "jobs must be"),
    ({"min_cells": -1}, "min cells must be at least 0"),
])
def test_out_of_range_settings_are_input_errors(settings, fragment):
    """The library checks its settings too (the CLI refuses them earlier, where it parses them)."""
    enc = _cohort(signal=0.4, patient_effect=0.5, cells=5)
    with pytest.raises(InputError, match=fragment):
        evaluate(enc, ["UBA1-WT", "VEXAS"], progress=False, **settings)


def _minority_feature_cohort(n_patients=8, cells=60, seed=0):
    """Noise columns plus one 'vacuolated' column, set in 20% of VEXAS cells and 2% of UBA1-WT
    cells: a feature a minority of cells carry, as vacuoles in VEXAS neutrophils."""
    import pandas as pd

    from vexscreen.data.encodings import EncodingSet

    rng = np.random.default_rng(seed)
    X, rows = [], []
    for group, rate in (("UBA1-WT", 0.02), ("VEXAS", 0.2)):
        for i in range(n_patients):
            noise = rng.normal(size=(cells, 5)) + rng.normal(scale=0.3, size=5)  # patient offset
            flag = 3.0 * (rng.random(cells) < rate)
            X.append(np.column_stack([noise, flag]))
            rows += [{"PATIENT": f"{group}[{i}]", "SAMPLE": f"{group}{i}s0", "GROUP": group}] * cells
    return EncodingSet(np.concatenate(X).astype(np.float32), pd.DataFrame(rows), "minority", ("PATIENT", "SAMPLE", "GROUP"))


def test_mean_aggregates_keep_a_feature_that_medians_erase():
    enc = _minority_feature_cohort()
    settings = dict(iterations=3, aggregates=20, progress=False)
    median = evaluate(enc, ["UBA1-WT", "VEXAS"], **settings)
    mean = evaluate(enc, ["UBA1-WT", "VEXAS"], statistic="mean", **settings)
    assert median["parameters"]["statistic"] == "median" and mean["parameters"]["statistic"] == "mean"
    # the median of 10 cells is 0 in the flag column for almost every aggregate: near chance
    assert median["patient_level"]["auc"] < 0.8
    assert mean["patient_level"]["auc"] >= 0.95 and mean["patient_level"]["p_value"] < 0.01
    assert mean["aggregate_level"]["auc"]["mean"] > median["aggregate_level"]["auc"]["mean"] + 0.15
