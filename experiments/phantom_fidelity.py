"""How the phantom's drawn normal cells measure beside real normal cells (issue 11, 5a: a faithful phantom).

For each measurement of `vexscreen measure` but the vacuole columns (validated on their own):
real normal cells of ../shared/data/wbc against the phantom's *baseline* cells of the same
kind (drawn with no phenotype feature: normal granulation, no vacuole; monocytes: no vacuole,
no inclusion): segmented neutrophils (real `SNE_` images) against drawn segmented ones, band
neutrophils (`BNE_`) against drawn bands, monocytes against monocytes; as 10th / 50th / 90th
percentiles, the share of phantom cells inside
the real 10th-90th percentile band (80% if they were alike), the ratio of the spreads
(phantom 10th-90th range / real), and the AUC of phantom against real (0.5: the measurement
cannot tell a drawn cell from a real one; near 0 or 1: it nearly always can). Cells flagged
other than ``ok`` are left out. It reads the tables measure_validation.py measured (pass the
same ``--work``): nothing is measured twice.

Run:
    PYTHONPATH=src python experiments/measure_validation.py --phantom PH --real-texture PHR --work WORK
    PYTHONPATH=src python experiments/phantom_fidelity.py --phantom PH --work WORK

writes experiments/results/phantom_fidelity.json; for the calibrated drawing
(``vexscreen phantom --style calibrated``, same cohort and seed) pass
``--json experiments/results/phantom_fidelity_calibrated.json``.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from sklearn.metrics import roc_auc_score

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))
from _provenance import write_results  # noqa: E402
from measure_validation import TYPES, WBC, measure_subset, measured_with_truth, phantom  # noqa: E402

from vexscreen.morphology import COLUMNS, VacuoleParams  # noqa: E402
from vexscreen.morphology.stain import background_rgb  # noqa: E402


#: (name, real folder, real file-name prefix, phantom cell type, drawn nucleus shapes, drawn
#: granulations of a normal donor's cell of that kind: monocytes are drawn low or normal)
KINDS = (("segmented neutrophils", "neutrophil", "SNE_", "PN", ("segmented",), ("normal",)),
         ("band neutrophils", "neutrophil", "BNE_", "PN", ("band",), ("normal",)),
         ("monocytes", "monocyte", "", "MO", ("kidney", "folded"), ("low", "normal")))


def baseline(ph: pd.DataFrame, shapes, granulations) -> pd.DataFrame:
    """The phantom's cells drawn as a normal donor's: these nucleus shapes and granulations,
    no vacuole, no inclusion."""
    keep = (ph.quality == "ok") & (ph.n_vacuoles_drawn == 0) & (ph.n_inclusions_drawn == 0)
    return ph[keep & ph.nucleus_shape.isin(shapes) & ph.granulation.isin(granulations)]


def compare(real: pd.Series, drawn: pd.Series) -> dict:
    """Percentiles of both, the share of drawn values in the real 10th-90th band, the spread
    ratio and the AUC of drawn (1) against real (0)."""
    real, drawn = real.dropna().to_numpy(float), drawn.dropna().to_numpy(float)
    r10, r50, r90 = np.percentile(real, [10, 50, 90])
    d10, d50, d90 = np.percentile(drawn, [10, 50, 90])
    y = np.r_[np.zeros(len(real)), np.ones(len(drawn))]
    auc = roc_auc_score(y, np.r_[real, drawn]) if np.ptp(np.r_[real, drawn]) > 0 else 0.5
    return {"real_10_50_90": [round(float(v), 4) for v in (r10, r50, r90)],
            "phantom_10_50_90": [round(float(v), 4) for v in (d10, d50, d90)],
            "phantom_in_real_band": round(float(np.mean((drawn >= r10) & (drawn <= r90))), 3),
            "spread_ratio": round(float((d90 - d10) / (r90 - r10)), 3) if r90 > r10 else None,
            "auc_phantom_vs_real": round(float(auc), 3)}


def hole_depths(ph: Path, measured: pd.DataFrame) -> dict:
    """How pale the drawn VEXAS-sized vacuoles (radius >= 4 px) are, in the cells where the detector
    found a vacuole and where it found none: per cell, how far the palest pixel of its palest such
    hole lies below the frame's glass (green, grey levels; the detector's core limit is
    ``VacuoleParams.core_below_glass``). A drawn hole keeps some of the cytoplasm's stain, so in
    dark cytoplasm it is greyer."""
    ok = measured[(measured.quality == "ok") & (measured.vacuole_radii.fillna("") != "")]
    found, missed = [], []
    for _, r in ok.iterrows():
        holes = [(float(c.split(":")[0]), float(c.split(":")[1]), float(rad))
                 for c, rad in zip(r.vacuole_centers.split(";"), r.vacuole_radii.split(";")) if float(rad) >= 4]
        if not holes:
            continue
        img = np.asarray(Image.open(ph / r.path).convert("RGB"))
        green, glass = img[..., 1].astype(float), float(background_rgb(img)[1])
        yy, xx = np.mgrid[:green.shape[0], :green.shape[1]]
        palest = min(glass - green[np.hypot(yy - y, xx - x) <= rad - 1.5].max() for x, y, rad in holes)
        (found if r.vacuole_count > 0 else missed).append(round(float(palest), 1))
    return {"core_below_glass_limit": VacuoleParams().core_below_glass, "found": sorted(found),
            "missed": sorted(missed)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--phantom", default="experiments/out/ph_morph", help="phantom made with --cohort study --scale 0.05 --seed 0")
    ap.add_argument("--work", default="experiments/out/measure_validation", help="measure_validation.py's --work")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--json", default="experiments/results/phantom_fidelity.json",
                    help="results file (phantom_fidelity_calibrated.json for a --style calibrated phantom)")
    args = ap.parse_args()
    work = Path(args.work)
    real = measure_subset(WBC, TYPES, work / "wbc", args.workers)
    real["name"] = real["IMAGE"].str.split("/").str[-1]
    drawn = {ct: measured_with_truth(Path(args.phantom), ct, work / f"phantom_{ct}", args.workers) for ct in ("PN", "MO")}
    res = {}
    for name, folder, prefix, ct, shapes, granulations in KINDS:
        r = real[(real.GROUP == folder) & (real.quality == "ok") & real.name.str.startswith(prefix)]
        b = baseline(drawn[ct], shapes, granulations)
        res[name] = {"real_cells": len(r), "phantom_cells": len(b),
                     "columns": {c: compare(r[c], b[c]) for c in COLUMNS if not c.startswith("vacuole")}}
        for c, v in res[name]["columns"].items():
            print(f"{name:22s} {c:24s} real {v['real_10_50_90']}  phantom {v['phantom_10_50_90']}  "
                  f"in band {v['phantom_in_real_band']:.2f}  spread {v['spread_ratio']}  AUC {v['auc_phantom_vs_real']}")
    style = json.loads((Path(args.phantom) / "phantom.json").read_text()).get("style", "drawn")
    # the detectors on these drawn cells (vacuoles, lobes, pseudo-Pelger, granulation), from the
    # same measured tables: measure_validation.py's "phantom" figures, for this drawing
    detection = phantom(Path(args.phantom), work, args.workers)
    for ct in ("PN", "MO"):
        detection[ct]["vexas_sized_holes_below_glass"] = hole_depths(Path(args.phantom), drawn[ct])
    write_results(args.json, {"phantom_style": style, **res, "detection": detection})
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
