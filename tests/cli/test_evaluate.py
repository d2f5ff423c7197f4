"""evaluate names the patients with fewer cells than an aggregate draws, and --min-cells leaves
patients out, listing them (output and evaluation.json)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from vexscreen.cli import main
from vexscreen.data import save_encodings
from vexscreen.data.synthetic import simple_structure, synthetic_encodings

FAST = ["--iterations", "2", "--aggregates", "10", "--no-plots", "--no-progress"]


@pytest.fixture
def encodings(tmp_path):
    """4 + 4 patients of 40 cells, but VEXAS[1] keeps only 3 cells."""
    enc = synthetic_encodings(simple_structure({"UBA1-WT": 4, "VEXAS": 4}, cells_per_sample=20), dim=16,
                              signal=1.0, patient_effect=0.3, seed=0)
    small = np.flatnonzero(enc.patients == "VEXAS[1]")
    enc = enc.subset(~np.isin(np.arange(len(enc)), small[3:]))
    save_encodings(tmp_path / "enc", enc.X, enc.meta)
    return tmp_path / "enc"


def _evaluate(encodings, out, *extra):
    assert main(["evaluate", str(encodings), "--groups", "UBA1-WT,VEXAS", "--out", str(out), *FAST, *extra]) == 0
    return json.loads((out / "evaluation.json").read_text())


def test_a_patient_smaller_than_an_aggregate_is_named(encodings, tmp_path, capsys):
    result = _evaluate(encodings, tmp_path / "o", "--aggregate-size", "10")
    out = capsys.readouterr().out
    assert "note: 1 patient(s) have fewer cells than --aggregate-size 10" in out and "VEXAS[1] (3 cells)" in out
    assert result["small_patients"] == {"VEXAS[1]": 3} and result["excluded_patients"] == {}
    assert result["n_patients"] == {"UBA1-WT": 4, "VEXAS": 4}
    assert result["parameters"]["min_cells"] == 0


def test_min_cells_leaves_patients_out_and_lists_them(encodings, tmp_path, capsys):
    result = _evaluate(encodings, tmp_path / "o", "--min-cells", "5")
    out = capsys.readouterr().out
    assert "left out 1 patient(s) with fewer than 5 cells (--min-cells): VEXAS[1] (3 cells)" in out
    assert "note:" not in out
    assert result["excluded_patients"] == {"VEXAS[1]": 3} and result["small_patients"] == {}
    assert result["n_patients"] == {"UBA1-WT": 4, "VEXAS": 3}
    assert "VEXAS[1]" not in result["patient_level"]["scores"]
    assert all("VEXAS[1]" not in it["train_patients"] + it["test_patients"] for it in result["iterations"])


def test_min_cells_that_empties_a_group_is_one_line(encodings, tmp_path, capsys):
    assert main(["evaluate", str(encodings), "--groups", "UBA1-WT,VEXAS", "--out", str(tmp_path / "o"), *FAST,
                 "--min-cells", "1000"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "fewer than 1000 cells" in err
