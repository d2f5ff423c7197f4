"""Feature recovery: a feature written into the encodings is found; one that is absent is not."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from vexscreen.exceptions import InputError
from vexscreen.phantom.recovery import MIN_POSITIVES, feature_recovery, phantom_feature_recovery
from vexscreen.report import format_recovery


def _phantom(seed=0, n_patients=6, cells=60):
    rng = np.random.default_rng(seed)
    rows = []
    for g in ("VEXAS", "MDS", "UBA1-WT"):
        for p in range(n_patients):
            for c in range(cells):
                rows.append({"set": "cohort", "cell_type": "PN", "group": g, "patient": f"{g}[{p}]",
                             "path": f"PN/{g}/{g}[{p}]/s/cell_{c:05d}.png",
                             "n_vacuoles_drawn": int(g == "VEXAS" and rng.random() < 0.4),
                             "nucleus_shape": "pelger" if g == "MDS" and rng.random() < 0.3 else "segmented",
                             "granulation": "high" if g == "UBA1-WT" and rng.random() < 0.3 else "normal"})
    truth = pd.DataFrame(rows)
    meta = pd.DataFrame({"IMAGE": truth["path"].str.slice(3), "GROUP": truth["group"],
                         "PATIENT": truth["patient"]})
    return truth, meta, rng


def test_feature_in_the_encodings_is_found_and_absent_one_is_not():
    truth, meta, rng = _phantom()
    X = rng.normal(size=(len(truth), 16))
    X[:, 3] += 1.5 * truth["n_vacuoles_drawn"].to_numpy()  # vacuoles visible, nothing else
    rows = {r["feature"]: r for r in feature_recovery(X, meta, truth, "PN")}
    assert set(rows) == {"vacuoles", "pseudo-Pelger nucleus", "hypogranular", "toxic granulation"}
    vac = rows["vacuoles"]
    assert vac["auc"] > 0.8 and vac["folds"] == 5
    assert (vac["group"], vac["cells"], vac["patients"]) == ("VEXAS", 6 * 60, 6)
    assert vac["positives"] == int(truth["n_vacuoles_drawn"].sum())
    assert abs(rows["pseudo-Pelger nucleus"]["auc"] - 0.5) < 0.1
    assert abs(rows["toxic granulation"]["auc"] - 0.5) < 0.1
    # no cell is hypogranular in this truth: too few positives, no score, and the table says so
    assert rows["hypogranular"]["auc"] is None and rows["hypogranular"]["positives"] == 0
    # shuffled rows: recovery follows the metadata order, not the truth order (misaligned rows
    # would put the vacuole signal on the wrong cells and score near 0.5)
    perm = rng.permutation(len(meta))
    rows2 = {r["feature"]: r for r in feature_recovery(X[perm], meta.iloc[perm].reset_index(drop=True),
                                                       truth, "PN")}
    assert rows2["vacuoles"]["auc"] > 0.8
    assert rows2["vacuoles"]["auc"] == pytest.approx(vac["auc"], abs=0.05)
    table = format_recovery(list(rows.values())).splitlines()
    assert len(table) == 1 + 4
    assert table[1].split() == ["PN", "vacuoles", "VEXAS", "360", str(vac["positives"]), f"{vac['auc']:.2f}"]
    assert table[3].split()[-1] == "n/a"


def test_group_confound_alone_does_not_score():
    """Within the carrying group only: a dimension that marks VEXAS patients says nothing of vacuoles."""
    truth, meta, rng = _phantom(seed=1)
    X = rng.normal(size=(len(truth), 8))
    X[:, 0] += 3.0 * (truth["group"] == "VEXAS").to_numpy()
    rows = {r["feature"]: r for r in feature_recovery(X, meta, truth, "PN")}
    assert abs(rows["vacuoles"]["auc"] - 0.5) < 0.1


def test_too_few_patients_or_cells_give_no_score():
    # one patient per group: no patient-grouped fold is possible
    truth, meta, rng = _phantom(n_patients=1, cells=60)
    rows = feature_recovery(rng.normal(size=(len(meta), 4)), meta, truth, "PN")
    assert len(rows) == 4 and all(r["auc"] is None and "too few" in r["note"] for r in rows)
    # enough patients, too few cells with the feature
    truth, meta, rng = _phantom(n_patients=4, cells=4)
    rows = {r["feature"]: r for r in feature_recovery(rng.normal(size=(len(meta), 4)), meta, truth, "PN")}
    assert rows["vacuoles"]["positives"] < MIN_POSITIVES and rows["vacuoles"]["auc"] is None


def test_mismatched_encodings_are_refused():
    truth, meta, rng = _phantom(n_patients=2, cells=10)
    bad = meta.copy()
    bad.loc[0, "IMAGE"] = "VEXAS/nobody/s/cell_99999.png"
    with pytest.raises(InputError, match="not in truth.csv"):
        feature_recovery(rng.normal(size=(len(meta), 4)), bad, truth, "PN")
    with pytest.raises(InputError, match="encodings for"):
        feature_recovery(rng.normal(size=(len(meta) - 1, 4)), meta, truth, "PN")


def test_folder_without_truth_has_nothing_to_recover(tmp_path):
    assert phantom_feature_recovery(tmp_path, {"PN": tmp_path / "nowhere"}) == []
