"""Touching-vacuole split on or off (docs/morphology.md, "Splitting touching vacuoles"): phantom per-cell
vacuole AUC (phantom: `vexscreen phantom --cohort study --scale 0.05 --seed 0 --out PH`) and the
share of real normal neutrophils / monocytes flagged (every 6th / 4th from index 1 of ../shared/data/wbc).

    PYTHONPATH=src python experiments/vacuole_split_check.py --phantom PH [--wbc ../shared/data/wbc]
"""
import argparse
import dataclasses
from pathlib import Path
import numpy as np, pandas as pd
from concurrent.futures import ProcessPoolExecutor
from sklearn.metrics import roc_auc_score
from vexscreen.data.scan import load_rgb
from vexscreen.morphology import measure_cell, DEFAULT_PARAMS

def one(a):
    path, split = a
    p = dataclasses.replace(DEFAULT_PARAMS, split_clusters=split)
    r = measure_cell(np.asarray(load_rgb(path)), params=p)
    return r["quality"], r["vacuole_count"], r["vacuole_area_um2"]

def run(paths, split):
    with ProcessPoolExecutor(2) as ex:
        return pd.DataFrame(list(ex.map(one, [(str(x), split) for x in paths], chunksize=8)), columns=["q","n","a"])

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--phantom", type=Path, required=True, help="the study phantom (scale 0.05, seed 0)")
    ap.add_argument("--wbc", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data" / "wbc",
                    help="the real normal cells, by cell type (default: ../shared/data/wbc)")
    args = ap.parse_args()
    ph = args.phantom; t = pd.read_csv(ph/"truth.csv", dtype=str)
    t = t[t.set=="cohort"]
    wbc = args.wbc
    neu = sorted((wbc/"neutrophil").glob("*"))[1::6]; mon = sorted((wbc/"monocyte").glob("*"))[1::4]
    for split in (False, True):
        out = {}
        for ct in ("PN","MO"):
            sub = t[t.cell_type==ct]
            r = run([ph/p for p in sub.path], split)
            y = sub.n_vacuoles_drawn.astype(float).fillna(0).to_numpy() > 0
            ok = (r.q=="ok").to_numpy()
            out[ct+"_auc"] = round(roc_auc_score(y[ok], r.a[ok].fillna(0)), 3)
        for name, paths in (("neu", neu), ("mon", mon)):
            r = run(paths, split); ok = r.q=="ok"
            out[name+"_flag"] = round(float((r.n[ok]>=1).mean()), 4); out[name+"_n"] = int(ok.sum())
        print("split", split, out, flush=True)
