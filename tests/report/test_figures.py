"""The study's UMAP figures: written where asked, at the size asked, with every group drawn.

The embedding itself is umap-learn's; its first call compiles numba code for about a
minute on this machine, so here a linear projection stands in for it, and the test checks
what the figure asks of UMAP (the study's settings, METHOD.md Step 2a/2b) and draws.
"""
from __future__ import annotations

import numpy as np
import pytest
from matplotlib import colors
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.legend import Legend
from matplotlib.text import Text
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


def _result(positive="VEXAS", aggregates=20, aggregate_size=10) -> dict:
    """An evaluate() result, the parts the figure reads."""
    ci = {"mean": 0.9, "low": 0.8, "high": 0.95}
    return {"positive": positive, "parameters": {"aggregates": aggregates, "aggregate_size": aggregate_size},
            "aggregate_level": {"auc": ci, "sensitivity": ci, "specificity": ci},
            "patient_level": {"auc": 1.0, "p_value": 0.167, "leave_pair_out_auc": 1.0}}


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
    result = _result()
    path = tmp_path / "agg.png"
    aggregate_umap_figure(A, owners, {p: p.split("[")[0] for p in patients}, ["MDS", "VEXAS"], result, path)
    (X, kwargs), = umap_calls
    assert kwargs == {"random_state": 42} and X.shape == A.shape
    with Image.open(path) as im:
        assert (im.format, im.size) == ("PNG", (1100, 825))  # 10 x 7.5 in at 110 dpi
        img = np.asarray(im.convert("RGB"))
    assert _has_colour(img, _tab10(0, 0.8), tol=4) and _has_colour(img, _tab10(1, 0.8), tol=4)


def test_figure_of_unknown_patient_group_fails_without_a_file(tmp_path, umap_calls):
    owners = np.repeat(["A[1]", "B[1]"], 5)
    result = _result("B")
    with pytest.raises(KeyError):
        aggregate_umap_figure(np.zeros((10, 3)) + np.arange(10)[:, None], owners, {"A[1]": "A"}, ["A", "B"],
                              result, tmp_path / "x.png")
    assert not list(tmp_path.iterdir())


# --------------------------------------------------------------------------- what a reader needs

@pytest.fixture
def saved(monkeypatch):
    """The figures as they are handed to save_figure (what is written), with their paths."""
    written = []
    real = figures.save_figure

    def keep(fig, path, **kwargs):
        written.append((fig, path))
        return real(fig, path, **kwargs)

    monkeypatch.setattr(figures, "save_figure", keep)
    return written


def _legends(fig) -> dict:
    """{legend title: [entry texts]} of every legend of the figure."""
    found = [a for ax in fig.axes for a in ax.get_children() if isinstance(a, Legend)] + list(fig.legends)
    return {lg.get_title().get_text(): [t.get_text() for t in lg.get_texts()] for lg in found}


def _texts(fig) -> list[str]:
    return [t.get_text() for t in fig.findobj(Text)]


def _extent(artist, fig):
    return artist.get_window_extent(renderer=fig.canvas.get_renderer())


def _aggregates(rng, patients, n=20):
    owners = np.repeat(patients, n)
    return rng.normal(size=(len(owners), 6)) + 3 * np.char.startswith(owners.astype(str), "VEXAS")[:, None], owners


def test_aggregate_umap_is_written_with_its_legends_and_a_box_beside_the_data(tmp_path, umap_calls, saved):
    patients = ["MDS[1]", "MDS[2]", "UBA1-WT[1]", "VEXAS[1]", "VEXAS[2]"]
    A, owners = _aggregates(np.random.default_rng(1), patients)
    group_of = {p: p.split("[")[0] for p in patients}
    returned = aggregate_umap_figure(A, owners, group_of, ["MDS", "UBA1-WT", "VEXAS"],
                                     _result(aggregates=20, aggregate_size=10), tmp_path / "agg.png")
    (fig, path), = saved
    assert fig is returned and path == tmp_path / "agg.png"
    legends = _legends(fig)
    assert legends == {"group (colour)": ["MDS (2 patients)", "UBA1-WT (1 patient)", "VEXAS (2 patients)"],
                       "patient (marker)": patients}
    texts = _texts(fig)
    assert "each point: the median of 10 cells of one patient (20 per patient)" in texts
    assert any(t.startswith("Mean ROC-AUC: 0.90 [0.80-0.95]") for t in texts)
    FigureCanvasAgg(fig).draw()  # lay out as saved, then: nothing drawn over the data
    data = fig.axes[0]
    assert data.get_xlabel() == "UMAP1" and data.get_ylabel() == "UMAP2"
    box, = [t for t in fig.findobj(Text) if t.get_text().startswith("Mean ROC-AUC")]
    covering = [a for a in [box, *[lg for ax in fig.axes for lg in ax.get_children() if isinstance(lg, Legend)]]
                if _extent(a, fig).overlaps(_extent(data, fig))]
    assert not covering
    # the group legend's colours are the points' colours
    handles = [lg for ax in fig.axes for lg in ax.get_children() if isinstance(lg, Legend)]
    group_legend, = [lg for lg in handles if lg.get_title().get_text() == "group (colour)"]
    assert [colors.to_hex(h.get_facecolor()) for h in group_legend.legend_handles] == \
        [colors.to_hex(f"C{k}") for k in range(3)]


