"""Benchmark training throughput per backbone on the real CellaVision images (issue 3, item 6).

One optimisation step = two views (flips, rotation, random crop) of each image
of a batch through backbone + projection head, the NNCLR loss, backward, Adam:
exactly ``ContrastiveModule.training_step`` with views from ``ViewPairDataset``.
Reports images/s (pairs of views) per backbone at the study's settings (batch
8, 128 px crops) and for the default backbone at the settings used for the
real-image experiment (batch 64, images at scale 0.5).

    nice .venv/bin/python bench/train.py [--steps 3]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _provenance import write_results  # noqa: E402
from _common import ROOT, forward_flops, load_note, matmul_peak, real_images  # noqa: E402

import torch  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

from vexscreen.encoder.backbones import BACKBONES  # noqa: E402
from vexscreen.encoder.config import TrainConfig  # noqa: E402
from vexscreen.encoder.module import ContrastiveModule  # noqa: E402
from vexscreen.encoder.transforms import ViewPairDataset  # noqa: E402

# (backbone, batch, crop, scale)
CONFIGS = [(b, 8, 128, 1.0) for b in BACKBONES] + [("resnet18", 64, 128, 0.5)]


def bench(backbone, batch, crop, scale, steps, workers):
    torch.manual_seed(43)
    cfg = TrainConfig(backbone=backbone, lr=1e-5, batch_size=batch, crop=crop, scale=scale)
    module = ContrastiveModule(cfg)
    module.train()
    opt = torch.optim.Adam(module.parameters(), lr=cfg.lr)
    images = real_images(batch * (steps + 1), "neutrophil")
    loader = DataLoader(ViewPairDataset.from_config(images, cfg), batch_size=batch, shuffle=False,
                        num_workers=workers, drop_last=True)
    t = None
    done = 0
    for i, batch_views in enumerate(loader):
        if i == 1:  # first step: warm-up (allocations, kernels) not timed
            t = time.perf_counter()
        opt.zero_grad()
        loss = _step(module, batch_views)
        loss.backward()
        opt.step()
        if i >= 1:
            done += len(batch_views[0])
    seconds = time.perf_counter() - t
    flops = 3 * 2 * forward_flops(module.encoder.eval(), (1, 3, crop, crop))  # fwd + ~2x bwd, two views
    return done / seconds, flops


def _step(module, views):
    v1, v2 = views
    return module.criterion(module.head(module.encoder(v1)), module.head(module.encoder(v2)))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=3, help="timed steps per backbone (after one warm-up step)")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--only", default=None, help="comma-separated backbones")
    p.add_argument("--json", default=str(ROOT / "bench" / "results" / "train.json"))
    args = p.parse_args(argv)
    peak = matmul_peak()
    rows = []
    for backbone, batch, crop, scale in CONFIGS:
        if args.only and backbone not in args.only.split(","):
            continue
        steps = args.steps if batch <= 8 else max(1, args.steps // 3)
        ips, flops = bench(backbone, batch, crop, scale, steps, args.workers)
        row = {"backbone": backbone, "batch": batch, "crop": crop, "scale": scale, "img_s": round(ips, 2),
               "gflop_per_img": round(flops / 1e9, 2), "gflop_s": round(ips * flops / 1e9, 1),
               "pct_of_matmul_peak": round(100 * ips * flops / 1e9 / peak, 1),
               "epoch_1000_images_min": round(1000 / ips / 60, 1)}
        rows.append(row)
        print(json.dumps(row), flush=True)
    print()
    print(f"matmul peak: {peak:.1f} GFLOP/s ({torch.get_num_threads()} threads); {load_note()}")
    print()
    print("| backbone | batch | crop | scale | train img/s (2 views) | GFLOP/img (approx.) | GFLOP/s | % of matmul peak "
          "| min per 1,000-image epoch |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['backbone']} | {r['batch']} | {r['crop']} | {r['scale']} | {r['img_s']} | {r['gflop_per_img']} "
              f"| {r['gflop_s']} | {r['pct_of_matmul_peak']}% | {r['epoch_1000_images_min']} |")
    write_results(args.json, {"matmul_peak_gflop_s": peak, "load": load_note(), "rows": rows})


if __name__ == "__main__":
    main()
