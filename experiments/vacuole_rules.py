"""How the vacuole operating point was chosen (issue 11, 5a/5b; docs/morphology.md, "Operating point").

Real normal cells give the false positives; vacuoles planted into those same cells (the
real-texture phantom) and the drawn study phantom give the sensitivity:

1. every candidate pale spot of every cell, with all the features the tests use
   (`vexscreen.morphology.vacuoles.candidates`), at three hysteresis levels (the core within
   14, 18 or 22 grey levels of the glass), and beside them the pale-halo feature of `measure`
   version 2 (recomputed here; the detector no longer uses it);
2. candidate level: among the spots that pass every other test, how well the halo and the
   punched-out ratio tell a planted hole (radius >= 4 px) from a pale spot of a real normal
   neutrophil (ROC-AUC);
3. cell level, for a grid of rules: real normal neutrophils flagged (calibration half: every 2nd
   by file name from the first; held-out half), cells given a planted vacuole of radius >= 4 px
   that are called (source image in the calibration half / held-out half), real normal monocytes
   flagged, and the drawn phantom's per-cell AUC (score: total area of the vacuoles called);
4. beside the operating point (`DEFAULT_PARAMS`: version 2's limits with the punched-out test for
   the halo test), among the rules that flag <= 3.5% of the calibration half: the one that calls
   the most planted cells of the calibration half (ties: fewer real flags), and the one that flags
   the fewest real cells while calling within one standard error of that best (the usual
   one-standard-error rule). docs/morphology.md reads them;
5. the sizes of the vacuoles called in real normal cells beside the detector's sensitivity by
   the size of a planted hole (`size_evidence`).

    PYTHONPATH=src python experiments/vacuole_rules.py --phantom PH --real-texture PHR

(PH, PHR: the phantoms of experiments/measure_validation.py.) Writes
experiments/results/vacuole_rules.json; about 6 minutes on 2 cores.
"""
from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import ndimage as ndi
from sklearn.metrics import roc_auc_score

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))
from _provenance import write_results  # noqa: E402
from _halves import image_names, rule_half  # noqa: E402

from vexscreen.data import write_csv, write_json  # noqa: E402
from vexscreen.data.scan import load_rgb  # noqa: E402
from vexscreen.morphology import DEFAULT_PARAMS, segment_cell  # noqa: E402
from vexscreen.morphology import vacuoles as V  # noqa: E402

WBC = ROOT.parent / "shared" / "data" / "wbc"
LEVELS = (14.0, 18.0, 22.0)
MAX_CALIBRATION_FLAGGED = 3.5  # % of the calibration half of the real normal neutrophils
_features = V._features


def _with_halo(m, whole, sl, glass, pixel_size, params, maps):
    """The candidate's features plus version 2's halo: the median of the 2-px ring minus the
    median of the cytoplasm 2-6 px beyond it (a sharp outline was asked to have halo <= 16)."""
    f = _features(m, whole, sl, glass, pixel_size, params, maps)
    gs, cyto = maps["green"][sl], maps["cyto"][sl]
    ring = V._ring(m, V.RIM_PX)
    outer = V._ring(m, V.RIM_PX + 4) & ~ring & ~m & cyto
    f["halo"] = float(np.median(gs[ring]) - np.median(gs[outer])) if outer.any() else 0.0
    return f


V._features = _with_halo  # this script only: the v2 halo beside the current features


def planted_holes(centers, radii) -> list[tuple[float, float, float]]:
    """(y, x, radius) px of each planted vacuole, from truth.csv's ``x:y;...`` and ``r;...``."""
    return [(float(c.split(":")[1]), float(c.split(":")[0]), float(r))
            for c, r in zip(str(centers).split(";"), str(radii).split(";")) if ":" in c]


def _cell(job):
    """Segment one image and return every candidate at every level (with its planted match)."""
    path, meta = job
    img = np.asarray(load_rgb(path))
    m = segment_cell(img)
    if not m.ok:
        return meta, None
    green = ndi.gaussian_filter(img[..., 1].astype(np.float32), 0.7)
    planted = planted_holes(meta.get("centers", ""), meta.get("radii", ""))
    rows = []
    for level in LEVELS:
        p = dataclasses.replace(DEFAULT_PARAMS, core_below_glass=level)
        for c in V.candidates(green, float(m.background[1]), m.cell, m.nucleus, 0.1, p):
            c["level"] = level
            c["planted_r"] = max([r for y, x, r in planted if np.hypot(c["y"] - y, c["x"] - x) < max(r, 2.5)],
                                 default=0.0)
            rows.append(c)
    return meta, rows


