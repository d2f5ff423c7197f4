"""Encoder consistency (Step 2a) on the study's published encodings."""
import json

import numpy as np
import pytest

from vexscreen.cli import main
from vexscreen.data import load_encodings
from vexscreen.evaluation import consistency_matrix
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
def test_reproduces_published_tables(paper_dir, cell_type):
    enc = load_encodings(paper_dir / cell_type)
    order, M = consistency_matrix(enc.X, enc.groups, ENCODER_TEST_GROUPS[cell_type])
    n = len(order)
    upper = M[np.triu_indices(n, 1)]
    assert M.shape == (n, n)
    assert np.isnan(M[np.tril_indices(n)]).all()
    assert ((upper >= 0) & (upper <= 1)).all()
    np.testing.assert_allclose(upper, PUBLISHED[cell_type], atol=5e-7, rtol=0)


def test_reversed_order_gives_transposed_matrix(paper_dir):
    enc = load_encodings(paper_dir / "LY")
    order = list(ENCODER_TEST_GROUPS["LY"])
    _, M = consistency_matrix(enc.X, enc.groups, order)
    _, R = consistency_matrix(enc.X, enc.groups, order[::-1])
    n = len(order)
    for i in range(n):
        for j in range(i + 1, n):
            assert R[n - 1 - j, n - 1 - i] == pytest.approx(M[i, j], abs=1e-12)


def test_cli_writes_json_csv(paper_dir, tmp_path, capsys):
    out = tmp_path / "mo"
    assert main(["consistency", str(paper_dir / "MO"), "--out", str(out), "--no-plots"]) == 0
    data = json.loads((out / "consistency.json").read_text())
    # without --groups: order of first appearance in the metadata
    assert data["groups"] == ["INCLUSIONS", "NOINCLUSIONS"]
    assert data["auc"][0][0] is None and data["auc"][1][0] is None
    assert data["auc"][0][1] == pytest.approx(0.937111, abs=5e-7)
    assert (out / "consistency.csv").read_text().splitlines()[0] == "GROUP,INCLUSIONS,NOINCLUSIONS"
    assert "0.937111" in capsys.readouterr().out


def test_cli_unknown_group(paper_dir, tmp_path, capsys):
    assert main(["consistency", str(paper_dir / "MO"), "--groups", "INCLUSIONS,VACUOLES",
                 "--out", str(tmp_path), "--no-plots"]) == 2
    assert "VACUOLES" in capsys.readouterr().err


def test_too_few_cells_is_a_clear_error():
    from vexscreen.exceptions import InputError

    X = np.random.default_rng(0).normal(size=(6, 4)).astype(np.float32)
    labels = np.array(["A", "A", "A", "B", "B", "B"])
    with pytest.raises(InputError, match="needs at least 10 cells"):
        consistency_matrix(X, labels, ["A", "B"])
