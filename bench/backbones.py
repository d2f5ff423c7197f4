"""Encoding speed of every registered backbone at its native input size (issue 13, item 4).

For each backbone of the registry (``vexscreen backbones``), and first the
default as vexscreen runs it (ResNet18, full size 272, CellaVision crops padded
to 369 px: the baseline of the ratios): a randomly initialised encoder (seed 43;
weights do not change the speed, and none can be downloaded here) written as
``export-encoder`` writes it (``save_untrained_encoder``, full size = the native
side), then

* images/s of the real ``encode_scan`` path on real CellaVision images (decode,
  bring to the native side by encode's own ``--oversize`` rule, batch, forward,
  rows written to disk), and
* images/s of the same model (built from the same file) alone on ready tensors
  of the input shape, in the same run: encode / model-only;
* GFLOP per image (``forward_flops``, attention included), the GFLOP/s encode
  achieves and its fraction of the float32 matmul peak measured in the same run
  (at the start and at the end; the higher is the peak).

Native sides: 224 (ResNets, VGG16, DinoBloom), 299 (inception_v3), 380
(efficientnet_b4). CellaVision crops are 360 x 363 or 366 x 369: at 224 and 299
they are larger than the side, so ``--oversize crop`` (default; DinoBloom's own
default) centre-crops them, ``--oversize resize`` shrinks them (aspect kept) and
zero-pads; at 380 they fit and are zero-padded, centred. Each row says what was done.

The number of images per backbone aims at ``--seconds`` per timed pass (from its
GFLOP and the peak), between ``--min-images`` and ``--max-images``. Each backbone
is timed ``--runs`` times, each round in a rotated order (no backbone always
first), best kept. The load average is recorded before and after: the machine is
shared, so absolute numbers move with it; the ratios in one run are the useful part.

DinoBloom-G (1.1 B parameters) is left out unless named: one round of 4 images
took 6 min (load average 6-8; building and checksumming its 4.4 GB encoder file
twice a round is most of the rest) and 10 GB of memory, over the ~3 min a row may
take; ``--backbones dinobloom-g --runs 1`` measures it alone.

    nice .venv/bin/python bench/backbones.py [--backbones resnet18,dinobloom-s] [--runs 3]
    nice .venv/bin/python bench/backbones.py --quick    # make bench: default, resnet18, DinoBloom-S and -B, 1 run
"""
from __future__ import annotations

import argparse
import gc
import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _provenance import write_results  # noqa: E402
from _common import (ROOT, flat_dir, forward_flops, load_averages, matmul_peak, model_only,  # noqa: E402
                     real_images, rotations, speed_columns)

import torch  # noqa: E402

from vexscreen.data.scan import scan_images  # noqa: E402
from vexscreen.encoder.config import TrainConfig  # noqa: E402
from vexscreen.encoder.encoder_file import read_encoder_file  # noqa: E402
from vexscreen.encoder.inference import FullSizeImages, encode_scan  # noqa: E402
from vexscreen.encoder.registry import REGISTRY, get_backbone_info  # noqa: E402
from vexscreen.encoder.training import save_untrained_encoder  # noqa: E402

DEFAULT_LABEL = "resnet18, vexscreen's default (272, pad to the set's largest side)"
QUICK = ("resnet18", "dinobloom-s", "dinobloom-b")
SLOW = ("dinobloom-g",)  # 1.1 B parameters: ~6 min for one round of 4 images (load 6-8), 10 GB RSS
ASSUMED_FRACTION = 0.5  # of the matmul peak, to size each pass (the encoders reach 20-65 %: docs/encoder.md)


@dataclass
class Case:
    """One row: a backbone at one side, its encoder file and its images (``side``: what encode feeds)."""
    label: str
    backbone: str
    full_size: int | None   # None: the registry's default (272)
    oversize: str | None    # None: the encoder's default (pad for the torchvision backbones)
    encoder: Path
    scan: object
    side: int
    flops: float


def images_for(gflop: float, peak: float, seconds: float, low: int, high: int) -> int:
    """How many images make a timed pass of about ``seconds`` at ``ASSUMED_FRACTION`` of the matmul
    ``peak`` (GFLOP/s), for ``gflop`` per image; between ``low`` and ``high``."""
    guess = round(seconds * ASSUMED_FRACTION * peak / gflop)
    return max(low, min(high, guess))


def input_side(scan, geometry, full_size, oversize) -> int:
    """The side encode feeds these images at (pad: the set's largest side)."""
    recs = list(scan.images)
    return FullSizeImages.for_encoder([r.path for r in recs], [(r.width, r.height) for r in recs],
                                      geometry, full_size, oversize).output_size


def prepare(label, backbone, full_size, oversize, args, peak, tmp: Path) -> Case:
    """Write the encoder file, count its FLOPs, choose and scan its images."""
    enc = tmp / f"{backbone}_{full_size or 'default'}.pt"
    cfg = TrainConfig(backbone=backbone, full_size=full_size, seed=43)
    save_untrained_encoder(enc, cfg)
    model = read_encoder_file(enc).build()
    side = cfg.geometry.full_size
    n = images_for(forward_flops(model, (1, 3, side, side)) / 1e9, peak, args.seconds, args.min_images,
                   args.max_images)
    scan = scan_images(flat_dir(real_images(n), tmp / f"img{n}"), progress=False)
    side = input_side(scan, cfg.geometry, full_size, oversize)
    case = Case(label, backbone, full_size, oversize, enc, scan, side, forward_flops(model, (1, 3, side, side)))
    del model
    gc.collect()
    return case


