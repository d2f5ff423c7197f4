"""The study's UMAP figures: written where asked, at the size asked, with every group drawn.

The embedding itself is umap-learn's; its first call compiles numba code for about a
minute on this machine, so here a linear projection stands in for it, and the test checks
what the figure asks of UMAP (the study's settings, METHOD.md Step 2a/2b) and draws.
"""
from __future__ import annotations

import numpy as np
import pytest
from matplotlib import colors
from PIL import Image

from vexscreen.report import aggregate_umap_figure, consistency_umap_figure, figures
from vexscreen.study import ENCODER_TEST_GROUPS, published_encoder_test


@pytest.fixture
def umap_calls(monkeypatch):
    """Replace UMAP by the first two principal axes; record each call's data and settings."""
    calls = []

    def project(X, **kwargs):
        calls.append((np.asarray(X), kwargs))
        Xc = np.asarray(X, float) - np.mean(X, axis=0)
        return Xc @ np.linalg.svd(Xc, full_matrices=False)[2][:2].T

    monkeypatch.setattr(figures, "_umap", project)
    return calls


def _has_colour(img: np.ndarray, rgb, tol: int = 3) -> bool:
    return bool((np.abs(img[..., :3].astype(int) - np.asarray(rgb)).max(axis=2) <= tol).any())


def _tab10(k: int, alpha: float = 1.0):
    c = np.array(colors.to_rgb(f"C{k}")) * 255
    return alpha * c + (1 - alpha) * 255  # over the white axes


def test_consistency_umap_figure(tmp_path, umap_calls):
    enc = published_encoder_test("MO")
    order = list(ENCODER_TEST_GROUPS["MO"])
    path = tmp_path / "sub" / "consistency_umap.png"
    consistency_umap_figure(enc.X, enc.labels, order, path, title="MO")
    (X, kwargs), = umap_calls
    assert kwargs == {"n_neighbors": 5, "random_state": 42}  # the study's
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, rtol=1e-6)  # L2-normalised first
    assert sorted(p.name for p in path.parent.iterdir()) == ["consistency_umap.png"]  # no temporary left
    with Image.open(path) as im:
        assert (im.format, im.size) == ("PNG", (880, 660))  # 8 x 6 in at 110 dpi
        img = np.asarray(im.convert("RGB"))
    for k in range(len(order)):  # one colour per group, as in the legend
        assert _has_colour(img, _tab10(k)), order[k]
    assert not _has_colour(img, _tab10(len(order)))  # and no other group's


def test_aggregate_umap_figure(tmp_path, umap_calls):
    rng = np.random.default_rng(0)
    patients = ["MDS[1]", "MDS[2]", "VEXAS[1]", "VEXAS[2]"]
    owners = np.repeat(patients, 20)
    A = rng.normal(size=(len(owners), 8)) + 3 * np.char.startswith(owners.astype(str), "VEXAS")[:, None]
    ci = {"mean": 0.9, "low": 0.8, "high": 0.95}
    result = {"positive": "VEXAS", "aggregate_level": {"auc": ci, "sensitivity": ci, "specificity": ci},
              "patient_level": {"auc": 1.0, "p_value": 0.167, "leave_pair_out_auc": 1.0}}
    path = tmp_path / "agg.png"
    aggregate_umap_figure(A, owners, {p: p.split("[")[0] for p in patients}, ["MDS", "VEXAS"], result, path)
    (X, kwargs), = umap_calls
    assert kwargs == {"random_state": 42} and X.shape == A.shape
    with Image.open(path) as im:
        assert (im.format, im.size) == ("PNG", (990, 715))  # 9 x 6.5 in at 110 dpi
        img = np.asarray(im.convert("RGB"))
    assert _has_colour(img, _tab10(0, 0.8), tol=4) and _has_colour(img, _tab10(1, 0.8), tol=4)


def test_figure_of_unknown_patient_group_fails_without_a_file(tmp_path, umap_calls):
    owners = np.repeat(["A[1]", "B[1]"], 5)
    ci = {"mean": 0.5, "low": 0.4, "high": 0.6}
    result = {"positive": "B", "aggregate_level": {"auc": ci, "sensitivity": ci, "specificity": ci}}
    with pytest.raises(KeyError):
        aggregate_umap_figure(np.zeros((10, 3)) + np.arange(10)[:, None], owners, {"A[1]": "A"}, ["A", "B"],
                              result, tmp_path / "x.png")
    assert not list(tmp_path.iterdir())
