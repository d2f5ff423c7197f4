"""The study's UMAP figures (METHOD.md Step 2a and 2b), written atomically."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ..data.atomic import save_figure  # noqa: E402
from .tables import format_ci, format_patient_level  # noqa: E402

MARKERS = "osD^vP*Xhp<>8"


def _umap(X, **kwargs):
    import warnings

    import umap  # imported lazily: slow to import (numba)

    n = len(X)
    kwargs.setdefault("n_neighbors", 15)
    kwargs["n_neighbors"] = max(2, min(kwargs["n_neighbors"], n - 1))
    with warnings.catch_warnings():  # "n_jobs overridden by random_state": expected, we seed
        warnings.filterwarnings("ignore", message=".*n_jobs.*", category=UserWarning)
        return umap.UMAP(**kwargs).fit_transform(X)


def consistency_umap_figure(X, labels, order, path, title: str = "") -> None:
    """UMAP (n_neighbors=5, random_state=42) of L2-normalised encodings, coloured by group."""
    from sklearn.preprocessing import normalize

    emb = _umap(normalize(X), n_neighbors=5, random_state=42)
    fig, ax = plt.subplots(figsize=(8, 6))
    cmap = plt.get_cmap("tab10")
    labels = np.asarray(labels)
    for k, g in enumerate(order):
        m = labels == g
        ax.scatter(emb[m, 0], emb[m, 1], s=30, color=cmap(k % 10), label=f"{g} (n={m.sum()})")
    ax.set_xlabel("UMAP1")
    ax.set_ylabel("UMAP2")
    ax.set_title(title or "Encoder consistency: encodings by morphology")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=min(4, len(order)), fontsize=8)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)


def aggregate_umap_figure(A, owners, group_of: dict, groups, result: dict, path,
                          title: str = "") -> None:
    """UMAP (random_state=42) of every patient's aggregates: colour = group, marker = patient."""
    emb = _umap(A, random_state=42)
    fig, ax = plt.subplots(figsize=(9, 6.5))
    cmap = plt.get_cmap("tab10")
    owners = np.asarray(owners)
    patients = sorted(set(owners.tolist()))
    for k, p in enumerate(patients):
        m = owners == p
        gi = list(groups).index(group_of[p])
        ax.scatter(emb[m, 0], emb[m, 1], s=14, color=cmap(gi % 10), marker=MARKERS[k % len(MARKERS)],
                   label=f"{p}", alpha=0.8)
    agg = result["aggregate_level"]
    text = (f"Mean ROC-AUC: {format_ci(agg['auc'])}\n"
            f"Mean sensitivity (%): {format_ci(agg['sensitivity'], True)}\n"
            f"Mean specificity (%): {format_ci(agg['specificity'], True)}")
    if result.get("patient_level"):
        text += "\nPatients: " + format_patient_level(result["patient_level"])
    ax.text(0.02, 0.98, text, transform=ax.transAxes, va="top", fontsize=9,
            bbox=dict(boxstyle="round", facecolor="white", alpha=0.85))
    ax.set_xlabel("UMAP1")
    ax.set_ylabel("UMAP2")
    ax.set_title(title or f"{result['positive']} vs {' + '.join(groups[:-1])}: patient aggregates")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, title="patient")
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)
