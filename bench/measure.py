"""Benchmark `vexscreen measure` (issue 11, item 6): cells/s on real 360 x 363 CellaVision frames.

``measure_scan`` end to end (decode, segment, measure, write the parts and the final
files) with 1 and 2 worker processes, beside ``encode_scan`` with the default encoder
(ResNet18, untrained: the speed does not depend on the weights; images padded to 369 px
as `encode` does by default) on the same images in the same run. The aim: >= 20 cells/s
per core, so that measuring is never the slow step of a screen (the CNN encodes ~8/s
per core). Also the CPU time per cell of the 1-worker run (``time.process_time``, which a
busy machine disturbs far less than the wall clock), as cells per CPU-second, and the ratio
of measure's cells/s to encode's images/s in the same run. The load average is printed:
the machine is shared, so numbers from a busy machine are lower bounds.

    nice .venv/bin/python bench/measure.py [--images 192] [--json bench/results/measure.json]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import flat_dir, load_note, real_images  # noqa: E402
from _provenance import ROOT, write_results  # noqa: E402

import torch  # noqa: E402

from vexscreen.data.scan import scan_images  # noqa: E402
from vexscreen.encoder.backbones import build_backbone  # noqa: E402
from vexscreen.encoder.config import Geometry  # noqa: E402
from vexscreen.encoder.encoder_file import save_encoder  # noqa: E402
from vexscreen.encoder.inference import encode_scan  # noqa: E402
from vexscreen.morphology import measure_scan  # noqa: E402


def bench_measure(scan, where: Path, workers: int) -> tuple[float, float]:
    """(cells per second of wall clock, cells per CPU-second of this process: 1 worker only)."""
    t, cpu = time.perf_counter(), time.process_time()
    measure_scan(scan, where, workers=workers)
    return len(scan.images) / (time.perf_counter() - t), len(scan.images) / (time.process_time() - cpu)


def bench_encode(scan, where: Path, workers: int) -> float:
    torch.manual_seed(0)
    enc = where / "encoder.pt"
    save_encoder(enc, build_backbone("resnet18"), Geometry(full_size=272))
    t = time.perf_counter()
    encode_scan(enc, scan, where / "enc", workers=workers, progress=False)
    return len(scan.images) / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", type=int, default=192, help="a multiple of 64: whole chunks for 2 workers")
    ap.add_argument("--json", default=str(ROOT / "bench" / "results" / "measure.json"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        paths = [p for p in real_images(args.images * 2) if p.name.startswith(("SNE_", "BNE_"))][:args.images]
        scan = scan_images(flat_dir(paths, tmp / "images"), progress=False)
        sizes = sorted({(r.width, r.height) for r in scan.images})
        rows = {"images": len(scan.images), "sizes": [f"{w}x{h}" for w, h in sizes], "load_before": load_note()}
        measure_scan(scan, tmp / "warm", workers=1)  # imports and caches warm
        wall, cpu = bench_measure(scan, tmp / "m1", 1)
        rows["measure_cells_per_s_1_worker"] = round(wall, 2)
        rows["measure_cells_per_cpu_s_1_worker"] = round(cpu, 2)
        rows["measure_cells_per_s_2_workers"] = round(bench_measure(scan, tmp / "m2", 2)[0], 2)
        torch.set_num_threads(2)
        rows["encode_images_per_s_resnet18_default"] = round(bench_encode(scan, tmp, workers=2), 2)
        rows["measure_2_workers_over_encode"] = round(rows["measure_cells_per_s_2_workers"]
                                                      / rows["encode_images_per_s_resnet18_default"], 2)
        rows["load_after"] = load_note()
    for k, v in rows.items():
        print(f"{k}: {v}")
    write_results(args.json, rows)
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
