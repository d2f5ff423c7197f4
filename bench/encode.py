"""Benchmark `vexscreen encode` on the real CellaVision images (issue 3, item 6).

For each configuration: images/s of the full encode pipeline (decode, pad,
batch, forward into a memory-mapped output, via ``encode_scan``) against the
model's own forward pass on ready tensors of the same shape, in the same run;
achieved GFLOP/s against the measured matmul peak. The study's VGG16 at 272 px
beside the default (ResNet18; CellaVision crops padded to 369 px, the default
``--oversize pad``) and the other ``--oversize`` choices.

Then the output paths side by side on the same images (ResNet18, centre-crop 272 px):
the default single process as it was before issue 14 (one memory map held open
for the whole run, then ``np.isfinite`` over all of it), the default now (each
batch written through ``NpyRows``, the finite check in blocks) and Lightning's
``Trainer.predict`` with the prediction writer on one CPU device (what
``--accelerator``/``--devices`` use); each run three times, in rotated order, best kept; the
ratios to the old default are printed (``--paths-only`` runs just this part).

    nice .venv/bin/python bench/encode.py [--images 96] [--batch-size 32] [--workers 2]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _provenance import write_results  # noqa: E402
from _common import (ROOT, flat_dir, forward_flops, load_note, matmul_peak, model_only, real_images,  # noqa: E402
                     rotations, speed_columns)

import torch  # noqa: E402

from vexscreen.data.scan import scan_images  # noqa: E402
from vexscreen.encoder.backbones import build_backbone  # noqa: E402
from vexscreen.encoder.config import Geometry  # noqa: E402
from vexscreen.encoder.encoder_file import save_encoder  # noqa: E402
from vexscreen.encoder.inference import FullSizeImages, encode_dataset, encode_scan  # noqa: E402

# (label, backbone, full_size, oversize, images fraction)
CONFIGS = [
    ("resnet18 (default), pad -> 369 px", "resnet18", 272, "pad", 1.0),
    ("resnet18, resize -> 272 px", "resnet18", 272, "resize", 1.0),
    ("resnet18, centre-crop -> 272 px", "resnet18", 272, "crop", 1.0),
    ("vgg16 (study), centre-crop -> 272 px", "vgg16", 272, "crop", 0.34),
]


def old_default(enc_pt, scan, out, batch_size, workers):
    """encode_scan's single-process path before issue 14, written out: one open memory map, then
    ``np.isfinite`` over all of it (and the same bookkeeping: checksum, metadata, encode.json)."""
    import numpy as np

    from vexscreen.data.atomic import atomic_path, file_sha256, write_csv, write_json
    from vexscreen.encoder.encoder_file import read_encoder_file

    file = read_encoder_file(enc_pt)
    encoder = file.build()
    recs = list(scan.images)
    ds = FullSizeImages.for_encoder([r.path for r in recs], [(r.width, r.height) for r in recs], file.geometry,
                                    None, "crop", uint8=True)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "encodings.npy", suffix=".npy") as tmp:
        mm = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(len(recs), encoder.dim))
        encode_dataset(encoder, ds, mm, batch_size=batch_size, workers=workers)
        assert np.isfinite(mm).all()
        mm.flush()
        del mm
    write_csv(out / "metadata.csv", scan.metadata())
    write_json(out / "encode.json", {"images": len(recs), "encoder_sha256": file_sha256(enc_pt)})


def output_paths(n, batch_size, workers, tmp) -> list[dict]:
    """Images/s of the old default, the default now and the Lightning path (1 CPU device), same images."""
    import numpy as np

    images = flat_dir(real_images(n), tmp / f"img{n}")
    scan = scan_images(images, progress=False)
    torch.manual_seed(43)
    enc_pt = tmp / "paths_resnet18.pt"
    save_encoder(enc_pt, build_backbone("resnet18").eval(), Geometry(full_size=272))
    runs = {"default before issue 14 (one open memory map)": lambda o: old_default(enc_pt, scan, o, batch_size, workers),
            "default now (NpyRows, blockwise check)": lambda o: encode_scan(
                enc_pt, scan, o, oversize="crop", batch_size=batch_size, workers=workers),
            "Lightning predict + writer, 1 CPU device": lambda o: encode_scan(
                enc_pt, scan, o, oversize="crop", batch_size=batch_size, workers=workers, accelerator="cpu",
                devices=1)}
    best = {k: float("inf") for k in runs}
    names = list(runs)
    for rep, order in enumerate(rotations(names, 3)):  # no path always runs first
        for k in order:
            t = time.perf_counter()
            runs[k](tmp / f"paths_{rep}_{names.index(k)}")
            best[k] = min(best[k], time.perf_counter() - t)
    ref = np.load(tmp / "paths_1_0" / "encodings.npy")
    rows = []
    for i, (k, t) in enumerate(best.items()):
        same = bool(np.allclose(np.load(tmp / f"paths_1_{i}" / "encodings.npy"), ref, rtol=1e-5, atol=1e-6))
        rows.append({"path": k, "images": n, "seconds": round(t, 2), "img_s": round(n / t, 2),
                     "vs_before": round(best[list(best)[0]] / t, 3), "same_rows": same})
    print("\n| output path (resnet18, 272 px crop) | images | s (best of 3) | img/s | speed vs before | same rows |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['path']} | {r['images']} | {r['seconds']} | {r['img_s']} | {r['vs_before']:.3f} | {r['same_rows']} |")
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=int, default=96)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--only", default=None, help="comma-separated config numbers (1-based)")
    p.add_argument("--json", default=str(ROOT / "bench" / "results" / "encode.json"))
    p.add_argument("--paths-only", action="store_true", help="only the output-path comparison")
    args = p.parse_args(argv)
    # the images and encodings it writes (~45 MB a run) go when it ends, as in the other benchmarks
    with tempfile.TemporaryDirectory(prefix="vexscreen_bench_") as tmp:
        if args.paths_only:
            rows = output_paths(args.images, args.batch_size, args.workers, Path(tmp))
            print(load_note())
            write_results(args.json.replace(".json", "_paths.json"), {"load": load_note(), "rows": rows})
            return
        run_configs(args, Path(tmp))


def run_configs(args, tmp):
    """Each configuration's speed through the pipeline and of the model alone, then the output paths."""
    peak = matmul_peak()
    rows = []
    configs = CONFIGS if not args.only else [CONFIGS[int(i) - 1] for i in args.only.split(",")]
    for label, backbone, full_size, oversize, frac in configs:
        n = max(8, int(args.images * frac))
        images = flat_dir(real_images(n), tmp / f"img{n}")
        scan = scan_images(images, progress=False)
        torch.manual_seed(43)
        model = build_backbone(backbone).eval()
        enc_pt = tmp / f"{backbone}.pt"
        save_encoder(enc_pt, model, Geometry(full_size=full_size))
        # pipeline first, then the model alone on ready tensors of the pipeline's input shape
        s = encode_scan(enc_pt, scan, tmp / f"out_{backbone}_{oversize}", full_size=full_size, oversize=oversize,
                        batch_size=args.batch_size, workers=args.workers, progress=False)
        side = s["input_size"]
        ips_model = model_only(model, n, args.batch_size, side)
        flops = forward_flops(model, (1, 3, side, side))
        row = {"config": label, "images": n, "input": f"{side} x {side}", "pipeline_img_s": s["images_per_second"],
               "model_img_s": round(ips_model, 2),
               **speed_columns(flops, s["images_per_second"], ips_model, peak), "treatment": s["treatment"]}
        rows.append(row)
        print(json.dumps(row), flush=True)
    print()
    print(f"matmul peak (float32 2048^3, torch {torch.__version__}, {torch.get_num_threads()} threads): "
          f"{peak:.1f} GFLOP/s; {load_note()}")
    print()
    print("| configuration | images | input | encode img/s | model-only img/s | encode / model | GFLOP/img "
          "| encode GFLOP/s | % of matmul peak |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['config']} | {r['images']} | {r['input']} | {r['pipeline_img_s']:.2f} | {r['model_img_s']:.2f} "
              f"| {100 * r['pipeline_vs_model']:.0f}% | {r['gflop_per_img']} | {r['pipeline_gflop_s']} "
              f"| {r['pct_of_matmul_peak']}% |")
    paths = output_paths(min(args.images, 64), args.batch_size, args.workers, tmp)
    write_results(args.json, {"matmul_peak_gflop_s": peak, "load": load_note(), "rows": rows,
                              "output_paths": paths})
    bad = [r for r in rows if r["pipeline_vs_model"] < 0.85]
    if bad:
        print(f"WARNING: pipeline below 85% of the model's own speed for {len(bad)} configuration(s)")


if __name__ == "__main__":
    main()
