"""Shared helpers for the encoder benchmarks (bench/encode.py, bench/train.py)."""
from __future__ import annotations

import os

import vexscreen  # noqa: E402,F401  (sets OMP_WAIT_POLICY before torch loads)

import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
WBC = ROOT.parent / "shared" / "data" / "wbc"


def real_images(n: int, folder: str = "neutrophil") -> list[Path]:
    """``n`` real CellaVision images, evenly spaced in sorted order (all 360 x 363 or 366 x 369)."""
    names = sorted(p for p in (WBC / folder).iterdir() if p.suffix == ".jpg")
    if not names:
        raise SystemExit(f"no images under {WBC / folder}")
    step = max(1, len(names) // n)
    return names[::step][:n]


def flat_dir(paths, where: Path) -> Path:
    where.mkdir(parents=True, exist_ok=True)
    for p in paths:
        link = where / p.name
        if not link.exists():
            os.symlink(p, link)
    return where


def matmul_peak(n: int = 2048, reps: int = 5) -> float:
    """Best measured float32 matmul GFLOP/s with torch's threads (the machine's practical peak)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = 0.0
    for _ in range(reps):
        t = time.perf_counter()
        a @ b
        best = max(best, 2 * n ** 3 / (time.perf_counter() - t) / 1e9)
    return best


def forward_flops(model: torch.nn.Module, shape) -> float:
    """FLOPs of one forward pass on a tensor of ``shape`` (torch's FlopCounterMode; 1 MAC = 2 FLOPs)."""
    from torch.utils.flop_counter import FlopCounterMode
    counter = FlopCounterMode(display=False)
    with counter, torch.inference_mode():
        model(torch.zeros(shape))
    return float(counter.get_total_flops())


def load_note() -> str:
    try:
        return "load average (1 min) %.2f on %d cores" % (os.getloadavg()[0], os.cpu_count() or 0)
    except OSError:
        return ""
