"""Encoder consistency (Step 2a) on the study's published encodings (the copy bundled in the package)."""
import json

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from vexscreen.cli import main
from vexscreen.data import load_encodings
from vexscreen.evaluation import consistency_ci, consistency_matrix
from vexscreen.evaluation.consistency import _weighted_auc
from vexscreen.exceptions import InputError
from vexscreen.study import ENCODER_TEST_GROUPS

# The study's printed tables (fchabrun/VEXAS-BloodSmear, "Phenotypic prediction.ipynb",
# outputs of EncoderTestClassification), upper triangle, row by row.
PUBLISHED = {
    "PN": [0.918651, 1.000000, 0.955714, 1.000000, 0.964935, 0.967411,
           0.959568, 0.916250, 0.975731, 0.994444, 0.993750,
           0.999167, 0.833041, 1.000000, 1.000000,
           0.991842, 0.840909, 0.833974,
           0.999761, 0.999342,
           0.580398],
    "LY": [0.921111, 0.996889, 0.999778, 0.982222, 0.997556, 0.882222],
    "MO": [0.937111],
}


@pytest.mark.parametrize("cell_type", ["PN", "LY", "MO"])
def test_reproduces_published_tables(bundled_paper, cell_type):
    enc = load_encodings(bundled_paper / cell_type)
    order, M = consistency_matrix(enc.X, enc.labels, ENCODER_TEST_GROUPS[cell_type])
    n = len(order)
    assert order == list(ENCODER_TEST_GROUPS[cell_type]) and M.shape == (n, n)
    assert np.isnan(M[np.tril_indices(n)]).all()
    np.testing.assert_allclose(M[np.triu_indices(n, 1)], PUBLISHED[cell_type], atol=5e-7, rtol=0)


def test_reversed_order_gives_transposed_matrix(bundled_paper):
    enc = load_encodings(bundled_paper / "LY")
    order = list(ENCODER_TEST_GROUPS["LY"])
    _, M = consistency_matrix(enc.X, enc.labels, order)
    _, R = consistency_matrix(enc.X, enc.labels, order[::-1])
    n = len(order)
    for i in range(n):
        for j in range(i + 1, n):
            assert R[n - 1 - j, n - 1 - i] == pytest.approx(M[i, j], abs=1e-12)


def test_weighted_auc_is_roc_auc_with_sample_weights():
    """A bootstrap resample as integer weights: the AUC of the duplicated cells, ties counted 1/2."""
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 15)
    score = rng.integers(0, 6, size=30) / 5  # 5-NN probabilities: many ties
    W = rng.multinomial(30, np.full(30, 1 / 30), size=50).astype(float)
    W[:, y == 1] += 1  # both classes present in every row
    expected = [roc_auc_score(y, score, sample_weight=w) for w in W]
    np.testing.assert_allclose(_weighted_auc(y, score, W), expected, rtol=0, atol=1e-12)
    assert np.isnan(_weighted_auc(y, score, np.where(y == 1, 1.0, 0.0)[None, :]))[0]


def test_ci_brackets_the_auc_is_seeded_and_ignores_group_order(bundled_paper):
    enc = load_encodings(bundled_paper / "LY")
    order = list(ENCODER_TEST_GROUPS["LY"])
    _, M = consistency_matrix(enc.X, enc.labels, order)
    low, high = consistency_ci(enc.X, enc.labels, order, n_resamples=500)
    n = len(order)
    iu = np.triu_indices(n, 1)
    assert np.isnan(low[np.tril_indices(n)]).all() and np.isnan(high[np.tril_indices(n)]).all()
    assert (low[iu] <= M[iu]).all() and (M[iu] <= high[iu]).all()
    assert (low[iu] < high[iu]).any()  # not a degenerate interval everywhere
    again = consistency_ci(enc.X, enc.labels, order, n_resamples=500)
    assert np.array_equal(low, again[0], equal_nan=True) and np.array_equal(high, again[1], equal_nan=True)
    other = consistency_ci(enc.X, enc.labels, order, n_resamples=500, random_state=1)
    assert not np.array_equal(low, other[0], equal_nan=True)
    r_low, r_high = consistency_ci(enc.X, enc.labels, order[::-1], n_resamples=500)
    np.testing.assert_array_equal(r_low[::-1, ::-1].T, low)
    np.testing.assert_array_equal(r_high[::-1, ::-1].T, high)


def test_ci_of_indistinguishable_groups_contains_chance():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(120, 8)).astype(np.float32)
    labels = np.repeat(["A", "B"], 60)
    (low,), (high,) = (m[:1, 1:] for m in consistency_ci(X, labels, ["A", "B"]))
    assert low[0] < 0.5 < high[0] and high[0] - low[0] < 0.4
    with pytest.raises(InputError, match="confidence level"):
        consistency_ci(X, labels, confidence_level=95)


def test_cli_writes_json_csv(bundled_paper, tmp_path, capsys):
    out = tmp_path / "mo"
    assert main(["consistency", str(bundled_paper / "MO"), "--out", str(out), "--no-plots"]) == 0
    data = json.loads((out / "consistency.json").read_text())
    # without --groups: order of first appearance in the metadata
    assert data["groups"] == ["INCLUSIONS", "NOINCLUSIONS"]
    assert data["auc"][0][0] is None and data["auc"][1][0] is None
    assert data["auc"][0][1] == pytest.approx(0.937111, abs=5e-7)
    assert (out / "consistency.csv").read_text().splitlines()[0] == "GROUP,INCLUSIONS,NOINCLUSIONS"
    assert "0.937111" in capsys.readouterr().out


def test_cli_unknown_group(bundled_paper, tmp_path, capsys):
    assert main(["consistency", str(bundled_paper / "MO"), "--groups", "INCLUSIONS,VACUOLES",
                 "--out", str(tmp_path), "--no-plots"]) == 2
    assert "VACUOLES" in capsys.readouterr().err


def test_too_few_cells_is_a_clear_error():
    X = np.random.default_rng(0).normal(size=(6, 4)).astype(np.float32)
    labels = np.array(["A", "A", "A", "B", "B", "B"])
    with pytest.raises(InputError, match="needs at least 10 cells"):
        consistency_matrix(X, labels, ["A", "B"])
    with pytest.raises(InputError, match="needs at least 10 cells"):
        consistency_ci(X, labels, ["A", "B"])
