"""Benchmark: phantom cohort generation speed (vexscreen phantom).

1. Cells/s writing a study-layout phantom (the `small` cohort structure, all three
   cell types, scaled to --scale) with 1 and with 2 worker processes, side by
   side, and the ratio. Both runs must give identical files (checked).
2. Where the time goes, in one process: rendering vs PNG encoding + atomic write.
3. The full study-scale cohort (33,757 cells, plus the 13 x 30 encoder-test cells):
   projected from the 2-worker rate and the mean file size; `--full` measures it.

Run: `make bench` or `.venv/bin/python bench/phantom.py [--scale F] [--full]`.
`--figure PNG` instead writes the docs figure (phantom cells above real PBC cells).
The machine may be shared: the numbers are wall-clock times of this run.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from vexscreen.phantom import phenotypes as P
from vexscreen.phantom.cohort import _save_png, cohort_structure, make_cohort, study_structure
from vexscreen.phantom.render import render

STUDY_CELLS = 33757


def digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*.png")):
        h.update(str(p.relative_to(root)).encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def timed_run(out: Path, workers: int, scale: float) -> tuple[float, int]:
    t = time.perf_counter()
    make_cohort(out, cohort="small", scale=scale, seed=0, workers=workers, encoder_test_per_group=0)
    return time.perf_counter() - t, int(cohort_structure("small", scale).N_CELLS.sum())


def breakdown(n: int = 24) -> tuple[float, float]:
    smear = P.smear_nuisance("bench", 0)
    pheno = P.patient_phenotype("VEXAS", "VEXAS[1]", 0)
    t_render = t_write = 0.0
    with tempfile.TemporaryDirectory() as d:
        for i in range(n):
            ct = ("PN", "MO", "LY")[i % 3]
            rng = np.random.default_rng(i)
            spec = P.cell_spec(ct, pheno, smear, rng)
            t0 = time.perf_counter()
            img = render(spec, rng).image
            t1 = time.perf_counter()
            _save_png(Path(d) / f"{i}.png", img)
            t_write += time.perf_counter() - t1
            t_render += t1 - t0
    return t_render / n * 1000, t_write / n * 1000


FIGURE_CELLS = [  # (label, cell type, group phenotype, spec overrides)
    ("PN normal", "PN", None, dict(nucleus_shape="segmented", n_lobes=3, granulation="normal")),
    ("PN VEXAS: vacuoles", "PN", "VEXAS", dict(nucleus_shape="segmented", n_lobes=3, n_vacuoles=3,
                                               vacuole_radius=4.5, granulation="normal")),
    ("PN MDS: pseudo-Pelger", "PN", "MDS", dict(nucleus_shape="pelger", n_lobes=2, granulation="low")),
    ("PN UBA1-WT: toxic", "PN", "UBA1-WT", dict(nucleus_shape="segmented", n_lobes=4, granulation="high")),
    ("MO VEXAS: vacuoles", "MO", "VEXAS", dict(nucleus_shape="kidney", n_vacuoles=4, vacuole_radius=4.5)),
    ("LY small", "LY", None, dict(large=False, cell_radius=44.0)),
]
REAL_CELLS = ["neutrophil/SNE_*.jpg"] * 4 + ["monocyte/MO_*.jpg", "lymphocyte/LY_*.jpg"]


def figure(path: Path, wbc: Path, tile: int = 180, seed: int = 4) -> None:
    """Phantom cells (top row) above real PBC CellaVision cells (bottom row), central crops."""
    from dataclasses import replace

    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    sheet = Image.new("RGB", (tile * len(FIGURE_CELLS), tile * 2 + 16), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for k, (label, ct, group, over) in enumerate(FIGURE_CELLS):
        pheno = P.patient_phenotype(group or "none", "fig", seed)
        spec = replace(P.cell_spec(ct, pheno, P.smear_nuisance(f"fig{k}", seed), rng), **over)
        img = render(spec, rng).image
        files = sorted(wbc.glob(REAL_CELLS[k]))
        real = np.asarray(Image.open(files[(53 * k + 7) % len(files)]).convert("RGB"))
        for row, a in enumerate((img, real)):
            h, w = a.shape[:2]
            c = a[h // 2 - 120:h // 2 + 120, w // 2 - 120:w // 2 + 120]
            sheet.paste(Image.fromarray(c).resize((tile, tile), Image.LANCZOS), (k * tile, 16 + row * tile))
        draw.text((k * tile + 4, 2), label, fill=(0, 0, 0))
    draw.text((4, 16 + tile + 2), "below: real PBC cells (CellaVision DM96, normal donors)", fill=(0, 0, 0))
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(path, optimize=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=1.5,
                    help="scale of the `small` cohort timed (1.5: 9 cells x 12 samples x 3 types = 324 cells)")
    ap.add_argument("--full", action="store_true", help="also generate the full study cohort (slow)")
    ap.add_argument("--figure", type=Path, default=None, help="write the docs figure to this PNG and stop")
    ap.add_argument("--wbc", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared/data/wbc")
    args = ap.parse_args()
    if args.figure:
        figure(args.figure, args.wbc)
        print(f"wrote {args.figure}")
        return 0
    print(f"phantom benchmark ({os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f})")
    ms_render, ms_write = breakdown()
    print(f"one process, per cell: render {ms_render:.1f} ms, PNG encode + atomic write {ms_write:.1f} ms")
    tmp = Path(tempfile.mkdtemp(prefix="bench_phantom_"))
    try:
        s1, n = timed_run(tmp / "w1", 1, args.scale)
        s2, _ = timed_run(tmp / "w2", 2, args.scale)
        same = digest(tmp / "w1") == digest(tmp / "w2")
        sizes = [p.stat().st_size for p in (tmp / "w1").rglob("*.png")]
        r1, r2 = n / s1, n / s2
        print(f"\n{'cells':>6} | {'1 worker':>16} | {'2 workers':>16} | ratio | identical files")
        print(f"{n:>6} | {s1:6.1f} s {r1:5.1f}/s | {s2:6.1f} s {r2:5.1f}/s | {r2 / r1:4.2f}x | {same}")
        if not same:
            print("ERROR: 1 and 2 workers gave different files")
            return 1
        total = STUDY_CELLS + 30 * 13
        mean_kb = np.mean(sizes) / 1024
        print(f"\nfull study cohort ({STUDY_CELLS} cells + {30 * 13} encoder-test cells): projected "
              f"{total / r1 / 60:.0f} min with 1 worker, {total / r2 / 60:.0f} min with 2; "
              f"about {total * mean_kb / 1024 ** 2:.1f} GiB of PNG ({mean_kb:.0f} KiB per image)")
        assert int(study_structure().N_CELLS.sum()) == STUDY_CELLS
        if args.full:
            t = time.perf_counter()
            make_cohort(tmp / "full", cohort="study", scale=1.0, seed=0, workers=2)
            el = time.perf_counter() - t
            print(f"full study cohort, measured with 2 workers: {el / 60:.1f} min ({total / el:.1f} cells/s)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
