"""How strong a change of stain does the applicability check see, and what does it do to the verdicts?

The held-out screening on real texture (screen_heldout.py --source-images) fits a model on a
reference made of real normal cells of ../shared/data/wbc (vacuoles planted as the phenotype
says) and screens 18 held-out patients made the same way. Here every image of those held-out
patients is re-stained: its optical density, OD = -log10((I + 1) / 256) per RGB channel, is
multiplied by ``1 + s`` (a smear stained more, s > 0, or less, s < 0, than the reference's: the
commonest difference between two labs' or two days' May-Grünwald-Giemsa), then screened by the
same model. Per level s: how many patients the applicability check flags (docs/screening.md,
section 4b), their distances against the reference patients', and what happens to the scores and
verdicts (AUC of VEXAS against the others, VEXAS and others called VEXAS-like). s = 0 re-screens
the patients unchanged (the screen_heldout.py row). And which measurements the stain moves: per
cell type and level, the share of vacuolated cells per class, and each column's shift of the
held-out patients' mean from s = 0, in standard deviations of the reference patients' values.

Run (after screen_heldout.py's real-texture run, whose OUT it reuses; about 1 min per level):

    .venv/bin/python experiments/stain_shift.py --out experiments/out/screen_heldout_rt \\
        --source-images ../shared/data/wbc

`--measurement-columns stain_robust` fits the model without the columns that read the stain's
intensity (optical densities, texture energy).

Writes experiments/results/stain_shift[_stain_robust].json (``--json`` to change).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from vexscreen.cli import library_log
from vexscreen.demo import DEMO_PHANTOM
from vexscreen.exceptions import InputError
from vexscreen.model import ReferenceModel
from vexscreen.phantom import make_cohort

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "bench"))
from _provenance import write_results  # noqa: E402
from screen_heldout import (CELL_TYPES, CLASSES, applicability_row, figures, heldout_folders,  # noqa: E402
                            package_source, reference_blocks)

LEVELS = "-0.3,-0.2,-0.1,-0.05,0,0.05,0.1,0.2,0.3"


def restain(rgb: np.ndarray, s: float) -> np.ndarray:
    """``rgb`` (uint8) with its optical density per channel multiplied by ``1 + s``."""
    od = -np.log10((rgb.astype(np.float64) + 1.0) / 256.0)
    return np.clip(np.rint(256.0 * 10.0 ** (-od * (1.0 + s)) - 1.0), 0, 255).astype(np.uint8)


def restained_patient(folder: Path, out: Path, s: float) -> Path:
    """A copy of the patient folder with every image re-stained (kept: a re-run reuses it)."""
    done = out.parent / f".{out.name}.complete"  # beside the folder: a patient folder holds images only
    if done.is_file():
        return out
    for f in sorted(p for p in folder.rglob("*") if p.is_file()):
        target = out / f.relative_to(folder)
        target.parent.mkdir(parents=True, exist_ok=True)
        with Image.open(f) as im:
            Image.fromarray(restain(np.asarray(im.convert("RGB")), s)).save(target.with_suffix(".png"))
    done.touch()
    return out


def measurement_shifts(model, out: Path, levels, folders: dict, tag: str = "") -> dict:
    """Per cell type: vacuolated % per class and level, and each column's shift from s = 0 in
    reference-patient standard deviations (from the measurements.csv each screening kept)."""
    import pandas as pd

    result = {}
    for ct in CELL_TYPES:
        ref = (model.measurements_.get(ct) or {}).get("reference") or {}
        sd = {k: float(np.std([v for v in e["patients"].values() if v is not None], ddof=1)) for k, e in ref.items()}
        means, vacuolated = {}, {}
        for s in levels:
            rows = []
            for folder, truth in folders.items():
                f = out / f"screened{tag}_restained_{s:+.2f}" / folder.parent.name / folder.name / ct / "measurements"
                t = pd.read_csv(f / "measurements.csv")
                rows.append({"class": truth, "vacuolated": 100.0 * float((t["vacuole_count"] > 0).mean()),
                             **{c: float(t[c].mean()) for c in sd if c in t.columns}})
            frame = pd.DataFrame(rows)
            vacuolated[f"{s:+.2f}"] = {c: float(v) for c, v in frame.groupby("class")["vacuolated"].mean().items()}
            means[s] = frame
        base = means[0.0] if 0.0 in means else None
        shifts = {} if base is None else {
            f"{s:+.2f}": {c: float((frame[c].mean() - base[c].mean()) / sd[c])
                          for c in sd if c in frame.columns and sd[c] > 0}
            for s, frame in means.items()}
        result[ct] = {"vacuolated_percent_by_class": vacuolated, "column_shift_in_reference_sd": shifts}
    return result


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("experiments/out/screen_heldout_rt"))
    ap.add_argument("--source-images", type=Path, required=True, metavar="DIR",
                    help="the real cells the reference and held-out patients are made of")
    ap.add_argument("--levels", default=LEVELS, help="stain changes s: optical density x (1 + s)")
    ap.add_argument("--seeds", default="11,12,13", help="held-out cohorts, as screen_heldout.py")
    ap.add_argument("--cells", type=int, default=18, help="cells of each type per smear, as screen_heldout.py")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--measurement-columns", choices=("all", "stain_robust"), default="all",
                    help="the model's measurement columns (fit-model --measurement-columns)")
    ap.add_argument("--json", type=Path, default=None,
                    help="default experiments/results/stain_shift[_stain_robust].json")
    args = ap.parse_args(argv)
    try:
        levels = [float(v) for v in args.levels.split(",")]
    except ValueError:
        ap.error(f"--levels: comma-separated numbers, got {args.levels!r}")
    if any(not -1.0 < v < 3.0 for v in levels):
        ap.error("--levels: each s must lie in (-1, 3)")
    if not args.source_images.is_dir():
        raise InputError("not a folder of real cell images", args.source_images)
    library_log()
    t0 = time.perf_counter()
    reference = make_cohort(args.out / "reference_real_texture", **{**DEMO_PHANTOM, "encoder_test_per_group": 0},
                            workers=args.workers, cell_types=CELL_TYPES, source_images=args.source_images)
    blocks = reference_blocks(Path("."), args.out, "measurements", args.workers, phantom=reference)
    model = ReferenceModel(classes=CLASSES, cell_types=CELL_TYPES, statistic="mean",
                           measurement_columns=args.measurement_columns).fit(blocks)
    tag = "" if args.measurement_columns == "all" else f"_{args.measurement_columns}"
    folders = heldout_folders(args.out, [int(s) for s in args.seeds.split(",")], args.cells, args.workers,
                              args.source_images)
    per_level = []
    for s in levels:
        rows = []
        for folder, truth in folders.items():
            name = f"{folder.parent.name}/{folder.name}"
            patient = folder if s == 0 else restained_patient(folder, args.out / f"restained_{s:+.2f}" / name, s)
            r = model.screen(patient, args.out / f"screened{tag}_restained_{s:+.2f}" / name)
            rows.append({"patient": name, "truth": truth, "probability": r.probability, "verdict": r.verdict,
                         **applicability_row(r.applicability)})
        fig = figures(rows)
        d = [r["reference_distance"] for r in rows]
        per_level.append({"s": s, "flagged": fig["unlike_reference"]["flagged"], "checked": len(rows),
                          "distance_range": [float(min(d)), float(max(d))],
                          "auc_vexas_vs_others": fig["VEXAS vs MDS+UBA1-WT"]["auc"],
                          "vexas_called": sum(r["verdict"] == "VEXAS-like" for r in rows if r["truth"] == "VEXAS"),
                          "others_called": sum(r["verdict"] == "VEXAS-like" for r in rows if r["truth"] != "VEXAS"),
                          "vexas_scores": [round(r["probability"], 4) for r in rows if r["truth"] == "VEXAS"],
                          "highest_other": fig["highest_other"], "patients": rows})
        lv = per_level[-1]
        print(f"s = {s:+.2f}: flagged {lv['flagged']} of {len(rows)}, distances {min(d):.2f}-{max(d):.2f}; "
              f"AUC {lv['auc_vexas_vs_others']:.2f}; VEXAS called {lv['vexas_called']} of 6, others "
              f"{lv['others_called']} of 12; VEXAS {min(lv['vexas_scores']):.2f}-{max(lv['vexas_scores']):.2f}, "
              f"highest other {lv['highest_other']:.2f}", flush=True)
    ref_range = rows[0]["reference_range"] if rows else None
    shifts = measurement_shifts(model, args.out, levels, folders, tag)
    for ct, r in shifts.items():
        print(f"{ct}: vacuolated % by class per level: {r['vacuolated_percent_by_class']}")
        top = sorted(r["column_shift_in_reference_sd"].get(f"{max(levels):+.2f}", {}).items(), key=lambda kv: -abs(kv[1]))
        print(f"{ct}: largest shifts at s = {max(levels):+.2f} (reference sds): "
              + ", ".join(f"{c} {v:+.1f}" for c, v in top[:6]))
    result = {"levels": per_level, "reference_range": ref_range, "measurement_shifts": shifts, "model_settings": {
                  k: (list(v) if isinstance(v, tuple) else v) for k, v in model.get_params().items()},
              "seconds": round(time.perf_counter() - t0, 1), "vexscreen_source": package_source()}
    print(write_results(args.json or HERE / "results" / f"stain_shift{tag}.json", result))


if __name__ == "__main__":
    main()
