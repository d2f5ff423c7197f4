"""Benchmark: `evaluate` (Step 2b) at the study's neutrophil scale, and its growth.

1. The PN cohort structure (bundled; 19,275 cells, 12 patients), 512 synthetic
   dimensions, the comparison MDS/UBA1-WT/VEXAS: vexscreen's `evaluate` against a
   straightforward loop-based implementation of the same protocol written here
   (per-aggregate `np.where` + `rng.choice` + `np.median`, as the study's code did).
   The numbers must be identical; the ratio of times is printed.
2. Growth: 12, 100, 1,000 patients of 1,000 cells each: time and peak memory
   (child-process max RSS) per size. The study's SVM on 100 aggregates per
   patient scales super-linearly in the number of training aggregates; past a
   time budget the run is stopped and the SVM's growth is measured on subsets.

Run: `make bench` or `.venv/bin/python bench/evaluate.py [--quick]`.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import sys
import time

import numpy as np
import pandas as pd
from sklearn.preprocessing import normalize

from vexscreen.study import study_structure
from vexscreen.data.synthetic import simple_structure, synthetic_encodings
from vexscreen.evaluation import evaluate
from vexscreen.evaluation.classifier import platt_svc
from vexscreen.evaluation.metrics import binary_metrics
from vexscreen.evaluation.splitters import study_resample

CLASSES = ["MDS", "UBA1-WT", "VEXAS"]


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


def part1(quick: bool):
    enc = synthetic_encodings(study_structure("PN"), dim=512, signal=0.15, patient_effect=0.5, seed=7)
    its = 3 if quick else 10
    t = time.perf_counter()
    base = loop_evaluate(enc.X, enc.meta, CLASSES, iterations=its)
    t_base = time.perf_counter() - t
    t = time.perf_counter()
    ours = evaluate(enc, CLASSES, iterations=its, patient_level=False, progress=False)
    t_ours = time.perf_counter() - t
    t = time.perf_counter()
    ours2 = evaluate(enc, CLASSES, iterations=its, patient_level=False, progress=False, n_jobs=2)
    t_ours2 = time.perf_counter() - t
    ours_aucs = [r["auc"] for r in ours["iterations"]]
    identical = ours_aucs == base and [r["auc"] for r in ours2["iterations"]] == base
    print(f"\n## evaluate at the study's PN scale ({len(enc)} cells, 512 dims, 12 patients, "
          f"{'/'.join(CLASSES)}, {its} iterations)")
    print(f"{'implementation':<34}{'time (s)':>10}{'vs loop':>10}")
    print(f"{'loop baseline (study-style)':<34}{t_base:>10.2f}{1.0:>10.2f}")
    print(f"{'vexscreen evaluate, 1 job':<34}{t_ours:>10.2f}{t_base / t_ours:>10.2f}x")
    print(f"{'vexscreen evaluate, 2 jobs':<34}{t_ours2:>10.2f}{t_base / t_ours2:>10.2f}x")
    print(f"identical AUCs per iteration: {identical}  (mean AUC {np.mean(base):.6f})")
    if not identical:
        sys.exit("numbers differ from the baseline")


def _grow_child(n_patients, cells, budget, queue):
    structure = simple_structure({"MDS": n_patients // 2, "VEXAS": n_patients - n_patients // 2},
                                 samples_per_patient=1, cells_per_sample=cells)
    enc = synthetic_encodings(structure, dim=512, signal=0.15, patient_effect=0.5, seed=1)
    t = time.perf_counter()
    r = evaluate(enc, ["MDS", "VEXAS"], iterations=1, patient_level=False, progress=False)
    dt = time.perf_counter() - t
    queue.put((dt, r["aggregate_level"]["auc"]["mean"],
               resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


def svm_growth(sizes, dim=512):
    """Seconds to fit the Platt-scaled RBF SVM on n aggregates, for each n."""
    rng = np.random.default_rng(0)
    out = []
    for n in sizes:
        X = rng.normal(size=(n, dim)).astype(np.float32)
        y = (X[:, 0] + 0.5 * rng.normal(size=n) > 0).astype(int)
        t = time.perf_counter()
        platt_svc().fit(normalize(X), y)
        out.append(time.perf_counter() - t)
    return out


def part2(quick: bool, budget: float):
    print("\n## growth: one iteration of evaluate, 1,000 cells per patient, 512 dims")
    print(f"{'patients':>9}{'cells':>10}{'train aggs':>12}{'time (s)':>10}{'peak RSS (MiB)':>16}")
    sizes = [12, 100] if quick else [12, 100, 1000]
    ctx = mp.get_context("spawn")
    for n in sizes:
        q = ctx.Queue()
        proc = ctx.Process(target=_grow_child, args=(n, 1000, budget, q))
        proc.start()
        proc.join(budget)
        if proc.is_alive():
            proc.terminate()
            proc.join()
            print(f"{n:>9}{n * 1000:>10}{n * 50:>12}{'> ' + str(int(budget)):>10}{'(stopped)':>16}")
            continue
        dt, auc, rss = q.get()
        print(f"{n:>9}{n * 1000:>10}{n * 50:>12}{dt:>10.1f}{rss:>16.0f}")
    ns = [1000, 2000, 4000] if quick else [1000, 2000, 4000, 8000]
    ts = svm_growth(ns)
    slope = np.polyfit(np.log(ns), np.log(ts), 1)[0]
    print("\nSVM fit (Platt-scaled RBF SVC, 6 fits incl. 5-fold calibration) vs training aggregates:")
    for n, t in zip(ns, ts):
        print(f"  {n:>6} aggregates: {t:7.2f} s")
    est = ts[-1] * (50_000 / ns[-1]) ** slope
    print(f"  growth exponent ~{slope:.2f}; 1,000 patients = 50,000 training aggregates "
          f"-> about {est / 60:.0f} min per iteration (x10 iterations).")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer iterations and sizes")
    ap.add_argument("--budget", type=float, default=600, help="seconds per growth size")
    args = ap.parse_args()
    part1(args.quick)
    part2(args.quick, args.budget)


if __name__ == "__main__":
    main()