def real_jobs(folder: str) -> list:
    names = image_names(WBC / folder)
    calibration = rule_half(names)
    return [(WBC / folder / n, {"set": folder, "name": n, "calibration": n in calibration}) for n in names]


def phantom_jobs(ph: Path, ct: str, tag: str, calibration: set) -> list:
    t = pd.read_csv(ph / "truth.csv", keep_default_na=False)
    t = t[(t.set == "cohort") & (t.cell_type == ct)]
    jobs = []
    for r in t.itertuples():
        radii = [float(v) for v in str(r.vacuole_radii).split(";") if v]
        source = Path(str(getattr(r, "source_image", ""))).name
        jobs.append((ph / r.path, {"set": f"{tag}_{ct}", "name": r.path, "radii": str(r.vacuole_radii),
                                   "centers": str(r.vacuole_centers), "rmax": max(radii, default=0.0),
                                   "calibration": source in calibration}))
    return jobs


def collect(jobs: list, workers: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    cells, cands = [], []
    with ProcessPoolExecutor(workers) as ex:
        for meta, rows in ex.map(_cell, jobs, chunksize=16):
            if rows is None:
                continue
            meta = dict(meta, cell=len(cells))
            cells.append(meta)
            cands += [dict(c, cell=meta["cell"], set=meta["set"]) for c in rows]
    return pd.DataFrame(cells), pd.DataFrame(cands)


def passes_all(c: pd.DataFrame, p, max_halo: float) -> np.ndarray:
    """`vacuoles.passes` on every row of ``c`` at once, and the v2 halo limit (``inf``: none)."""
    return (V.passes(c, p) & (c.halo <= max_halo)).to_numpy()


def flagged(n_cells: int, cands: pd.DataFrame, keep: np.ndarray) -> np.ndarray:
    """Per cell (0..n_cells-1), the total area (um2) of the candidates kept."""
    area = np.zeros(n_cells)
    np.add.at(area, cands.cell.to_numpy()[keep], cands.area_um2.to_numpy()[keep])
    return area


def evaluate_rule(cells: pd.DataFrame, by_set: dict, params, max_halo) -> dict:
    out = {}

    def area(name):
        cl, c = by_set[(name, params.core_below_glass)]
        return cl, flagged(len(cl), c, passes_all(c, params, max_halo))

    for st, key in (("neutrophil", "real_PN"), ("monocyte", "real_MO")):
        cl, a = area(st)
        f, cal = a > 0, cl.calibration.to_numpy(bool)
        out[f"{key}_flagged_calibration_pct"] = round(100 * f[cal].mean(), 2) if cal.any() else None
        out[f"{key}_flagged_held_out_pct"] = round(100 * f[~cal].mean(), 2)
        out[f"{key}_flagged_all_pct"] = round(100 * f.mean(), 2)
    for ct in ("PN", "MO"):
        cl, a = area(f"texture_{ct}")
        f, big, cal = a > 0, cl.rmax.to_numpy() >= 4, cl.calibration.to_numpy(bool)
        out[f"texture_{ct}_called_calibration_pct"] = round(100 * f[big & cal].mean(), 1) if (big & cal).any() else None
        out[f"texture_{ct}_called_held_out_pct"] = round(100 * f[big & ~cal].mean(), 1)
        out[f"texture_{ct}_called_all_pct"] = round(100 * f[big].mean(), 1)
        cl, a = area(f"drawn_{ct}")
        out[f"drawn_{ct}_auc"] = round(float(roc_auc_score(cl.rmax.to_numpy() > 0, a)), 3)
    return out


def split(cells: pd.DataFrame, cands: pd.DataFrame) -> dict:
    """{(set, level): (its cells, their candidates at that level with ``cell`` numbered 0..n-1)}."""
    out = {}
    for name, cl in cells.groupby("set"):
        cl = cl.reset_index(drop=True)
        index = pd.Series(np.arange(len(cl)), index=cl.cell.to_numpy())
        for level in LEVELS:
            c = cands[(cands.set == name) & (cands.level == level)].copy()
            c["cell"] = index.loc[c.cell.to_numpy()].to_numpy()
            out[(name, level)] = (cl, c.reset_index(drop=True))
    return out


def candidate_aucs(cands: pd.DataFrame) -> dict:
    """Among spots passing every other test (level 14): halo and plateau, planted vs real."""
    c = cands[cands.level == DEFAULT_PARAMS.core_below_glass]
    others = dataclasses.replace(DEFAULT_PARAMS, min_plateau=0.0)
    c = c[V.passes(c, others)]
    pos = c[(c.set == "texture_PN") & (c.planted_r >= 4)]
    neg = c[c.set == "neutrophil"]
    y = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
    return {"planted_spots": len(pos), "real_normal_spots": len(neg),
            "auc_halo_lower_is_hole": round(float(roc_auc_score(y, -np.r_[pos.halo, neg.halo])), 3),
            "auc_plateau": round(float(roc_auc_score(y, np.r_[pos.plateau, neg.plateau])), 3),
            "plateau_median_planted": round(float(pos.plateau.median()), 3),
            "plateau_median_real": round(float(neg.plateau.median()), 3)}


def grid(cells, by_set) -> pd.DataFrame:
    rows = []
    for level, plateau, halo, contrast, wall, min_d in itertools.product(
            LEVELS, (0.0, 0.45, 0.5, 0.55, 0.6), (16.0, 25.0, np.inf), (20.0, 25.0, 30.0), (5.0, 10.0),
            (0.4, 0.5, 0.6)):
        if plateau > 0 and halo < np.inf:
            continue  # one outline test at a time: the v2 halo, the punched-out ratio, or neither
        p = dataclasses.replace(DEFAULT_PARAMS, core_below_glass=level, min_plateau=plateau,
                                min_rim_contrast=contrast, min_wall=wall, min_diameter_um=min_d)
        rows.append({"core_below_glass": level, "min_plateau": plateau, "max_halo": halo,
                     "min_rim_contrast": contrast, "min_wall": wall, "min_diameter_um": min_d,
                     **evaluate_rule(cells, by_set, p, halo)})
    return pd.DataFrame(rows)


def _plain(row: pd.Series) -> dict:
    return {k: (None if isinstance(v, float) and np.isinf(v) else v) for k, v in row.to_dict().items()}


SIZE_BINS_UM = (0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.2, 1.4, 1.7, 2.0, 3.5)


def size_evidence(cells: pd.DataFrame, cands: pd.DataFrame) -> dict:
    """How large the vacuoles of real normal cells are, beside what the detector can see.

    Per bin of diameter (um): the vacuoles called in real normal neutrophils and monocytes (by
    measured diameter), and the share of planted holes called (by true diameter, 2 x radius x
    0.1 um; real-texture cells), with the median measured / true diameter of those called. Real
    calls that pile up towards the size floor while the detector's sensitivity falls there mean
    that real normal vacuoles are mostly small, not that the detector misses only large ones.
    """
    c = cands[cands.level == DEFAULT_PARAMS.core_below_glass]
    c = c[V.passes(c, DEFAULT_PARAMS)]
    bins = np.asarray(SIZE_BINS_UM)
    out = {"bins_um": list(SIZE_BINS_UM)}
    for st in ("neutrophil", "monocyte"):
        out[f"real_{st}_called_per_bin"] = np.histogram(c[c.set == st].diameter_um, bins)[0].tolist()
    for ct in ("PN", "MO"):
        found, true, ratio = [], [], []
        cl = cells[cells.set == f"texture_{ct}"]
        sub = c[c.set == f"texture_{ct}"]
        by_cell = {k: g for k, g in sub.groupby("cell")}
        none = sub.iloc[:0]
        for r in cl.itertuples():
            g = by_cell.get(r.cell, none)
            for y, x, rad in planted_holes(r.centers, r.radii):
                hit = g[np.hypot(g.x - x, g.y - y) <= rad + 1]
                true.append(0.2 * rad)
                found.append(len(hit) > 0)
                if len(hit):
                    ratio.append(float(hit.diameter_um.iloc[0]) / (0.2 * rad))
        true, found = np.asarray(true), np.asarray(found)
        idx = np.digitize(true, bins) - 1
        out[f"planted_{ct}_holes_per_bin"] = [int((idx == k).sum()) for k in range(len(bins) - 1)]
        out[f"planted_{ct}_called_pct_per_bin"] = [round(100 * float(found[idx == k].mean()), 1)
                                                   if (idx == k).any() else None for k in range(len(bins) - 1)]
        out[f"planted_{ct}_measured_over_true_median"] = round(float(np.median(ratio)), 3)
    return out


def alternatives(table: pd.DataFrame, n: int) -> dict:
    """The best rule by planted calls on the calibration half, and the tightest within one SE of it."""
    ok = table[table.real_PN_flagged_calibration_pct <= MAX_CALIBRATION_FLAGGED]
    key = ["texture_PN_called_calibration_pct", "real_PN_flagged_calibration_pct"]
    best = ok.sort_values(key, ascending=[False, True]).iloc[0]
    p = best.texture_PN_called_calibration_pct / 100
    se = 100 * np.sqrt(p * (1 - p) / max(n, 1))  # n: planted cells (radius >= 4 px) of the calibration half
    near = ok[ok.texture_PN_called_calibration_pct >= best.texture_PN_called_calibration_pct - se]
    tight = near.sort_values(["real_PN_flagged_calibration_pct", "texture_PN_called_calibration_pct"],
                             ascending=[True, False]).iloc[0]
    return {"best": _plain(best), "one_se_pct": round(float(se), 2), "tightest_within_one_se": _plain(tight)}


def cached(jobs: list, args, work: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``collect``, kept in ``work`` (CSV) for re-runs with the same phantoms and measuring code."""
    from vexscreen.morphology.run import MEASURE_VERSION

    stamp = {"version": MEASURE_VERSION, "params": DEFAULT_PARAMS.to_dict(), "levels": list(LEVELS),
             "phantom": str(args.phantom), "real_texture": str(args.real_texture), "jobs": len(jobs)}
    files = work / "cells.csv", work / "candidates.csv", work / "stamp.json"
    if all(f.is_file() for f in files) and json.loads(files[2].read_text()) == stamp:
        return (pd.read_csv(files[0], dtype={"name": str, "set": str, "radii": str, "centers": str}),
                pd.read_csv(files[1]))
    cells, cands = collect(jobs, args.workers)
    work.mkdir(parents=True, exist_ok=True)
    write_csv(files[0], cells)
    write_csv(files[1], cands)
    write_json(files[2], stamp)
    return cells, cands


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--phantom", required=True, help="drawn study phantom (scale 0.05, seed 0)")
    ap.add_argument("--real-texture", required=True, help="real-texture phantom (scale 0.2, PN,MO, seed 0)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--work", default="experiments/out/vacuole_rules", help="cache of the candidates")
    args = ap.parse_args()
    calibration = {j[1]["name"] for j in real_jobs("neutrophil") if j[1]["calibration"]}
    jobs = real_jobs("neutrophil") + real_jobs("monocyte")
    for ct in ("PN", "MO"):
        jobs += phantom_jobs(Path(args.real_texture), ct, "texture", calibration)
        jobs += phantom_jobs(Path(args.phantom), ct, "drawn", set())
    cells, cands = cached(jobs, args, Path(args.work))
    by_set = split(cells, cands)
    table = grid(cells, by_set)
    texture = cells[(cells.set == "texture_PN") & (cells.rmax >= 4)]
    res = {"cells": cells.set.value_counts().to_dict(), "candidate_level": candidate_aucs(cands),
           "max_calibration_flagged_pct": MAX_CALIBRATION_FLAGGED,
           "planted_cells_radius_ge_4px": {"calibration": int(texture.calibration.sum()),
                                           "held_out": int((~texture.calibration.astype(bool)).sum())},
           "operating_point": {"params": DEFAULT_PARAMS.to_dict(),
                               **evaluate_rule(cells, by_set, DEFAULT_PARAMS, np.inf)},
           "alternatives": alternatives(table, int(texture.calibration.sum())),
           "size_evidence": size_evidence(cells, cands),
           "grid": [{k: (None if isinstance(v, float) and np.isinf(v) else v) for k, v in r.items()}
                    for r in table.to_dict("records")]}
    path = write_results(ROOT / "experiments" / "results" / "vacuole_rules.json", res)
    pd.set_option("display.width", 250)
    print(table[table.real_PN_flagged_calibration_pct <= MAX_CALIBRATION_FLAGGED]
          .sort_values("texture_PN_called_calibration_pct", ascending=False).head(15).to_string())
    print({k: res[k] for k in ("candidate_level", "operating_point", "alternatives")})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
