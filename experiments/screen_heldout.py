"""Screening held-out phantom patients (issue 12, "Done when"): do unseen VEXAS patients score higher?

A reference model is fitted on a study-structured phantom cohort, the one `vexscreen demo`
draws and encodes (DEMO/phantom, DEMO/pipeline/encodings/<CT>, DEMO/pipeline/encoder):
VEXAS against MDS+UBA1-WT, neutrophils and monocytes, the model's defaults otherwise
(100 aggregates of 10 cells, at least 30 cells of a type, 200 bootstrap replicates).
`--features` chooses what it rests on: the CNN encodings, the cell measurements of
`vexscreen.morphology` (the reference phantom measured into OUT/measurements/<CT>), or both.

Held out: the phantom's `small` cohort drawn with each of `--seeds` (2 patients per class
per seed, 2 smears each, `--cells` cells of each type per smear), none of them seen by the
model, arranged as patient folders (<smear>/neutrophil/, <smear>/monocyte/) and screened
one by one as `vexscreen screen` does. Reported: every patient's combined and per-type
score; per class the scores; over the held-out patients the AUC of VEXAS against the others
(and against each class), with its exact permutation p-value; and how many VEXAS patients
score above every other patient.

Run (after `vexscreen demo --out demo_out`; about 5 min on 2 CPU cores for 18 patients):

    .venv/bin/python experiments/screen_heldout.py --demo demo_out --out experiments/out/screen_heldout
    .venv/bin/python experiments/screen_heldout.py --demo demo_out --out experiments/out/screen_heldout \
        --features both        # once vexscreen.morphology is installed
    # real texture: reference and held-out patients made of real normal cells, vacuoles planted
    .venv/bin/python experiments/screen_heldout.py --out experiments/out/screen_heldout --features measurements \
        --statistic mean --source-images ../shared/data/wbc

Each patient's row also records the model's applicability check (docs/screening.md, section 4b:
its distance to the reference patients, conformal p, flagged or not). `--heldout-source-images`
screens held-out patients of the other texture than the reference's (`drawn`, or a folder of real
cells): a model on drawn cells meets real ones, and the other way round.

    .venv/bin/python experiments/screen_heldout.py --demo demo_out --out experiments/out/screen_heldout \
        --features measurements --statistic mean --heldout-source-images ../shared/data/wbc
    .venv/bin/python experiments/screen_heldout.py --out experiments/out/screen_heldout --features measurements \
        --statistic mean --source-images ../shared/data/wbc --heldout-source-images drawn

`--style calibrated` draws the reference (the demo's phantom settings) and the held-out patients
with the calibrated drawing (phantom --style calibrated; measurements only); `--heldout-style`
gives the held-out patients the other drawing than the reference's:

    .venv/bin/python experiments/screen_heldout.py --demo demo_out --out experiments/out/screen_heldout \
        --features measurements --statistic mean --style calibrated [--heldout-style drawn]

`--combiner weighted` weighs each cell type by its evidence on the reference patients
(docs/screening.md, section 5).

Writes experiments/results/screen_heldout.json (`screen_heldout_<features>[_mean][_real_texture]
[_<combiner>][_heldout_real|_heldout_drawn].json` for measurements or both, `--statistic mean`, `--source-images`,
`--heldout-source-images`); resumable (phantoms, encodings and measurements are kept in OUT).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from vexscreen.cli import library_log
from vexscreen.demo import DEMO_PHANTOM, heldout_patients, measure_reference
from vexscreen.evaluation.metrics import auc_permutation_p, binary_metrics
from vexscreen.exceptions import InputError
from vexscreen.model import ReferenceModel
from vexscreen.phantom import make_cohort
from vexscreen.phantom.style import STYLES
from vexscreen.screen.measuring import default_measure_fn

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from _provenance import write_results  # noqa: E402

CLASSES = ("MDS", "UBA1-WT", "VEXAS")
CELL_TYPES = ("PN", "MO")


def reference_blocks(demo: Path, out: Path, features: str, workers: int, phantom: Path | None = None,
                     cell_types=CELL_TYPES) -> dict:
    """Per cell type: the demo's encodings and/or the demo phantom's measurements (or those of
    ``phantom``, a reference phantom of the script's own)."""
    measure_fn = default_measure_fn() if features != "encodings" else None
    if features != "encodings" and measure_fn is None:
        raise InputError("--features measurements/both needs vexscreen.morphology (measure_scan), "
                         "which is not installed")
    blocks = {}
    for ct in cell_types:
        blocks[ct] = {}
        if features in ("encodings", "both"):
            blocks[ct]["encodings"] = demo / "pipeline" / "encodings" / ct
        if measure_fn is not None:
            blocks[ct]["measurements"] = measure_reference(
                measure_fn, (phantom or demo / "phantom") / ct,
                out / ("measurements" if phantom is None else f"measurements_{phantom.name}") / ct, workers)
    return blocks


def heldout_folders(out: Path, seeds, cells: int, workers: int, source_images: Path | None = None,
                    style: str = "drawn") -> dict:
    """``{patient folder: class}`` of every seed's held-out cohort (folder names carry the seed);
    with ``source_images``, real-texture cohorts (real normal cells, the phenotype's vacuoles planted);
    ``style``: how drawn cells are drawn (phantom --style)."""
    tag = "_real_texture" if source_images is not None else ("" if style == "drawn" else f"_{style}")
    folders = {}
    for seed in seeds:
        cohort = make_cohort(out / f"heldout{tag}_seed{seed}", cohort="small", scale=cells / 6.0, seed=seed,
                             workers=workers, cell_types=CELL_TYPES, encoder_test_per_group=0,
                             source_images=source_images, style=style)
        for folder, truth in heldout_patients(cohort, out / f"patients{tag}" / f"seed{seed}").items():
            folders[folder] = truth
    return folders


def package_source() -> dict:
    """Where the vexscreen that ran was imported from, and its git commit (None outside a git tree):
    it may differ from this script's tree (provenance's ``git_commit``)."""
    import vexscreen
    from _provenance import git_state, portable

    commit, dirty = git_state(Path(vexscreen.__file__).resolve().parents[2])
    return {"path": portable(Path(vexscreen.__file__).resolve().parent), "git_commit": commit, "git_dirty": dirty}


def figures(rows: list[dict]) -> dict:
    """AUC (exact permutation p) of VEXAS against the others and against each class; the ordering."""
    out = {}
    vexas = [r["probability"] for r in rows if r["truth"] == "VEXAS"]
    for name, others in (("VEXAS vs MDS+UBA1-WT", ("MDS", "UBA1-WT")), ("VEXAS vs UBA1-WT", ("UBA1-WT",)),
                         ("VEXAS vs MDS", ("MDS",))):
        neg = [r["probability"] for r in rows if r["truth"] in others]
        y = np.r_[np.ones(len(vexas), int), np.zeros(len(neg), int)]
        s = np.r_[vexas, neg]
        m = binary_metrics(y, s, 0.5)
        out[name] = {"auc": m["auc"], "p_value": auc_permutation_p(y, s), "n_positive": len(vexas),
                     "n_negative": len(neg)}
    others = [r["probability"] for r in rows if r["truth"] != "VEXAS"]
    out["vexas_above_all_others"] = int(sum(v > max(others) for v in vexas))
    out["lowest_vexas"], out["highest_other"] = float(min(vexas)), float(max(others))
    checked = [r for r in rows if r.get("unlike_reference") is not None]
    out["unlike_reference"] = {"flagged": sum(r["unlike_reference"] for r in checked), "checked": len(checked),
                               "per_class": {c: sum(r["unlike_reference"] for r in checked if r["truth"] == c)
                                             for c in CLASSES}}
    return out


def applicability_row(fit: dict | None) -> dict:
    """The applicability check of one screened patient (None fields when not checked)."""
    fit = fit or {}
    return {"unlike_reference": fit.get("flagged"), "reference_distance": fit.get("distance"),
            "reference_p": fit.get("p_value"), "reference_range": fit.get("reference_range")}


def reference_phantom(args) -> Path | None:
    """The reference phantom when it is not the demo's own: the demo's settings (DEMO_PHANTOM), without
    an encoder test set, made of real cells (``--source-images``) or in another drawing (``--style``)."""
    if args.source_images is None and args.style == "drawn":
        return None
    settings = {**DEMO_PHANTOM, "encoder_test_per_group": 0}
    if args.source_images is not None:
        return make_cohort(args.out / "reference_real_texture", **settings, workers=args.workers,
                           cell_types=CELL_TYPES, source_images=args.source_images)
    return make_cohort(args.out / f"reference_{args.style}", **settings, workers=args.workers,
                       cell_types=CELL_TYPES, style=args.style)


def result_name(args, model_types, heldout_images) -> str:
    """The results' name: what differs from the default run (encodings, median, drawn, both types...)."""
    name = args.features + ("" if args.statistic == "median" else f"_{args.statistic}")
    name += "" if args.source_images is None else "_real_texture"
    name += "" if args.style == "drawn" else f"_{args.style}"
    name += "" if model_types == CELL_TYPES else "_" + "_".join(model_types)
    name += "" if args.combiner == "mean" else f"_{args.combiner}"
    name += "" if args.measurement_columns == "all" else f"_{args.measurement_columns}"
    if (heldout_images is None) != (args.source_images is None):
        name += "_heldout_drawn" if heldout_images is None else "_heldout_real"
    if args.heldout_style != args.style:
        name += f"_heldout_{args.heldout_style}"
    return name


def parse_args(argv=None):
    """The command line, checked: (args, the model's cell types, the held-out patients' real-cell folder)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--demo", type=Path, default=Path("demo_out"), help="a `vexscreen demo` output folder")
    ap.add_argument("--out", type=Path, default=Path("experiments/out/screen_heldout"))
    ap.add_argument("--features", choices=("encodings", "measurements", "both"), default="encodings")
    ap.add_argument("--seeds", default="11,12,13", help="held-out phantom seeds (2 patients per class each)")
    ap.add_argument("--cells", type=int, default=18, help="cells of each type per smear (2 smears a patient)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--statistic", choices=("median", "mean"), default="median",
                    help="the model's aggregate statistic (fit-model --statistic)")
    ap.add_argument("--note", default=None, help="recorded in the results (e.g. which vexscreen ran)")
    ap.add_argument("--source-images", type=Path, default=None, metavar="DIR",
                    help="real texture: the reference (the demo's phantom settings, DEMO_PHANTOM) and the "
                         "held-out patients are real normal cells of DIR with the phenotype's vacuoles planted "
                         "(phantom --source-images); needs --features measurements (no encoder is trained on them)")
    ap.add_argument("--heldout-source-images", default=None, metavar="DIR|drawn",
                    help="the held-out patients' texture when it differs from the reference's: a folder of real "
                         "cells (vacuoles planted), or 'drawn' (default: the reference's)")
    ap.add_argument("--combiner", choices=("mean", "logit_mean", "weighted"), default="mean",
                    help="how the model combines cell types (fit-model --combiner)")
    ap.add_argument("--measurement-columns", choices=("all", "stain_robust"), default="all",
                    help="the model's measurement columns (fit-model --measurement-columns)")
    ap.add_argument("--model-cell-types", default=",".join(CELL_TYPES),
                    help="the cell types the model rests on (the held-out patients keep both)")
    ap.add_argument("--style", choices=tuple(STYLES), default="drawn",
                    help="how the reference's and held-out patients' cells are drawn (phantom --style); "
                         "calibrated: the reference is the demo's phantom settings drawn so, measurements only")
    ap.add_argument("--heldout-style", choices=tuple(STYLES), default=None,
                    help="the held-out patients' drawing when it differs from the reference's")
    args = ap.parse_args(argv)
    args.heldout_style = args.heldout_style or args.style
    if "calibrated" in (args.style, args.heldout_style) and (args.features != "measurements"
                                                            or args.source_images is not None):
        ap.error("--style/--heldout-style calibrated needs --features measurements, without --source-images")
    model_types = tuple(args.model_cell_types.split(","))
    if not model_types or any(ct not in CELL_TYPES for ct in model_types):
        ap.error(f"--model-cell-types: choose from {','.join(CELL_TYPES)}")
    if args.source_images is not None and args.features != "measurements":
        ap.error("--source-images needs --features measurements")
    heldout_images = args.source_images
    if args.heldout_source_images is not None:
        heldout_images = None if args.heldout_source_images == "drawn" else Path(args.heldout_source_images)
        if heldout_images is not None and args.features != "measurements":
            ap.error("--heldout-source-images DIR needs --features measurements")
    return args, model_types, heldout_images


def main(argv=None) -> None:
    args, model_types, heldout_images = parse_args(argv)
    library_log()
    t0 = time.perf_counter()
    seeds = [int(s) for s in args.seeds.split(",")]
    reference = reference_phantom(args)
    blocks = reference_blocks(args.demo, args.out, args.features, args.workers, phantom=reference,
                              cell_types=model_types)
    name = result_name(args, model_types, heldout_images)
    model = ReferenceModel(classes=CLASSES, cell_types=model_types, statistic=args.statistic,
                           combiner=args.combiner, measurement_columns=args.measurement_columns).fit(blocks)
    model = ReferenceModel.load(model.save(args.out / f"model_{name}"))
    rows = []
    for folder, truth in heldout_folders(args.out, seeds, args.cells, args.workers, heldout_images,
                                         args.heldout_style).items():
        r = model.screen(folder, args.out / f"screened_{name}" / folder.parent.name / folder.name)
        rows.append({"patient": f"{folder.parent.name}/{folder.name}", "truth": truth,
                     "probability": r.probability, "interval": r.interval, "verdict": r.verdict,
                     **{f"p_{ct}": c.probability for ct, c in r.cell_types.items()},
                     **{f"n_{ct}": c.n_cells for ct, c in r.cell_types.items()},
                     **applicability_row(r.applicability)})
        print(f"{rows[-1]['patient']:<24} {truth:<8} {r.statement}", flush=True)
    per_class = {c: sorted(round(r["probability"], 4) for r in rows if r["truth"] == c) for c in CLASSES}
    result = {"features": args.features, "seeds": seeds, "cells_per_type_per_patient": 2 * args.cells,
              "model": {"settings": {k: (list(v) if isinstance(v, tuple) else v)
                                     for k, v in model.get_params().items()},
                        "uses": model.uses,
                        "reference_lopo": {ct: {"auc": r["auc"], "p_value": r["p_value"]}
                                           for ct, r in model.reference_["cell_types"].items()},
                        "reference_lopo_combined": {k: model.reference_["patient_level"].get(k)
                                                    for k in ("auc", "p_value", "combiner", "weights")}},
              "per_class": per_class,
              "per_class_mean": {c: float(np.mean(v)) for c, v in per_class.items()},
              "figures": figures(rows), "patients": rows, "seconds": round(time.perf_counter() - t0, 1),
              "vexscreen_source": package_source(), **({"note": args.note} if args.note else {})}
    for c, v in per_class.items():
        print(f"{c:<8} mean {np.mean(v):.3f}  scores {', '.join(f'{x:.2f}' for x in v)}")
    for figure, value in result["figures"].items():
        print(f"{figure}: {value}")
    suffix = "" if name == "encodings" else f"_{name}"
    path = args.json or Path(__file__).resolve().parent / "results" / f"screen_heldout{suffix}.json"
    print(write_results(path, result))


if __name__ == "__main__":
    main()