def test_an_outlying_cluster_does_not_squeeze_the_view(tmp_path):
    rng = np.random.default_rng(2)
    patients = ["MDS[1]", "MDS[2]", "VEXAS[1]", "VEXAS[2]"]
    owners = np.repeat(patients, 50)
    emb = rng.normal(size=(200, 2))
    far = np.flatnonzero(owners == "VEXAS[1]")[:8]  # 4 % of the points, 40 units away
    emb[far] += [40, 0]
    fig = figures.aggregate_umap_plot(emb, owners, {p: p.split("[")[0] for p in patients}, ["MDS", "VEXAS"],
                                      _result(aggregates=50))
    ax = fig.axes[0]
    lo, hi = ax.get_xlim()
    rest = np.delete(emb, far, axis=0)
    assert hi < 10 and lo <= rest[:, 0].min() and hi >= rest[:, 0].max()  # the rest fills the width
    assert (rest[:, 0].max() - rest[:, 0].min()) / (hi - lo) > 0.85
    assert "8 aggregates outside the view (arrows on its edge point to them): VEXAS[1] 8" in \
        " ".join(t.replace("\n", " ") for t in _texts(fig))
    arrows = [c for c in ax.collections if len(c.get_offsets()) == 8]
    assert arrows and np.all(np.asarray(arrows[0].get_offsets())[:, 0] < hi)  # drawn inside, on the edge
    # with no outlier, everything is in view and nothing is noted
    fig = figures.aggregate_umap_plot(rest, np.delete(owners, far), {p: p.split("[")[0] for p in patients},
                                      ["MDS", "VEXAS"], _result(aggregates=50))
    assert not any("outside the view" in t for t in _texts(fig))


@pytest.mark.parametrize("cloud", ["normal", "uniform", "two clusters"])
def test_view_limits_keep_every_point_of_a_cloud(cloud):
    rng = np.random.default_rng(3)
    v = {"normal": rng.normal(size=2000), "uniform": rng.uniform(size=2000),
         "two clusters": np.r_[rng.normal(0, 1, 1000), rng.normal(20, 1, 1000)]}[cloud]
    lo, hi = figures.view_limits(v)
    assert lo < v.min() and hi > v.max()


def test_view_limits_leave_out_a_few_far_points_only():
    rng = np.random.default_rng(4)
    core = rng.uniform(0, 10, 900)
    assert figures.view_limits(np.r_[core, np.full(90, -50.0)])[0] > -1  # 9 %: zoomed past them
    assert figures.view_limits(np.r_[core, np.full(90, 60.0)])[1] < 11
    lo, hi = figures.view_limits(np.r_[core, np.full(120, 60.0)])  # 12 %: a cluster of the view, kept
    assert lo < 0 and hi > 60
    v = np.r_[core, np.full(60, -50.0), np.full(60, 60.0)]  # 6 % each side: one side is left out, not both
    lo, hi = figures.view_limits(v)
    assert np.mean((v < lo) | (v > hi)) <= figures.MAX_OUT and (lo < -50 or hi > 60)


def test_consistency_umap_is_written_with_its_legend(tmp_path, umap_calls, saved):
    enc = published_encoder_test("LY")
    order = list(ENCODER_TEST_GROUPS["LY"])
    returned = consistency_umap_figure(enc.X, enc.labels, order, tmp_path / "c.png")
    (fig, _), = saved
    assert fig is returned
    counts = {g: int((np.asarray(enc.labels) == g).sum()) for g in order}
    assert _legends(fig) == {"morphology group (colour)": [f"{g} (n={counts[g]})" for g in order]}
    assert "each point: one cell's encoding" in _texts(fig)
    ax = fig.axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("UMAP1", "UMAP2")


def _screening_result() -> dict:
    """The parts of a screening result the report's figures read."""
    classes = ["MDS", "UBA1-WT", "VEXAS"]
    scores = {"MDS": [0.1, 0.2, 0.3], "UBA1-WT": [0.2, 0.4], "VEXAS": [0.7, 0.9]}
    return {"probability": 0.8, "interval": [0.7, 0.9],
            "reference": {"classes": classes, "scores": scores, "threshold": 0.5,
                          "cell_type_scores": {"PN": scores, "MO": scores}},
            "cell_types": {"PN": {"probability": 0.85, "interval": [0.8, 0.9], "n_cells": 40},
                           "MO": {"probability": 0.6, "interval": [0.5, 0.7], "n_cells": 12}}}


def test_screening_figures_have_legends_and_axis_labels():
    from vexscreen.report.screening import cell_type_plot, score_plot

    r = _screening_result()
    fig = score_plot(r)
    ax, = fig.axes
    assert ax.get_xlabel().startswith("patient score: probability of VEXAS") and ax.get_ylabel() == "reference class"
    assert _legends(fig) == {"": ["a reference patient (colour: its class)", "threshold 0.5",
                                  "this patient: 0.80 [0.70-0.90]"]}
    fig = cell_type_plot(r)
    assert [a.get_xlabel() for a in fig.axes] == ["probability of VEXAS"] * 2
    assert fig.axes[0].get_ylabel() == "reference class"
    assert _legends(fig) == {"": ["a reference patient (colour: its class)",
                                  "this patient (each panel: its cell type alone)"]}
    FigureCanvasAgg(fig).draw()
    legend, = fig.legends
    assert not any(_extent(legend, fig).overlaps(_extent(a, fig)) for a in fig.axes)
    r["reference"]["cell_type_scores"] = {}
    assert cell_type_plot(r) is None
