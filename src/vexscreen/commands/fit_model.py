"""``vexscreen fit-model``: fit a reference model on a cohort's encodings and/or measurements."""
from __future__ import annotations

from pathlib import Path

from . import add_command, split_list
from .options import add_aggregate_options, open_fraction, positive_int, probability, seed

#: vexscreen.model.combine.COMBINERS, named here so `--help` does not import scikit-learn (tested)
COMBINER_NAMES = ("mean", "logit_mean", "weighted")


HELP = "fit a reference model for screening new patients"
DESCRIPTION = """\
Per cell type, the study's classifier (bootstrapped medians of cells -> RBF SVM with Platt scaling)
fitted on every reference patient of --groups (last = positive), from ENC_ROOT/<type> (as `encode`
writes it) and/or MEAS_ROOT/<type> (as `measure` writes it; rows matched by image). Writes the model
folder MODEL: model.json, one classifier per cell type (skops, no pickle) and the encoder file;
prints the reference cohort's leave-one-patient-out figures per type and combined."""


def register(sub) -> None:
    p = add_command(sub, "fit-model", help=HELP, description=DESCRIPTION, func=run)
    p.add_argument("--encodings", type=Path, metavar="ENC_ROOT", help="folder of per-type encoding sets")
    p.add_argument("--measurements", type=Path, metavar="MEAS_ROOT", help="folder of per-type measurements")
    p.add_argument("--groups", required=True, metavar="G1,G2",
                   help="comma-separated classes, last = positive, e.g. UBA1-WT,VEXAS")
    p.add_argument("--cell-types", default="PN,MO", metavar="LIST", help="comma-separated cell types")
    p.add_argument("--out", required=True, type=Path, metavar="MODEL", help="model folder to write")
    p.add_argument("--min-cells", type=positive_int, default=30, metavar="N",
                   help="fewest cells of a type for it to count for a patient (docs/screening.md)")
    add_aggregate_options(p)
    p.add_argument("--combiner", choices=COMBINER_NAMES, default="mean",
                   help="how per-type probabilities make one: their mean, the mean of their log-odds, or "
                        "weighted by each type's reference evidence (docs/screening.md)")
    p.add_argument("--measurement-columns", choices=("all", "stain_robust"), default="all",
                   help="the measurement columns the classifier uses: all, or stain_robust (without optical "
                        "densities and texture energy, which a stronger or weaker stain moves; docs/screening.md)")
    p.add_argument("--threshold", type=probability, default=0.5, metavar="P", help="verdict threshold")
    p.add_argument("--bootstrap", type=positive_int, default=200, metavar="N",
                   help="bootstrap replicates for a patient's interval")
    p.add_argument("--interval", type=open_fraction, default=0.95, metavar="P", help="interval level")
    p.add_argument("--seed", type=seed, default=4512, metavar="N", help="random seed")


def run(args) -> int:
    from ..exceptions import InputError
    from ..model import ReferenceModel
    from ..model.blocks import load_block
    from ..model.files import check_target
    from ..model.reference import encoder_info

    if args.encodings is None and args.measurements is None:
        raise InputError("give --encodings ENC_ROOT, --measurements MEAS_ROOT, or both")
    classes, cell_types = split_list(args.groups), split_list(args.cell_types)
    check_target(args.out)  # before the work: a folder that is not a model is never overwritten
    blocks = {}
    for ct in cell_types:
        blocks[ct] = []
        for kind, root in (("encodings", args.encodings), ("measurements", args.measurements)):
            if root is None:
                continue
            if not (root / ct).is_dir():
                raise InputError(f"no {ct} folder (expected {kind} per cell type: {root}/{ct})", root / ct)
            blocks[ct].append(load_block(root / ct, kind))
        if args.encodings is not None:
            info = encoder_info(blocks[ct], ct)
            if info is None or info["source"] is None:
                raise InputError("the encoder that made these encodings is not found (encode.json names it "
                                 "and its SHA-256); a model must carry its encoder to screen images",
                                 args.encodings / ct / "encode.json")
    model = ReferenceModel(classes=tuple(classes), cell_types=tuple(cell_types), n_aggregates=args.aggregates,
                           aggregate_size=args.aggregate_size, statistic=args.statistic,
                           min_cells=args.min_cells,
                           combiner=args.combiner, measurement_columns=args.measurement_columns,
                           threshold=args.threshold, n_bootstrap=args.bootstrap,
                           interval=args.interval, random_state=args.seed)
    model.fit(blocks)
    model.save(args.out)
    for line in describe(model):
        print(line)
    print(f"wrote {args.out}/ (model.json, {', '.join(f'classifier-{ct}.skops' for ct in cell_types)}"
          + (", the encoder file" if args.encodings is not None else "") + ")")
    return 0


def _figure(r: dict) -> str:
    if r.get("auc") is None:
        return "AUC not defined (one class only)"
    return f"AUC {r['auc']:.2f} (exact permutation p = {r['p_value']:.3g})"


def describe(model) -> list[str]:
    """Lines: each type's and the combined leave-one-patient-out figure of the reference cohort."""
    ref = model.reference_
    lines = ["reference cohort: " + ", ".join(f"{n} {c}" for c, n in ref["n_patients"].items())
             + f" patients; positive class {ref['positive']}; leave-one-patient-out:"]
    for ct, r in ref["cell_types"].items():
        cells = sum(model.n_cells_[ct].values())
        lines.append(f"  {ct}: {len(r['scores'])} patients, {cells:,} cells; {_figure(r)}")
    pl = ref["patient_level"]
    weights = ""
    if pl.get("weights"):
        weights = " weights " + ", ".join(f"{ct} {w:.2f}" for ct, w in pl["weights"].items()) + ";"
    lines.append(f"  combined ({pl['combiner']} of {', '.join(pl['cell_types'])};{weights} types with at least "
                 f"{pl['min_cells']} cells): {_figure(pl)}")
    lines.append(_applicability_line(getattr(model, "applicability_", None) or {}))
    return lines


def _applicability_line(profiles: dict) -> str:
    """How the applicability check will judge new patients against these reference patients."""
    from ..model.applicability import flag_level, reference_distances

    loo = reference_distances(profiles)
    if not loo:
        return "applicability check: not available (fewer than 3 reference patients of a type)"
    n = len(loo)
    level = flag_level(n)
    every = level == 1.0 / (n + 1)
    return (f"applicability check: {n} reference patients, distances from one another "
            f"{min(loo.values()):.2f}-{max(loo.values()):.2f}; a new patient is flagged when "
            f"{'further than every one of them' if every else f'at p <= {level:g}'} "
            f"({f'1 in {n + 1}' if every else f'{level:.0%}'} of patients like them, by chance)")
