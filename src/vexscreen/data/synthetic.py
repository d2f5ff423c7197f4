"""Synthetic encoding sets with known truth, for tests, the demo and benchmarks.

Cells of patient ``p`` in group ``g``: ``mu + signal * s_g + u_p + e``, with a
per-patient offset ``u_p`` (``patient_effect``: the patient/smear effects that
make cell-level splits leak) and a group shift ``s_g`` only for the groups in ``signal_classes``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .encodings import EncodingSet


def synthetic_encodings(structure: pd.DataFrame, *, dim: int = 64, signal: float = 1.0,
                        signal_classes=("VEXAS",), patient_effect: float = 1.0,
                        noise: float = 1.0, scale: float = 1.0, seed: int = 0) -> EncodingSet:
    """Encodings following ``structure`` (columns GROUP, PATIENT, SAMPLE, N_CELLS).

    ``scale`` multiplies cells per sample (at least 1). Shifts are along random
    directions of norm ``signal`` / ``patient_effect`` (relative to per-cell
    noise of norm about ``noise``). Seeded: the same arguments give the same set.
    """
    rng = np.random.default_rng(seed)
    mu = rng.normal(size=dim)
    mu *= 3.0 / np.linalg.norm(mu)

    def direction():
        v = rng.normal(size=dim)
        return v / np.linalg.norm(v)

    shift = {g: signal * direction() for g in signal_classes}
    rows, blocks = [], []
    offsets = {}
    for rec in structure.itertuples(index=False):
        if rec.PATIENT not in offsets:
            offsets[rec.PATIENT] = patient_effect * direction()
        n = max(1, int(round(rec.N_CELLS * scale)))
        base = mu + offsets[rec.PATIENT] + shift.get(rec.GROUP, 0.0)
        blocks.append(base + rng.normal(scale=noise / np.sqrt(dim), size=(n, dim)))
        rows.append(pd.DataFrame({"PATIENT": [rec.PATIENT] * n, "SAMPLE": [str(rec.SAMPLE)] * n,
                                  "GROUP": [rec.GROUP] * n}))
    return EncodingSet(np.concatenate(blocks).astype(np.float32), pd.concat(rows),
                       source="synthetic", required=("PATIENT", "SAMPLE", "GROUP"))


def simple_structure(n_per_class: dict, samples_per_patient: int = 2,
                     cells_per_sample: int = 50) -> pd.DataFrame:
    """A cohort structure with ``n_per_class[g]`` patients named ``g[i]`` in group ``g``."""
    rows = []
    for g, n in n_per_class.items():
        for i in range(1, n + 1):
            for s in range(samples_per_patient):
                rows.append({"GROUP": g, "PATIENT": f"{g}[{i}]", "SAMPLE": f"{g}{i}s{s}",
                             "N_CELLS": cells_per_sample})
    return pd.DataFrame(rows)
