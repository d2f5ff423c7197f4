"""Real images, real morphology (issue 3, item 4): does self-supervised training earn its keep?

On the real CellaVision images of ../shared/data/wbc (PBC dataset):
* test set (encoder-test layout, symlinks): GROUP/<image> with groups band
  (BNE_*), segmented (SNE_*) neutrophil, monocyte, lymphocyte; ``--per-class``
  images each, drawn with random.Random(0) from the sorted file names;
* training pool (flat, symlinks): up to ``--train-images`` of the *other*
  images of all five cell types (no test cell is trained on), evenly spaced in
  sorted order; labels unused.
Then, end to end through the CLI:
  untrained encoder (same backbone, same seed-43 initialisation) -> encode -> consistency
  train-encoder -> encode -> consistency
and one markdown table per encoder (the study's one-vs-one 5-NN AUC matrix).

    nice .venv/bin/python experiments/real_images.py --out experiments/out/real_images   # ~35-45 min on 2 CPU cores (defaults: the settings in docs/experiments.md)
"""
from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from _provenance import write_results  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
WBC = ROOT.parent / "shared" / "data" / "wbc"
GROUPS = {"band": ("neutrophil", "BNE_"), "segmented": ("neutrophil", "SNE_"),
          "monocyte": ("monocyte", "MO_"), "lymphocyte": ("lymphocyte", "LY_")}
ORDER = list(GROUPS)
VEX = [str(ROOT / ".venv" / "bin" / "vexscreen")] if (ROOT / ".venv" / "bin" / "vexscreen").exists() \
    else [sys.executable, "-m", "vexscreen.cli"]


def build_sets(out: Path, per_class: int, train_images: int, wbc: Path):
    test, pool = out / "test", out / "pool"
    if test.exists() and pool.exists():
        return test, pool
    chosen = set()
    for group, (folder, prefix) in GROUPS.items():
        names = sorted(n for n in os.listdir(wbc / folder) if n.startswith(prefix))
        pick = random.Random(0).sample(names, per_class)
        (test / group).mkdir(parents=True, exist_ok=True)
        for n in pick:
            os.symlink(wbc / folder / n, test / group / n)
            chosen.add((folder, n))
    rest = sorted((folder, n) for folder in ("basophil", "eosinophil", "lymphocyte", "monocyte", "neutrophil")
                  for n in os.listdir(wbc / folder) if (folder, n) not in chosen and n.endswith(".jpg"))
    if train_images and len(rest) > train_images:
        step = len(rest) / train_images
        rest = [rest[int(i * step)] for i in range(train_images)]
    pool.mkdir(parents=True, exist_ok=True)
    for folder, n in rest:
        os.symlink(wbc / folder / n, pool / f"{folder}__{n}")
    return test, pool


def run(cmd, log):
    t0 = time.perf_counter()
    print("$ " + " ".join(map(str, cmd)), flush=True)
    with open(log, "a") as fh:
        fh.write("$ " + " ".join(map(str, cmd)) + "\n")
        fh.flush()
        subprocess.run([str(c) for c in cmd], check=True, stdout=fh, stderr=subprocess.STDOUT)
    return time.perf_counter() - t0


def matrix_table(cons_json: Path, title: str) -> tuple[str, dict]:
    from vexscreen.data.encodings import load_encodings
    from vexscreen.evaluation.consistency import consistency_matrix
    enc = load_encodings(cons_json)
    order, M = consistency_matrix(enc.X, enc.labels, ORDER)
    lines = [f"**{title}**", "", "| | " + " | ".join(order[1:]) + " |", "|---" * len(order) + "|"]
    for i, a in enumerate(order[:-1]):
        cells = [("" if j <= i else f"{M[i, j]:.3f}") for j in range(1, len(order))]
        lines.append(f"| {a} | " + " | ".join(cells) + " |")
    return "\n".join(lines), {f"{order[i]}-{order[j]}": float(M[i, j]) for i in range(len(order))
                              for j in range(i + 1, len(order))}


