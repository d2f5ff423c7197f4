"""The morphology probe: a feature written into the encodings is found; one that is absent is not."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from vexscreen.exceptions import InputError
from vexscreen.phantom.probe import format_probe, morphology_probe


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
    rows = {r["feature"]: r for r in morphology_probe(X, meta, truth, "PN")}
    assert rows["vacuoles"]["auc"] > 0.8
    assert rows["vacuoles"]["group"] == "VEXAS" and rows["vacuoles"]["cells"] == 6 * 60
    assert abs(rows["pseudo-Pelger nucleus"]["auc"] - 0.5) < 0.1
    assert abs(rows["toxic granulation"]["auc"] - 0.5) < 0.1
    # shuffled rows: the probe follows the metadata order, not the truth order
    perm = rng.permutation(len(meta))
    rows2 = {r["feature"]: r for r in morphology_probe(X[perm], meta.iloc[perm].reset_index(drop=True),
                                                       truth, "PN")}
    assert rows2["vacuoles"]["auc"] == pytest.approx(rows["vacuoles"]["auc"], abs=0.05)
    assert "vacuoles" in format_probe(list(rows.values()))


def test_group_confound_alone_does_not_score():
    """Within the carrying group only: a dimension that marks VEXAS patients says nothing of vacuoles."""
    truth, meta, rng = _phantom(seed=1)
    X = rng.normal(size=(len(truth), 8))
    X[:, 0] += 3.0 * (truth["group"] == "VEXAS").to_numpy()
    rows = {r["feature"]: r for r in morphology_probe(X, meta, truth, "PN")}
    assert abs(rows["vacuoles"]["auc"] - 0.5) < 0.1


def test_too_few_cells_and_mismatch():
    truth, meta, rng = _phantom(n_patients=1, cells=10)
    rows = morphology_probe(rng.normal(size=(len(meta), 4)), meta, truth, "PN")
    assert all(r["auc"] is None and r["note"] for r in rows)
    assert "n/a" in format_probe(rows)
    bad = meta.copy()
    bad.loc[0, "IMAGE"] = "VEXAS/nobody/s/cell_99999.png"
    with pytest.raises(InputError, match="not in truth.csv"):
        morphology_probe(rng.normal(size=(len(meta), 4)), bad, truth, "PN")
