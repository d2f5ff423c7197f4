"""Benchmark: `evaluate` (Step 2b), the exact protocol beside the scalable path, and how both grow.

1. study: the PN cohort structure (bundled; 19,275 cells, 12 patients), 512 synthetic
   dimensions, MDS/UBA1-WT/VEXAS: vexscreen's `evaluate` against a loop-based
   implementation of the same protocol written here (per-aggregate `np.where` +
   `rng.choice` + `np.median`, as the study's code did). Identical numbers required.
2. classifiers: what each scalable choice costs in AUC against the exact SVM, same
   20 v 20 cohort, same splits and seeds: the study's SVM on 20 instead of 100
   aggregates per training patient, the Nystroem + linear SVM on 100 or on 20.
3. targets: 20 v 20 patients (1,000 cells each, 512 dims), the full `evaluate`
   (10 iterations + patient level) by default (`method="auto"`) and by the exact
   path, side by side; 1,000 patients is the growth table's row.
4. growth: 12 / 100 / 1,000 / 10,000 patients (1,000 cells each; 100 at 10,000),
   512 dims, encodings written to disk and read memory-mapped
   (`load_encodings(..., mmap=True)`), each size in its own process: one
   iteration + the patient-level figure, peak memory (VmHWM, the memory map's
   pages included; and the private memory alone), AUCs; the exact path where it
   runs (12: everything; 100: the iterations).
5. calibration: the scalable patient level on null cohorts (no group signal, strong
   patient effects): mean AUC (chance = 0.5), its spread against the permutation
   null's, and how often the default (scores-fixed) p-value falls below 0.05.

All cohorts: vexscreen.data.synthetic's model (group shift `signal`, patient offsets),
MDS v VEXAS. Run once, on a quiet machine if possible (`--part` runs some parts):
`.venv/bin/python bench/evaluate.py`. Results: bench/results/evaluate.json.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _provenance import write_results  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.preprocessing import normalize  # noqa: E402

from vexscreen.data import load_encodings  # noqa: E402
from vexscreen.data.atomic import write_csv  # noqa: E402
from vexscreen.data.synthetic import simple_structure, synthetic_encodings  # noqa: E402
from vexscreen.evaluation import ScaleConfig, evaluate  # noqa: E402
from vexscreen.evaluation.classifier import nystroem_svc, platt_svc  # noqa: E402
from vexscreen.evaluation.metrics import binary_metrics  # noqa: E402
from vexscreen.evaluation.splitters import study_resample  # noqa: E402
from vexscreen.study import study_structure  # noqa: E402

STUDY_CLASSES = ["MDS", "UBA1-WT", "VEXAS"]
CLASSES = ["MDS", "VEXAS"]
SIGNAL, PATIENT_EFFECT = 0.1, 0.5


# ------------------------------------------------------------------ 1. the study's scale
def loop_evaluate(X, meta, classes, iterations=10, n_agg=100, size=10, seed=4512):
    """The protocol written plainly, loop by loop, as a baseline."""
    keep = meta["GROUP"].isin(classes).to_numpy()
    X = normalize(X[keep])
    P = meta["PATIENT"].to_numpy()[keep]
    G = meta["GROUP"].to_numpy()[keep]
    table = pd.DataFrame({"PATIENT": P, "GROUP": G}).drop_duplicates()
    ids, grp = table["PATIENT"].to_numpy(), table["GROUP"].to_numpy()
    aucs = []
    for n in range(iterations):
        s = seed + n
        train = study_resample(ids, len(ids) * 0.5, grp, s)
        test = np.setdiff1d(ids, train)
        rng = np.random.RandomState(s)

        def aggregates(patients):
            A, y = [], []
            for p in patients:
                for _ in range(n_agg):
                    idx = rng.choice(np.where(P == p)[0], size=size)
                    A.append(np.median(X[idx], axis=0))
                    y.append(int(G[idx[0]] == classes[-1]))
            return np.array(A), np.array(y)

        A_tr, y_tr = aggregates(train)
        A_te, y_te = aggregates(test)
        p = platt_svc().fit(A_tr, y_tr).predict_proba(A_te)[:, 1]
        aucs.append(binary_metrics(y_te, p)["auc"])
    return aucs


def part_study(quick: bool) -> dict:
    enc = synthetic_encodings(study_structure("PN"), dim=512, signal=0.15, patient_effect=0.5, seed=7)
    its = 3 if quick else 10
    t = time.perf_counter()
    base = loop_evaluate(enc.X, enc.meta, STUDY_CLASSES, iterations=its)
    t_base = time.perf_counter() - t
    times, same = {}, True
    for jobs in (1, 2):
        t = time.perf_counter()
        ours = evaluate(enc, STUDY_CLASSES, iterations=its, patient_level=False, n_jobs=jobs)
        times[jobs] = time.perf_counter() - t
        same &= [r["auc"] for r in ours["iterations"]] == base
    print(f"\n## 1. evaluate at the study's PN scale ({len(enc)} cells, 512 dims, 12 patients, "
          f"{'/'.join(STUDY_CLASSES)}, {its} iterations, exact path)")
    print(f"{'implementation':<34}{'time (s)':>10}{'vs loop':>10}")
    print(f"{'loop baseline (study-style)':<34}{t_base:>10.2f}{1.0:>10.2f}")
    for jobs, t in times.items():
        print(f"{f'vexscreen evaluate, {jobs} job(s)':<34}{t:>10.2f}{t_base / t:>10.2f}x")
    print(f"identical AUCs per iteration: {same}  (mean AUC {np.mean(base):.6f})")
    if not same:
        sys.exit("numbers differ from the baseline")
    return {"loop_s": t_base, "evaluate_s": times, "identical": same, "mean_auc": float(np.mean(base))}


# ------------------------------------------------------------------ cohorts on disk, runs in a child
def write_cohort(folder: Path, n_patients: int, cells: int, dim: int = 512, signal: float = SIGNAL,
                 patient_effect: float = PATIENT_EFFECT, seed: int = 1) -> Path:
    """Half MDS, half VEXAS, ``cells`` per patient (vexscreen.data.synthetic's model), written patient
    by patient into ``encodings.npy`` (never whole in memory) + ``metadata.csv``."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)

    def unit():
        v = rng.normal(size=dim)
        return v / np.linalg.norm(v)

    mu = 3.0 * unit()
    shift = signal * unit()
    n_neg = n_patients // 2
    X = np.lib.format.open_memmap(folder / "encodings.npy", mode="w+", dtype=np.float32,
                                  shape=(n_patients * cells, dim))
    names, groups = [], []
    for i in range(n_patients):
        group = "MDS" if i < n_neg else "VEXAS"
        base = mu + patient_effect * unit() + (shift if group == "VEXAS" else 0.0)
        X[i * cells:(i + 1) * cells] = base + rng.normal(scale=1 / np.sqrt(dim), size=(cells, dim))
        names.append(f"{group}[{i + 1 if i < n_neg else i + 1 - n_neg}]")
        groups.append(group)
    X.flush()
    del X
    write_csv(folder / "metadata.csv", pd.DataFrame({"PATIENT": np.repeat(names, cells),
                                                     "SAMPLE": np.repeat(names, cells),
                                                     "GROUP": np.repeat(groups, cells)}))
    return folder


def _status() -> dict:
    with open("/proc/self/status") as f:
        return dict(line.split(":", 1) for line in f if ":" in line)


def _memory_sampler(peak: dict, stop: threading.Event):
    """Peak private (anonymous) memory of this process, read from /proc every 20 ms."""
    while not stop.is_set():
        status = _status()
        peak["anon_mib"] = max(peak.get("anon_mib", 0), int(status["RssAnon"].split()[0]) / 1024)
        stop.wait(0.02)


def _child(folder, kwargs, queue):
    peak, stop = {}, threading.Event()
    sampler = threading.Thread(target=_memory_sampler, args=(peak, stop), daemon=True)
    sampler.start()
    t0 = time.perf_counter()
    enc = load_encodings(folder, mmap=True)
    load_s = time.perf_counter() - t0
    r = evaluate(enc, CLASSES, **kwargs)
    stop.set()
    sampler.join()
    status = _status()
    pl = r.get("patient_level") or {}
    queue.put({"load_s": load_s, "total_s": time.perf_counter() - t0, "method": r["parameters"]["method"],
               "iterations": len(r["iterations"]), "iterations_s": r["timing"]["iterations_s"],
               "iteration_aucs": [it["auc"] for it in r["iterations"]],
               "patient_level_s": r["timing"].get("patient_level_s"),
               "aggregate_auc": r["aggregate_level"]["auc"]["mean"], "patient_auc": pl.get("auc"),
               "pair_auc": pl.get("leave_pair_out_auc", pl.get("pair_auc")), "patient_method": pl.get("method"),
               "peak_rss_mib": int(status["VmHWM"].split()[0]) / 1024, "peak_private_mib": peak["anon_mib"]})


def run_child(folder: Path, budget: float, **kwargs) -> dict | None:
    """``evaluate`` on the memory-mapped cohort in ``folder``, in a fresh process; None past ``budget`` s."""
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    proc = ctx.Process(target=_child, args=(folder, kwargs, q))
    proc.start()
    t = time.perf_counter()
    while proc.is_alive() and time.perf_counter() - t < budget:
        try:
            return q.get(timeout=5)
        except Exception:
            continue
    if proc.is_alive():
        proc.terminate()
    proc.join()
    return q.get(timeout=1) if not q.empty() else None


# ------------------------------------------------------------------ 2. classifiers, 3. targets
def part_classifiers(folder: Path, exact_aucs: list[float] | None) -> list[dict]:
    """Mean aggregate-level AUC over the 10 iterations, each choice against the exact SVM."""
    enc = load_encodings(folder, mmap=True)
    choices = [("exact: SVC on 100 aggregates per training patient", "exact", None),
               ("SVC on 20 aggregates per training patient", "scalable", ScaleConfig(classifier="svc")),
               ("Nystroem(300) + linear SVM on 100", "scalable", ScaleConfig(aggregates=100)),
               ("Nystroem(300) + linear SVM on 20 (default)", "scalable", ScaleConfig()),
               ("Nystroem(1000) + linear SVM on 20", "scalable", ScaleConfig(components=1000))]
    rows = []
    for label, method, cfg in choices:
        if method == "exact" and exact_aucs is not None:
            aucs, seconds = exact_aucs, None
        else:
            t = time.perf_counter()
            r = evaluate(enc, CLASSES, method=method, scale=cfg, patient_level=False, n_jobs=2)
            aucs, seconds = [it["auc"] for it in r["iterations"]], time.perf_counter() - t
        rows.append({"classifier": label, "mean_auc": float(np.mean(aucs)), "seconds_10_iterations": seconds,
                     "aucs": aucs})
    ref = rows[0]["mean_auc"]
    print("\n## 2. what each scalable choice costs in AUC (20 v 20 patients, 1,000 cells, 512 dims; "
          "same 10 splits and seeds; 2 jobs)")
    print("| classifier | mean AUC (10 iterations) | vs exact | time, 10 iterations (s) |")
    print("|---|---|---|---|")
    for r in rows:
        r["vs_exact"] = r["mean_auc"] - ref
        s = "(part 3)" if r["seconds_10_iterations"] is None else f"{r['seconds_10_iterations']:.1f}"
        print(f"| {r['classifier']} | {r['mean_auc']:.4f} | {r['vs_exact']:+.4f} | {s} |")
    return rows


def part_targets(folder: Path, budget: float) -> dict:
    auto = run_child(folder, budget, n_jobs=2)
    exact = run_child(folder, budget * 20, n_jobs=2, method="exact")
    print("\n## 3. target: 20 v 20 patients (1,000 cells each, 512 dims), full evaluate "
          "(10 iterations + patient level), 2 jobs")
    print("| path | time (s) | aggregate AUC | patient AUC | pair AUC | patient-level method | peak RSS MiB |")
    print("|---|---|---|---|---|---|---|")
    for label, r in (("default (auto -> scalable)", auto), ("exact", exact)):
        if r is None:
            print(f"| {label} | > budget | | | | | |")
            continue
        print(f"| {label} | {r['total_s']:.1f} | {r['aggregate_auc']:.4f} | {r['patient_auc']:.4f} | "
              f"{r['pair_auc']:.4f} | {r['patient_method']} | {r['peak_rss_mib']:.0f} |")
    if auto and exact:
        print(f"speed-up {exact['total_s'] / auto['total_s']:.0f}x; differences (scalable - exact): aggregate "
              f"{auto['aggregate_auc'] - exact['aggregate_auc']:+.4f}, patient {auto['patient_auc'] - exact['patient_auc']:+.4f} "
              f"(K-fold vs leave-one-patient-out), pair {auto['pair_auc'] - exact['pair_auc']:+.4f} "
              f"(within-fold pairs vs leave-pair-out); target <= 30 s: {auto['total_s'] <= 30}")
    return {"auto": auto, "exact": exact}


# ------------------------------------------------------------------ 4. growth
GROWTH = [(12, 1000), (100, 1000), (1000, 1000), (10000, 100)]


def _growth_row(n, cells, folder, budget) -> dict:
    its = 10 if n <= 100 else 1
    row = {"patients": n, "cells_per_patient": cells, "cells": n * cells, "iterations": its,
           "scalable": run_child(folder, budget, n_jobs=2, method="scalable", iterations=its)}
    if n <= 100:  # the exact path: everything at 12 patients, the iterations at 100 (LOPO: 100 SVMs on 9,900)
        row["exact"] = run_child(folder, budget * 10, n_jobs=2, method="exact", iterations=its,
                                 patient_level=n <= 12)
    for path in ("scalable", "exact"):
        r = row.get(path)
        if r:  # one iteration + the patient-level figure
            r["one_iteration_plus_patient_level_s"] = r["iterations_s"] / its + (r["patient_level_s"] or 0)
    return row


def part_growth(tmp: Path, budget: float, sizes) -> list[dict]:
    rows = []
    for n, cells in GROWTH:
        if n not in sizes:
            continue
        folder = write_cohort(tmp / f"n{n}", n, cells)
        rows.append(_growth_row(n, cells, folder, budget))
        shutil.rmtree(folder)
        _print_growth(rows)
    return rows


def _fmt(x, f="{:.1f}"):
    return "-" if x is None else f.format(x)


def _print_growth(rows):
    print("\n## 4. growth: one iteration + the patient-level figure, 512 dims, read memory-mapped, 2 jobs")
    print("| patients | cells | scalable: 1 iteration + patient level (s) | load (s) | peak RSS / private MiB "
          "| aggregate AUC | patient AUC | pair AUC | exact: same (s) | exact aggregate AUC | exact patient "
          "AUC (LOPO) | exact leave-pair-out AUC |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        s, e = row["scalable"] or {}, row.get("exact") or {}
        exact_time = e.get("one_iteration_plus_patient_level_s") if e.get("patient_level_s") else (
            e["iterations_s"] / row["iterations"] if e else None)
        print(f"| {row['patients']:,} | {row['cells']:,} | {_fmt(s.get('one_iteration_plus_patient_level_s'))} "
              f"| {_fmt(s.get('load_s'))} | {_fmt(s.get('peak_rss_mib'), '{:.0f}')} / "
              f"{_fmt(s.get('peak_private_mib'), '{:.0f}')} | {_fmt(s.get('aggregate_auc'), '{:.3f}')} "
              f"| {_fmt(s.get('patient_auc'), '{:.3f}')} | {_fmt(s.get('pair_auc'), '{:.3f}')} "
              f"| {_fmt(exact_time)}{'' if e.get('patient_level_s') or not e else ' (iteration only)'} "
              f"| {_fmt(e.get('aggregate_auc'), '{:.3f}')} | {_fmt(e.get('patient_auc'), '{:.3f}')} "
              f"| {_fmt(e.get('pair_auc'), '{:.3f}')} |")


def fit_growth(sizes_svc=(1000, 2000, 4000, 8000), sizes_ny=(5000, 20000, 80000), dim=512) -> dict:
    """Seconds to fit each classifier on n aggregates; the growth exponent of each."""
    rng = np.random.default_rng(0)
    out = {}
    for name, make, sizes in (("platt_svc (exact)", platt_svc, sizes_svc),
                              ("nystroem_svc (scalable)", lambda: nystroem_svc(random_state=0), sizes_ny)):
        ts = []
        for n in sizes:
            X = normalize(rng.normal(size=(n, dim)).astype(np.float32))
            y = (X[:, 0] + 0.02 * rng.normal(size=n) > 0).astype(int)
            t = time.perf_counter()
            make().fit(X, y)
            ts.append(time.perf_counter() - t)
        out[name] = {"sizes": list(sizes), "seconds": ts, "exponent": float(np.polyfit(np.log(sizes), np.log(ts), 1)[0])}
    print("\nclassifier fit vs training aggregates (512 dims):")
    for name, r in out.items():
        print(f"  {name}: " + ", ".join(f"{n:,}: {t:.2f} s" for n, t in zip(r["sizes"], r["seconds"]))
              + f"; exponent {r['exponent']:.2f}")
    return out


# ------------------------------------------------------------------ 5. calibration on null cohorts
def part_calibration(seeds: int, sizes=(20, 100)) -> list[dict]:
    from threadpoolctl import threadpool_limits

    rows = []
    for n in sizes:
        res = []
        for seed in range(seeds):
            structure = simple_structure({"MDS": n, "VEXAS": n}, samples_per_patient=1, cells_per_sample=30)
            enc = synthetic_encodings(structure, dim=32, signal=0.0, patient_effect=1.0, seed=500 + seed)
            with threadpool_limits(1):
                pl = evaluate(enc, CLASSES, iterations=1, method="scalable", seed=seed)["patient_level"]
            res.append((pl["auc"], pl["pair_auc"], pl["p_value"]))
        a = np.array(res)
        rows.append({"patients_per_class": n, "cohorts": seeds, "mean_auc": a[:, 0].mean(), "sd_auc": a[:, 0].std(),
                     "permutation_sd": float(np.sqrt((2 * n + 1) / (12 * n * n))), "mean_pair_auc": a[:, 1].mean(),
                     "p_below_0.05": float((a[:, 2] < 0.05).mean())})
    print("\n## 5. scalable patient level on null cohorts (no group signal, patient effect 1.0, 32 dims, 30 cells)")
    print("| patients | cohorts | mean AUC | sd | permutation sd | mean pair AUC | share p < 0.05 |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['patients_per_class']} v {r['patients_per_class']} | {r['cohorts']} | {r['mean_auc']:.3f} "
              f"| {r['sd_auc']:.3f} | {r['permutation_sd']:.3f} | {r['mean_pair_auc']:.3f} | {r['p_below_0.05']:.2f} |")
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--part", default="study,targets,classifiers,growth,fits,calibration",
                    help="comma-separated parts to run")
    ap.add_argument("--sizes", default="12,100,1000,10000", help="growth sizes (patients)")
    ap.add_argument("--quick", action="store_true", help="part 1 with 3 iterations")
    ap.add_argument("--budget", type=float, default=900, help="seconds per run of the scalable path")
    ap.add_argument("--seeds", type=int, default=40, help="null cohorts per size in part 5")
    ap.add_argument("--json", default=str(Path(__file__).resolve().parent / "results" / "evaluate.json"))
    args = ap.parse_args(argv)
    from _common import load_note  # here, not at the top: it loads torch, which the measured children must not

    parts = set(args.part.split(","))
    out = {"load_at_start": load_note(), "cpu_count": os.cpu_count(), "signal": SIGNAL,
           "patient_effect": PATIENT_EFFECT}
    tmp = Path(tempfile.mkdtemp(prefix="vexscreen_bench_eval_"))
    try:
        if "study" in parts:
            out["study"] = part_study(args.quick)
        if parts & {"targets", "classifiers"}:
            folder = write_cohort(tmp / "n40", 40, 1000)
            if "targets" in parts:
                out["targets"] = part_targets(folder, args.budget)
            if "classifiers" in parts:
                exact = (out.get("targets") or {}).get("exact")
                out["classifiers"] = part_classifiers(folder, exact["iteration_aucs"] if exact else None)
        if "growth" in parts:
            out["growth"] = part_growth(tmp, args.budget, {int(s) for s in args.sizes.split(",")})
        if "fits" in parts:
            out["fits"] = fit_growth()
        if "calibration" in parts:
            out["calibration"] = part_calibration(args.seeds)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    out["load_at_end"] = load_note()
    print(f"\nload: at start {out['load_at_start']}; at end {out['load_at_end']}")
    write_results(args.json, out)


if __name__ == "__main__":
    main()
