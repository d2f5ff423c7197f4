"""The shared k-NN half-split loop (METHOD.md Steps 1 and 2a)."""
import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier

from vexscreen.evaluation import half_splits, knn_split_scores


def _data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.array(["A", "B"] * (n // 2))
    X = rng.normal(size=(n, 5)) + (labels == "B")[:, None] * 0.8
    return X, labels


def test_matches_the_study_loop_written_out():
    X, labels = _data()
    y = (labels == "B").astype(int)
    expected_auc, expected_acc = [], []
    for n in range(10):
        X_tr, X_te, y_tr, y_te = train_test_split(X, y, train_size=0.5, random_state=n, shuffle=True,
                                                  stratify=labels)
        knn = KNeighborsClassifier(n_neighbors=5).fit(X_tr, y_tr)
        expected_auc.append(roc_auc_score(y_te, knn.predict_proba(X_te)[:, 1]))
        expected_acc.append(float((knn.predict(X_te) == y_te).mean()))
    splits = half_splits(len(X), stratify=labels)
    assert knn_split_scores(X, y, splits, scoring="roc_auc") == expected_auc
    assert knn_split_scores(X, y, splits, scoring="accuracy") == expected_acc


def test_splits_are_stratified_halves_and_k_shrinks_to_the_training_set():
    X, labels = _data(n=12)
    for train, test in half_splits(12, stratify=labels, n_splits=3):
        assert sorted(np.r_[train, test]) == list(range(12)) and len(train) == 6
        assert (labels[train] == "A").sum() == 3
    tiny = [(np.array([0, 1]), np.array([2, 3]))]  # 2 training cells: k = 2 (k = 5 would raise)
    knn = KNeighborsClassifier(n_neighbors=2).fit(X[:2], labels[:2])
    assert knn_split_scores(X, labels, tiny) == [float((knn.predict(X[2:4]) == labels[2:4]).mean())]
    with pytest.raises(ValueError, match="scoring"):
        knn_split_scores(X, labels, tiny, scoring="f1")
