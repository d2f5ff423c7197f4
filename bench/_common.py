"""Shared helpers for the encoder benchmarks (bench/encode.py, bench/backbones.py, bench/train.py)."""
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


def attention_flops(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
    """FLOPs of scaled dot-product attention, ``q @ k^T`` then ``@ v`` (shapes N x heads x tokens x d):
    torch's own formula, for the CPU kernel its FlopCounterMode leaves uncounted."""
    n, heads, s_q, d = query_shape
    s_k, d_v = key_shape[-2], value_shape[-1]
    return 2 * n * heads * s_q * s_k * (d + d_v)


def forward_flops(model: torch.nn.Module, shape) -> float:
    """FLOPs of one forward pass on a tensor of ``shape`` (torch's FlopCounterMode; 1 MAC = 2 FLOPs).

    Attention included: on the CPU, ``scaled_dot_product_attention`` (DinoBloom's ViTs, through timm)
    runs ``_scaled_dot_product_flash_attention_for_cpu``, which torch's counter does not know
    (without it ViT-S/14 at 224 px counts 11.0 instead of 12.2 GFLOP)."""
    from torch.utils.flop_counter import FlopCounterMode
    counter = FlopCounterMode(display=False, custom_mapping={
        torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: attention_flops})
    with counter, torch.inference_mode():
        model(torch.zeros(shape))
    return float(counter.get_total_flops())


def model_only(model: torch.nn.Module, n: int, batch: int, side: int) -> float:
    """Images/s of ``model`` alone on ``n`` ready random tensors of ``side`` x ``side``, in batches
    (one small warm-up batch first, not timed)."""
    x = torch.rand(batch, 3, side, side)
    with torch.inference_mode():
        model(x[:2])
        done, t = 0, time.perf_counter()
        while done < n:
            b = min(batch, n - done)
            model(x[:b])
            done += b
    return n / (time.perf_counter() - t)


def rotations(items: list, runs: int) -> list[list]:
    """``runs`` orders of ``items``, each rotated one further: no item always runs first."""
    return [items[r % len(items):] + items[:r % len(items)] for r in range(runs)]


def speed_columns(flops: float, encode_img_s: float, model_img_s: float, peak: float) -> dict:
    """The derived columns of an encoding row: encode / model-only speed, GFLOP per image,
    GFLOP/s achieved by encode and its percentage of the matmul ``peak`` (GFLOP/s)."""
    gflop_s = flops * encode_img_s / 1e9
    return {"pipeline_vs_model": round(encode_img_s / model_img_s, 3), "gflop_per_img": round(flops / 1e9, 2),
            "pipeline_gflop_s": round(gflop_s, 1), "pct_of_matmul_peak": round(100 * gflop_s / peak, 1)}


def load_averages() -> str:
    """The 1, 5 and 15 minute load averages, as ``uptime`` prints them ("" where there are none)."""
    try:
        return "load average: %.2f, %.2f, %.2f" % os.getloadavg()
    except OSError:
        return ""


def load_note() -> str:
    try:
        return "load average (1 min) %.2f on %d cores" % (os.getloadavg()[0], os.cpu_count() or 0)
    except OSError:
        return ""
