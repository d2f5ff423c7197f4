"""The study's UMAP figures (METHOD.md Step 2a and 2b), written atomically.

Each ``*_figure`` function computes the embedding, draws it (``*_plot``: a matplotlib
``Figure`` from an embedding, no UMAP), saves it and returns the Figure, so a caller or
a test can see what was written: legends, texts, axis limits.

What a reader needs on the figure itself: a legend for every encoding (colour = group,
marker = patient), what one point is, the numbers in a box beside the data (never on it),
and a view that an outlying cluster cannot squeeze: :func:`view_limits` zooms past a few
far points, which are then drawn as arrows on the edge and named in a note.
"""
from __future__ import annotations

import textwrap

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ..data.atomic import save_figure
from .tables import format_ci, format_patient_level

MARKERS = "osD^vP*Xhp<>8"
DPI = 110
#: at most this fraction of the points may be left out of the view, and only beyond an empty
#: gap at least MIN_GAP times as wide as what stays in view (an outlying cluster, not a tail)
MAX_OUT = 0.1
MIN_GAP = 0.25


def _umap(X, **kwargs):
    import warnings

    import umap  # imported lazily: slow to import (numba)

    n = len(X)
    kwargs.setdefault("n_neighbors", 15)
    kwargs["n_neighbors"] = max(2, min(kwargs["n_neighbors"], n - 1))
    with warnings.catch_warnings():  # "n_jobs overridden by random_state": expected, we seed
        warnings.filterwarnings("ignore", message=".*n_jobs.*", category=UserWarning)
        return umap.UMAP(**kwargs).fit_transform(X)


def _colour(k: int):
    return f"C{k % 10}"  # tab10, the group's position in the order


# --------------------------------------------------------------------------- the view

def _cut(s: np.ndarray, lo: int, hi: int, budget: int, low_side: bool) -> int:
    """The new ``lo`` (or ``hi``) index: past the widest gap, relative to the kept range,
    among the ``budget`` outermost points of that side, if that gap is at least MIN_GAP."""
    best, best_ratio = (lo if low_side else hi), MIN_GAP
    for step in range(1, budget + 1):
        if low_side:
            i = lo + step  # keep s[i:hi + 1]
            gap, rest = s[i] - s[i - 1], s[hi] - s[i]
        else:
            i = hi - step  # keep s[lo:i + 1]
            gap, rest = s[i + 1] - s[i], s[i] - s[lo]
        if rest > 0 and gap / rest >= best_ratio:
            best, best_ratio = i, gap / rest
    return best


def view_limits(values, margin: float = 0.05) -> tuple[float, float]:
    """``(low, high)`` of the view on one axis: the whole range, unless at most MAX_OUT of the
    points lie beyond an empty gap wider than MIN_GAP times the rest's range; then the rest.
    Plus ``margin`` of the range on each side."""
    s = np.sort(np.asarray(values, dtype=float))
    n = len(s)
    lo, hi = 0, n - 1
    for _ in range(2):  # each side's cut changes the other's kept range: settle both
        lo = _cut(s, lo, hi, int(MAX_OUT * n) - lo - (n - 1 - hi), low_side=True)
        hi = _cut(s, lo, hi, int(MAX_OUT * n) - lo - (n - 1 - hi), low_side=False)
    a, b = (s[lo], s[hi]) if n else (0.0, 1.0)
    pad = margin * (b - a) if b > a else 0.5
    return float(a - pad), float(b + pad)


def _outside_marker(x, y, xlim, ylim) -> str:
    if x < xlim[0] or x > xlim[1]:
        return "<" if x < xlim[0] else ">"
    return "v" if y < ylim[0] else "^"


def _inset(values, lim, by: float = 0.02):
    """``values`` clipped to just inside ``lim``: where an arrow for a point outside the view goes."""
    d = by * (lim[1] - lim[0])
    return np.clip(values, lim[0] + d, lim[1] - d)


def _scatter_in_view(ax, emb, masks: list, styles: list) -> list[int]:
    """Scatter ``emb[mask]`` with each style; zoom to :func:`view_limits`; a point outside the
    view is drawn as an arrow on the edge pointing its way. Returns, per mask, how many
    points are outside."""
    xlim, ylim = view_limits(emb[:, 0]), view_limits(emb[:, 1])
    inside = ((emb[:, 0] >= xlim[0]) & (emb[:, 0] <= xlim[1]) & (emb[:, 1] >= ylim[0]) & (emb[:, 1] <= ylim[1]))
    n_out = []
    for m, style in zip(masks, styles):
        ax.scatter(emb[m & inside, 0], emb[m & inside, 1], **style)
        out = emb[m & ~inside]
        arrows = np.array([_outside_marker(x, y, xlim, ylim) for x, y in out])
        for marker in sorted(set(arrows.tolist())):
            at = out[arrows == marker]
            ax.scatter(_inset(at[:, 0], xlim), _inset(at[:, 1], ylim), s=60, color=style["color"],
                       marker=marker, edgecolor="black", linewidth=0.5, zorder=4)
        n_out.append(len(out))
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_xlabel("UMAP1")
    ax.set_ylabel("UMAP2")
    return n_out


def _outside_note(n_out: dict, what: str) -> str:
    """``"3 aggregates outside the view (arrows on its edge): VEXAS[1] 3"``, or ""."""
    n_out = {k: v for k, v in n_out.items() if v}
    if not n_out:
        return ""
    return (f"{sum(n_out.values())} {what} outside the view (arrows on its edge point to them): "
            + ", ".join(f"{k} {v}" for k, v in n_out.items()))


