"""The study's per-epoch probe: sample-level half splits, 5-NN accuracy, honest fallbacks."""
import numpy as np
import pandas as pd

from vexscreen.encoder.probe import probe_accuracy


def _meta(groups, samples_per_group, cells_per_sample):
    rows = []
    for g in groups:
        for s in range(samples_per_group):
            rows += [{"PATIENT": f"{g}p{s}", "SAMPLE": f"s{s}", "GROUP": g}] * cells_per_sample
    return pd.DataFrame(rows)


def test_separable_groups_score_one_and_noise_scores_chance():
    meta = _meta(["A", "B"], 4, 10)
    y = (meta["GROUP"] == "B").to_numpy()
    rng = np.random.default_rng(0)
    X = rng.normal(size=(len(meta), 8)) * 0.1
    X[:, 0] += np.where(y, 5.0, -5.0)
    acc, note = probe_accuracy(X, meta)
    assert acc == 1.0 and note == ""
    acc, _ = probe_accuracy(rng.normal(size=(len(meta), 8)), meta)
    assert 0.25 < acc < 0.75


def test_samples_never_split_across_halves():
    # each sample's cells are identical points: if a sample were in both halves, 5-NN would be perfect
    meta = _meta(["A", "B"], 6, 5)
    rng = np.random.default_rng(1)
    per_sample = rng.normal(size=(12, 4))
    X = np.repeat(per_sample, 5, axis=0)
    acc, _ = probe_accuracy(X, meta)
    assert acc < 0.95


def test_fallbacks_are_reported():
    meta = _meta(["A", "B"], 1, 6)  # one sample per group: cannot stratify
    X = np.random.default_rng(2).normal(size=(len(meta), 4))
    _, note = probe_accuracy(X, meta)
    assert "not stratified" in note or "no usable split" in note
    cells = pd.DataFrame({"GROUP": ["A"] * 10 + ["B"] * 10})
    acc, note = probe_accuracy(np.random.default_rng(3).normal(size=(20, 4)), cells)
    assert "no SAMPLE column" in note and 0 <= acc <= 1
