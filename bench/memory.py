"""Memory: encode and evaluate at 1,000,000 cells x 512 float32 (2 GB on disk), measured.

1. encode's output path, 1,000,000 rows of 512 float32: ``encode_dataset`` writing
   through ``NpyRows`` (the default ``encode`` now), through Lightning's prediction
   writer (``--accelerator cpu --devices 1``), and into one memory map held open for
   the whole run (``encode`` before issue 14). The encoder is a stand-in (a linear
   map of an 8-number input): the images and the network are not what is measured,
   their memory does not grow with the number of cells; the loop, the batches and
   the writes are encode's own.
2. evaluate on a 1,000-patient x 1,000-cell file (``bench/evaluate.py``'s cohort
   model): ``load_encodings(..., mmap=True)`` (NaN/inf checked block by block) and
   the scalable path (one iteration + the patient level, 2 jobs).

Each measurement runs in its own process: peak RSS (VmHWM: it counts the pages of
a memory-mapped file the process touched, which the kernel can drop at will) and
peak private memory (RssAnon, sampled every 20 ms), which is what a bound is about.

    .venv/bin/python bench/memory.py [--rows 1000000]   (writes bench/results/memory.json)
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _provenance import write_results  # noqa: E402
from evaluate import CLASSES, _memory_sampler, _status, write_cohort  # noqa: E402

DIM = 512


def _stand_in(rows: int):
    import torch
    from torch.utils.data import Dataset

    class Inputs(Dataset):
        def __len__(self):
            return rows

        def __getitem__(self, i):
            return torch.full((8,), float(i % 97) / 97), i

    class Encoder(torch.nn.Module):
        dim = DIM

        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            self.fc = torch.nn.Linear(8, DIM)

        def forward(self, x):
            return self.fc(x)

    return Encoder(), Inputs()


def encode_rows(path: str, rows: int, how: str) -> dict:
    import numpy as np

    from vexscreen.encoder.inference import NpyRows, check_finite, encode_dataset

    encoder, data = _stand_in(rows)
    if how == "open memory map (before)":
        mm = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(rows, DIM))
        encode_dataset(encoder, data, mm, batch_size=256)
        assert np.isfinite(mm).all()
        mm.flush()
        del mm
    elif how == "NpyRows (default now)":
        out = NpyRows.create(path, (rows, DIM))
        encode_dataset(encoder, data, out, batch_size=256)
        check_finite(path)
    else:
        from vexscreen.encoder.prediction import encode_with_lightning

        encode_with_lightning(encoder, data, path, batch_size=256, accelerator="cpu", devices=1)
    return {"rows_written": rows}


def evaluate_mapped(folder: str) -> dict:
    from vexscreen.data import load_encodings
    from vexscreen.evaluation import evaluate

    t = time.perf_counter()
    enc = load_encodings(folder, mmap=True)
    load_s = time.perf_counter() - t
    r = evaluate(enc, CLASSES, iterations=1, method="scalable", n_jobs=2)
    return {"load_s": load_s, "evaluate_s": time.perf_counter() - t - load_s,
            "patient_auc": r["patient_level"]["auc"]}


def _child(target, args, queue):
    peak, stop = {}, threading.Event()
    sampler = threading.Thread(target=_memory_sampler, args=(peak, stop), daemon=True)
    sampler.start()
    base = int(_status()["RssAnon"].split()[0]) / 1024
    t = time.perf_counter()
    out = globals()[target](*args)
    stop.set()
    sampler.join()
    queue.put({**out, "seconds": time.perf_counter() - t, "peak_rss_mib": int(_status()["VmHWM"].split()[0]) / 1024,
               "peak_private_mib": peak["anon_mib"], "private_at_start_mib": base})


def measure(target: str, *args) -> dict:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    proc = ctx.Process(target=_child, args=(target, args, q))
    proc.start()
    out = q.get()
    proc.join()
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=1_000_000, help="cells (rows of 512 float32)")
    p.add_argument("--json", default=str(Path(__file__).resolve().parent / "results" / "memory.json"))
    args = p.parse_args(argv)
    from _common import load_note

    tmp = Path(tempfile.mkdtemp(prefix="vexscreen_bench_mem_"))
    rows = []
    try:
        for how in ("open memory map (before)", "NpyRows (default now)", "Lightning writer, 1 CPU device"):
            r = measure("encode_rows", str(tmp / "e.npy"), args.rows, how)
            rows.append({"step": f"encode {args.rows:,} x {DIM}: {how}", **r})
            (tmp / "e.npy").unlink(missing_ok=True)
            print(rows[-1], flush=True)
        patients = max(2, args.rows // 1000)
        folder = write_cohort(tmp / "cohort", patients, args.rows // patients)
        r = measure("evaluate_mapped", str(folder))
        rows.append({"step": f"evaluate {patients:,} patients x {args.rows // patients:,} cells, memory-mapped "
                             f"(one iteration + patient level, scalable, 2 jobs)", **r})
        print(rows[-1], flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"\n| step | seconds | peak RSS MiB (incl. mapped file pages) | peak private MiB |")
    print("|---|---|---|---|")
    for r in rows:
        print(f"| {r['step']} | {r['seconds']:.1f} | {r['peak_rss_mib']:.0f} | {r['peak_private_mib']:.0f} |")
    note = load_note()
    print(note)
    write_results(args.json, {"rows_per_file": args.rows, "dim": DIM,
                              "file_gb": args.rows * DIM * 4 / 1e9, "load": note, "steps": rows})


if __name__ == "__main__":
    main()
