"""The study's per-epoch probe: sample-level half splits, 5-NN accuracy, honest fallbacks."""
import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier

from vexscreen.encoder.probe import l2_normalise, probe_accuracy


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


def test_matches_method_step1_written_out():
    """Samples halved (stratified by group, seed i), 5-NN fitted on one half's cells, accuracy on the other."""
    meta = _meta(["A", "B", "C"], 4, 6)
    X = np.random.default_rng(5).normal(size=(len(meta), 6))
    X[:, 0] += meta["GROUP"].map({"A": 0.0, "B": 0.7, "C": 1.4}).to_numpy()
    keys = (meta["GROUP"] + "/" + meta["PATIENT"] + "/" + meta["SAMPLE"]).to_numpy()
    samples, first = np.unique(keys, return_index=True)
    groups, Xn = meta["GROUP"].to_numpy(), l2_normalise(X)
    accs = []
    for seed in range(10):
        train_s, _ = train_test_split(samples, train_size=0.5, random_state=seed, shuffle=True,
                                      stratify=groups[first])
        train = np.isin(keys, train_s)
        knn = KNeighborsClassifier(n_neighbors=5).fit(Xn[train], groups[train])
        accs.append(float((knn.predict(Xn[~train]) == groups[~train]).mean()))
    assert probe_accuracy(X, meta) == (float(np.mean(accs)), "")


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
    acc, note = probe_accuracy(X, meta)
    assert "fewer than 2 samples: sample split not stratified" in note
    assert acc == 0.0  # one sample per side: the test half's group is never in training
    cells = pd.DataFrame({"GROUP": ["A"] * 10 + ["B"] * 10})
    X = np.random.default_rng(3).normal(size=(20, 4))
    acc, note = probe_accuracy(X, cells)
    assert "no SAMPLE column" in note
    Xn, y = l2_normalise(X), cells["GROUP"].to_numpy()
    expected = []
    for seed in range(10):
        tr, te = train_test_split(np.arange(20), train_size=0.5, random_state=seed, shuffle=True, stratify=y)
        knn = KNeighborsClassifier(n_neighbors=5).fit(Xn[tr], y[tr])
        expected.append(float((knn.predict(Xn[te]) == y[te]).mean()))
    assert acc == float(np.mean(expected))
    assert probe_accuracy(X, cells.assign(GROUP="A"))[1] == "probe needs at least 2 groups"