# --------------------------------------------------------------------------- Step 2a

def consistency_umap_plot(emb, labels, order, title: str = "") -> Figure:
    """The encoder-test UMAP from its 2-d embedding: one colour per morphology group."""
    emb, labels = np.asarray(emb, dtype=float), np.asarray(labels)
    fig = Figure(figsize=(8, 6))
    ax = fig.subplots()
    masks = [labels == g for g in order]
    n_out = _scatter_in_view(ax, emb, masks, [{"s": 30, "color": _colour(k), "label": f"{g} (n={m.sum()})"}
                                              for k, (g, m) in enumerate(zip(order, masks))])
    fig.suptitle(title or "Encoder consistency: encodings by morphology")
    note = _outside_note(dict(zip(order, n_out)), "cells")
    ax.set_title("each point: one cell's encoding" + (f"\n{note}" if note else ""), fontsize=8, color="0.3")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=min(4, len(order)), fontsize=8,
              title="morphology group (colour)", title_fontsize=8)
    fig.tight_layout()
    return fig


def consistency_umap_figure(X, labels, order, path, title: str = "") -> Figure:
    """UMAP (n_neighbors=5, random_state=42) of L2-normalised encodings, coloured by group;
    saved to ``path``; the Figure is returned."""
    from sklearn.preprocessing import normalize

    emb = _umap(normalize(X), n_neighbors=5, random_state=42)
    fig = consistency_umap_plot(emb, labels, order, title)
    save_figure(fig, path, dpi=DPI)
    return fig


# --------------------------------------------------------------------------- Step 2b

def _metrics_text(result: dict) -> str:
    agg = result["aggregate_level"]
    text = (f"Mean ROC-AUC: {format_ci(agg['auc'])}\n"
            f"Mean sensitivity (%): {format_ci(agg['sensitivity'], True)}\n"
            f"Mean specificity (%): {format_ci(agg['specificity'], True)}")
    if result.get("patient_level"):
        text += "\nPatients: " + format_patient_level(result["patient_level"])
    return text


def _legends(side, groups, patients, group_of: dict) -> None:
    """Two legends in the side panel: colour = group, marker = patient."""
    n_pat = {g: sum(group_of[p] == g for p in patients) for g in groups}
    colour = side.legend([Patch(color=_colour(k)) for k in range(len(groups))],
                         [f"{g} ({n_pat[g]} patient{'s' * (n_pat[g] != 1)})" for g in groups],
                         loc="upper left", fontsize=8, title="group (colour)", title_fontsize=8,
                         alignment="left")
    side.add_artist(colour)
    marks = [Line2D([], [], ls="", marker=MARKERS[k % len(MARKERS)], color=_colour(groups.index(group_of[p])))
             for k, p in enumerate(patients)]
    side.legend(marks, patients, loc="upper left", bbox_to_anchor=(0, 0.8), fontsize=8,
                ncol=1 if len(patients) <= 24 else 2, title="patient (marker)", title_fontsize=8,
                alignment="left")


def aggregate_umap_plot(emb, owners, group_of: dict, groups, result: dict, title: str = "") -> Figure:
    """The Step 2b UMAP from its 2-d embedding: colour = group, marker = patient, the
    evaluation's numbers in a box under the plot, legends beside it."""
    emb, owners, groups = np.asarray(emb, dtype=float), np.asarray(owners), list(groups)
    patients = sorted(set(owners.tolist()))
    colours = [_colour(groups.index(group_of[p])) for p in patients]  # KeyError: a patient of no group
    fig = Figure(figsize=(10, 7.5), layout="constrained")
    grid = fig.add_gridspec(2, 2, width_ratios=[3.3, 1], height_ratios=[6, 1])
    ax, side, info = fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[:, 1]), fig.add_subplot(grid[1, 0])
    masks = [owners == p for p in patients]
    n_out = _scatter_in_view(ax, emb, masks, [{"s": 14, "color": c, "marker": MARKERS[k % len(MARKERS)],
                                               "alpha": 0.8, "label": p}
                                              for k, (p, c) in enumerate(zip(patients, colours))])
    p = result["parameters"]
    fig.suptitle(title or f"{result['positive']} vs {' + '.join(groups[:-1])}: patient aggregates")
    ax.set_title(f"each point: the median of {p['aggregate_size']} cells of one patient "
                 f"({p['aggregates']} per patient)", fontsize=9, color="0.3")
    side.axis("off")
    _legends(side, groups, patients, group_of)
    info.axis("off")
    note = _outside_note(dict(zip(patients, n_out)), "aggregates")
    info.text(0, 1, _metrics_text(result), va="top", fontsize=9, transform=info.transAxes,
              bbox=dict(boxstyle="round", facecolor="white", edgecolor="0.6"))
    if note:
        info.text(0.62, 1, textwrap.fill(note, 55), va="top", fontsize=8, color="0.3", transform=info.transAxes)
    return fig


def aggregate_umap_figure(A, owners, group_of: dict, groups, result: dict, path, title: str = "") -> Figure:
    """UMAP (random_state=42) of every patient's aggregates: colour = group, marker = patient;
    saved to ``path``; the Figure is returned."""
    emb = _umap(A, random_state=42)
    fig = aggregate_umap_plot(emb, owners, group_of, groups, result, title)
    save_figure(fig, path, dpi=DPI)
    return fig
