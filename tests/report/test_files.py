"""The one writer of consistency outputs: JSON + CSV, and the CI when there is one."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from vexscreen.report import consistency_record, write_consistency

ORDER = ["A", "B", "C"]
NAN = np.nan
M = np.array([[NAN, 0.9, 0.6], [NAN, NAN, 0.75], [NAN, NAN, NAN]])


def test_matrix_only(tmp_path):
    paths = write_consistency(tmp_path / "out", ORDER, M)
    assert [p.name for p in paths] == ["consistency.json", "consistency.csv"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["consistency.csv", "consistency.json"]
    data = json.loads(paths[0].read_text())
    assert data == {"groups": ORDER, "auc": [[None, 0.9, 0.6], [None, None, 0.75], [None, None, None]]}
    csv = pd.read_csv(paths[1])
    assert list(csv.columns) == ["GROUP", *ORDER] and list(csv["GROUP"]) == ORDER
    np.testing.assert_array_equal(csv[ORDER].to_numpy(), M)


def test_with_confidence_interval(tmp_path):
    low, high = M - 0.05, np.minimum(M + 0.05, 1.0)
    paths = write_consistency(tmp_path, ORDER, M, name="PN", low=low, high=high)
    assert [p.name for p in paths] == ["PN.json", "PN.csv", "PN_ci.csv"]
    data = json.loads(paths[0].read_text())
    assert data["auc_low"][0][1] == pytest.approx(0.85) and data["auc_high"][1][2] == pytest.approx(0.8)
    assert data["auc_low"][1][0] is None
    ci = pd.read_csv(paths[2])
    assert ci.to_dict("list") == {"GROUP_A": ["A", "A", "B"], "GROUP_B": ["B", "C", "C"],
                                  "AUC": [0.9, 0.6, 0.75], "AUC_LOW": pytest.approx([0.85, 0.55, 0.7]),
                                  "AUC_HIGH": pytest.approx([0.95, 0.65, 0.8])}


def test_shapes_checked_before_anything_is_written(tmp_path):
    with pytest.raises(ValueError, match="both low and high"):
        write_consistency(tmp_path, ORDER, M, low=M)
    with pytest.raises(ValueError, match=r"expected \(3, 3\)"):
        write_consistency(tmp_path, ORDER, M[:2, :2])
    with pytest.raises(ValueError, match="high has shape"):
        consistency_record(ORDER, M, low=M, high=M[:, :2])
    assert not list(tmp_path.iterdir())
