"""The loop the calibrated drawing's values were chosen with (docs/experiments.md, section 7b).

Draws normal cells of each kind (a normal donor's: baseline phenotype, no vacuole, no
inclusion, normal granulation; segmented and band neutrophils, monocytes) in a style, with
any of its parameters overridden, measures them (`vexscreen.morphology.measure_cell`) and
prints, per measurement, the real normal cells' median beside the drawn one, the AUC of drawn
against real (0.5: indistinguishable), the spread ratio (drawn 10th-90th range / real), and the
share of cells with a vacuole called (none is drawn: real normal cells give the detector's own
false calls, 3% of neutrophils). Seconds for 100 cells a kind; nothing is written.

The real cells are those experiments/measure_validation.py measured (pass its ``--work``):

    PYTHONPATH=src python experiments/style_calibration.py --work WORK --style calibrated
    PYTHONPATH=src python experiments/style_calibration.py --work WORK --style calibrated \\
        --override '{"granule_amplitude": {"PN": 3.0, "MO": 5.0, "LY": 1.0}}'
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
from vexscreen.morphology import measure_cell  # noqa: E402
from vexscreen.phantom import phenotypes as P  # noqa: E402
from vexscreen.phantom.render import render  # noqa: E402
from vexscreen.phantom.style import Style, get_style  # noqa: E402

#: kind -> (cell type, drawn nucleus shape or None, real folder, real file-name prefix)
KINDS = {"segmented neutrophils": ("PN", "segmented", "neutrophil", "SNE_"),
         "band neutrophils": ("PN", "band", "neutrophil", "BNE_"),
         "monocytes": ("MO", None, "monocyte", "")}
COLUMNS = ("cell_area_um2", "nucleus_area_um2", "nc_ratio", "lobe_bridge_um", "lobe_constriction",
           "nuclear_notches", "nucleus_solidity", "nucleus_od", "cytoplasm_od_red", "cytoplasm_od_green",
           "cytoplasm_od_blue", "granularity")


def normal_cell(args) -> dict:
    """Cell ``i`` of a kind in a style: the first spec of its seed sequence that a normal donor's cell
    of that kind has, rendered and measured."""
    kind, i, style = args
    cell_type, shape = KINDS[kind][:2]
    for j in range(1000):
        spec = P.cell_spec(cell_type, P.BASELINE, P.smear_from_rng(P.generator(99, 8, i % 13)),
                           P.generator(99, 7, i, j), style)
        if not P.is_normal_cell(spec, shape):
            continue
        return {"kind": kind, **measure_cell(render(spec, P.generator(99, 9, i, j), style).image)}
    raise RuntimeError(f"no normal {kind} in 1000 draws")  # pragma: no cover


def with_overrides(name: str, override: str | None) -> Style:
    style = get_style(name)
    if not override:
        return style
    values = json.loads(override)
    if "cytoplasm_od" in values:
        values["cytoplasm_od"] = {k: np.asarray(v, np.float32) for k, v in values["cytoplasm_od"].items()}
    return dataclasses.replace(style, **values)


def compare(real: pd.DataFrame, drawn: pd.DataFrame) -> list[str]:
    lines = []
    for c in COLUMNS:
        a, b = real[c].dropna().to_numpy(float), drawn[c].dropna().to_numpy(float)
        both = np.r_[a, b]
        auc = roc_auc_score(np.r_[np.zeros(len(a)), np.ones(len(b))], both) if np.ptp(both) > 0 else 0.5
        spread = np.subtract(*np.percentile(b, [90, 10])) / max(1e-9, np.subtract(*np.percentile(a, [90, 10])))
        lines.append(f"  {c:20s} real {np.median(a):8.3f}  drawn {np.median(b):8.3f}  AUC {auc:.2f}  spread {spread:.2f}")
    lines.append(f"  {'vacuole called':20s} real {(real.vacuole_count > 0).mean():8.3f}  "
                 f"drawn {(drawn.vacuole_count > 0).mean():8.3f}")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", default="experiments/out/measure_validation", help="measure_validation.py's --work")
    ap.add_argument("--style", default="calibrated")
    ap.add_argument("--override", default=None, metavar="JSON", help="style parameters to replace")
    ap.add_argument("--cells", type=int, default=100, help="cells of each kind, at least 10")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    if args.cells < 10 or args.workers < 1:
        ap.error("--cells must be at least 10 and --workers at least 1")
    real_csv = Path(args.work) / "wbc" / "measurements.csv"
    if not real_csv.is_file():
        ap.error(f"{real_csv}: not found; run experiments/measure_validation.py with this --work first")
    style = with_overrides(args.style, args.override)
    with ProcessPoolExecutor(args.workers) as ex:
        drawn = pd.DataFrame(ex.map(normal_cell, [(k, i, style) for k in KINDS for i in range(args.cells)],
                                    chunksize=4))
    real = pd.read_csv(real_csv)
    real = real[real.quality == "ok"]
    name = real["IMAGE"].str.split("/").str[-1]
    for kind, (_, _, folder, prefix) in KINDS.items():
        r = real[(real.GROUP == folder) & name.str.startswith(prefix)]
        d = drawn[(drawn.kind == kind) & (drawn.quality == "ok")]
        print(f"== {kind}: {len(d)} of {args.cells} drawn measured, {len(r)} real")
        print("\n".join(compare(r, d)))


if __name__ == "__main__":
    main()