def time_case(case: Case, args, out: Path) -> tuple[dict, float]:
    """(encode_scan's summary, model-only images/s), one timed pass each; the model is freed after."""
    s = encode_scan(case.encoder, case.scan, out, full_size=case.full_size, oversize=case.oversize,
                    batch_size=args.batch_size, workers=args.workers, progress=False)
    model = read_encoder_file(case.encoder).build()
    ips = model_only(model, s["images"], args.batch_size, s["input_size"])
    del model
    gc.collect()
    return s, ips


def cases_of(args) -> list[tuple]:
    """(label, backbone, full_size, oversize) of each row: the default first, then each backbone native."""
    rows = [(DEFAULT_LABEL, "resnet18", None, None)]
    for name in args.backbones:
        info = get_backbone_info(name)
        rows.append((f"{name} at {info.native_size} px, {args.oversize}", name, info.native_size, args.oversize))
    return rows


def measure(args, peak: float, tmp: Path) -> tuple[list[Case], dict]:
    """The cases and, by label, the best (encode summary, model-only img/s) of ``args.runs`` rounds."""
    cases = []
    for spec in cases_of(args):
        cases.append(prepare(*spec, args, peak, tmp))
        print(f"prepared {cases[-1].label}: {len(cases[-1].scan.images)} images, {cases[-1].side} px, "
              f"{cases[-1].flops / 1e9:.2f} GFLOP/img", flush=True)
    best = {c.label: (None, 0.0) for c in cases}
    for r, order in enumerate(rotations(cases, args.runs)):
        for c in order:
            s, ips = time_case(c, args, tmp / f"out_{r}")
            print(f"run {r + 1}: {c.label}: encode {s['images_per_second']} img/s, model {ips:.2f} img/s",
                  flush=True)
            old, old_ips = best[c.label]
            best[c.label] = (s if old is None or s["images_per_second"] > old["images_per_second"] else old,
                             max(ips, old_ips))
    return cases, best


def rows_of(cases: list[Case], best: dict, peak: float) -> list[dict]:
    """The table's rows; speed vs the default's encode img/s, GFLOP/s vs ``peak``."""
    default_ips = best[DEFAULT_LABEL][0]["images_per_second"]
    rows = []
    for c in cases:
        s, ips = best[c.label]
        rows.append({"config": c.label, "backbone": c.backbone, "images": s["images"], "input": f"{c.side} x {c.side}",
                     "pipeline_img_s": s["images_per_second"], "model_img_s": round(ips, 2),
                     **speed_columns(c.flops, s["images_per_second"], ips, peak),
                     "vs_default": round(s["images_per_second"] / default_ips, 3), "treatment": s["treatment"]})
    return rows


def table(rows: list[dict]) -> str:
    lines = ["| backbone | input | images | encode img/s | model-only img/s | encode / model | GFLOP/img "
             "| encode GFLOP/s | % of matmul peak | speed vs default |", "|---" * 10 + "|"]
    for r in rows:
        lines.append(f"| {r['config']} | {r['input']} | {r['images']} | {r['pipeline_img_s']:.2f} | {r['model_img_s']:.2f} "
                     f"| {100 * r['pipeline_vs_model']:.0f}% | {r['gflop_per_img']} | {r['pipeline_gflop_s']} "
                     f"| {r['pct_of_matmul_peak']}% | {r['vs_default']:.3f} |")
    return "\n".join(lines)


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backbones", default=",".join(n for n in REGISTRY if n not in SLOW),
                   help=f"comma-separated registry names (default: all but {', '.join(SLOW)})")
    p.add_argument("--quick", action="store_true", help=f"{', '.join(QUICK)} only, 1 run, 4 s passes")
    p.add_argument("--runs", type=int, default=3, help="timed rounds, best kept")
    p.add_argument("--seconds", type=float, default=10.0, help="aim of one timed pass")
    p.add_argument("--min-images", type=int, default=4)
    p.add_argument("--max-images", type=int, default=96)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--oversize", choices=("crop", "resize"), default="crop",
                   help="what encode does to images larger than the native side")
    p.add_argument("--json", default=str(ROOT / "bench" / "results" / "backbones.json"))
    args = p.parse_args(argv)
    if args.quick:
        args.backbones, args.runs, args.seconds = ",".join(QUICK), 1, 4.0
        args.json = args.json.replace(".json", "_quick.json")
    args.backbones = [get_backbone_info(b.strip()).name for b in args.backbones.split(",") if b.strip()]
    if args.runs < 1 or args.seconds <= 0 or not 1 <= args.min_images <= args.max_images:
        p.error("--runs >= 1, --seconds > 0 and 1 <= --min-images <= --max-images")
    return args


def main(argv=None):
    args = parse(argv)
    load_before = load_averages()
    peak = matmul_peak()
    with tempfile.TemporaryDirectory(prefix="vexscreen_bench_") as tmp:
        cases, best = measure(args, peak, Path(tmp))
    peak_after = matmul_peak()
    load_after = load_averages()
    rows = rows_of(cases, best, max(peak, peak_after))
    note = (f"matmul peak (float32 2048^3, torch {torch.__version__}, {torch.get_num_threads()} threads): "
            f"{peak:.1f} GFLOP/s at the start, {peak_after:.1f} at the end (% of the higher); "
            f"{load_before} before, {load_after} after")
    print(f"\n{note}\n\n{table(rows)}")
    write_results(args.json, {"matmul_peak_gflop_s": peak, "matmul_peak_end_gflop_s": peak_after,
                              "load_before": load_before, "load_after": load_after, "oversize": args.oversize,
                              "runs": args.runs, "batch_size": args.batch_size, "workers": args.workers,
                              "rows": rows})
    print(json.dumps({"written": args.json}))


if __name__ == "__main__":
    main()