def untrained_encoder(path: Path, args):
    """encoder.pt of the same backbone as trained, at the same seed-43 initialisation, never trained."""
    from vexscreen.encoder.training import TrainConfig, save_untrained_encoder
    save_untrained_encoder(path, TrainConfig(backbone=args.backbone, scale=args.scale, full_size=args.full_size,
                                             crop=args.crop, field=getattr(args, "field", None)))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="experiments/out/real_images")
    p.add_argument("--wbc", default=str(WBC))
    p.add_argument("--per-class", type=int, default=200)
    p.add_argument("--train-images", type=int, default=1280)
    p.add_argument("--backbone", default="resnet18")
    p.add_argument("--method", default="nnclr")
    p.add_argument("--queue-size", type=int, default=0)
    p.add_argument("--temperature", type=float, default=0.07)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--scale", type=float, default=0.75)
    p.add_argument("--crop", type=int, default=160)
    p.add_argument("--full-size", type=int, default=272)
    p.add_argument("--field", type=int, default=None, help="train-encoder --field (default: whole frame)")
    p.add_argument("--color-jitter", type=float, default=0.0, help="train-encoder --color-jitter")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--skip-untrained-full", action="store_true",
                   help="skip the untrained encoder at the study's scale 1.0 / 272 px (pad to 369)")
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log = out / "log.txt"
    test, pool = build_sets(out, args.per_class, args.train_images, Path(args.wbc))
    results = {"settings": vars(args), "tables": {}, "auc": {}, "seconds": {}}

    # untrained, same backbone and initialisation, at the training scale (and at the study's full size)
    variants = [("untrained", args.scale, args.full_size)]
    if not args.skip_untrained_full:
        variants.append(("untrained_scale1", 1.0, 272))
    for name, scale, fs in variants:
        enc_pt = out / name / "encoder.pt"
        a = argparse.Namespace(**{**vars(args), "scale": scale, "full_size": fs,
                                  "field": args.field if name == "untrained" else None})
        untrained_encoder(enc_pt, a)
        results["seconds"][f"{name}_encode"] = run(VEX + ["encode", "--encoder", enc_pt, "--images", test, "--out",
                                                          out / name / "enc", "--no-progress", "--workers", "1"], log)
        run(VEX + ["consistency", out / name / "enc", "--groups", ",".join(ORDER), "--out", out / name / "cons",
                   "--no-plots"], log)
        table, auc = matrix_table(out / name / "enc", f"{args.backbone}, untrained (seed-43 init), scale {scale}, "
                                  + (f"field {args.field}" if args.field and name == "untrained" else f"full size {fs}"))
        results["tables"][name], results["auc"][name] = table, auc
        print(table, flush=True)

    run_dir = out / "trained"
    results["seconds"]["train"] = run(VEX + [
        "train-encoder", "--images", pool, "--out", run_dir, "--backbone", args.backbone, "--method", args.method,
        "--queue-size", args.queue_size, "--temperature", args.temperature, "--batch-size", args.batch_size,
        "--lr", args.lr, "--epochs", args.epochs, "--scale", args.scale, "--crop", args.crop,
        "--full-size", args.full_size, "--workers", args.workers, "--no-progress",
        "--color-jitter", args.color_jitter] + (["--field", args.field] if args.field else [])
        + (["--resume"] if (run_dir / "checkpoints" / "last.ckpt").exists() else []), log)
    results["seconds"]["trained_encode"] = run(VEX + ["encode", "--encoder", run_dir / "encoder.pt", "--images", test,
                                                      "--out", out / "trained" / "enc", "--no-progress",
                                                      "--workers", "1"], log)
    run(VEX + ["consistency", out / "trained" / "enc", "--groups", ",".join(ORDER), "--out",
               out / "trained" / "cons", "--no-plots"], log)
    table, auc = matrix_table(out / "trained" / "enc", f"{args.backbone}, trained ({args.method}, queue "
                              f"{args.queue_size}, batch {args.batch_size}, lr {args.lr}, scale {args.scale}, "
                              f"crop {args.crop}, colour jitter {args.color_jitter}, field {args.field}), "
                              f"full size {args.field or args.full_size}")
    results["tables"]["trained"], results["auc"]["trained"] = table, auc
    import pandas as pd
    results["metrics"] = pd.read_csv(run_dir / "metrics.csv").to_dict(orient="records")
    print(table)
    print(pd.read_csv(run_dir / "metrics.csv").to_string())
    write_results(out / "results.json", results)
    print(f"train {results['seconds']['train']:.0f} s; results in {out / 'results.json'}")


if __name__ == "__main__":
    main()
