"""``vexscreen evaluate``: phenotypic prediction (METHOD.md Step 2b) + patient-level figure."""
from __future__ import annotations

from pathlib import Path

from . import add_command, add_encoding_input, load_encoding_input, show_progress, split_list
from .options import add_aggregate_options, jobs, nonnegative_int, open_fraction, positive_int, probability, seed


HELP = "phenotypic prediction of patient groups from cell encodings (Step 2b)"
DESCRIPTION = """\
Patient-stratified splits, bootstrapped medians of cell encodings, RBF SVM; AUC / sensitivity /
specificity with 95% CIs at aggregate level as in the study; at patient level, leave-one-patient-out
(AUC, sensitivity, specificity, exact permutation p-value) and leave-pair-out AUC. The last group is
the positive class. Patients with fewer cells than --aggregate-size are named; --min-cells leaves
patients out. Writes OUT/evaluation.json and OUT/evaluation_umap.png. Several DIRs of the same
cells (e.g. encodings and measurements) are matched by IMAGE, each L2-normalised, then joined; with a
measure folder among them, also OUT/measurements_by_patient.csv: vacuolated fraction, mean lobes and
pseudo-Pelger fraction per patient and per group, with each one's patient-level AUC and exact p."""


def register(sub) -> None:
    p = add_command(sub, "evaluate", help=HELP, description=DESCRIPTION, func=run)
    add_encoding_input(p)
    p.add_argument("--groups", required=True, metavar="G1,G2",
                   help="comma-separated groups, last = positive, e.g. UBA1-WT,VEXAS or MDS,UBA1-WT,VEXAS")
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.add_argument("--iterations", type=positive_int, default=10, metavar="N", help="patient splits")
    add_aggregate_options(p)
    p.add_argument("--min-cells", type=nonnegative_int, default=0, metavar="N",
                   help="leave out patients with fewer cells than this (they are listed)")
    p.add_argument("--train-fraction", type=open_fraction, default=0.5, metavar="F",
                   help="fraction of the patients in training, in (0, 1)")
    p.add_argument("--seed", type=seed, default=4512, metavar="N", help="first iteration's seed")
    p.add_argument("--threshold", type=probability, default=0.5, metavar="P", help="probability threshold, in [0, 1]")
    p.add_argument("--no-patient-level", action="store_true",
                   help="skip the patient-level figures (leave-one-patient-out, leave-pair-out)")
    p.add_argument("--no-plots", action="store_true", help="skip the UMAP figure")
    p.add_argument("--jobs", type=jobs, default=1, metavar="N",
                   help="parallel workers for iterations and folds (-1 = all cores); same numbers")


def run(args) -> int:
    from ..data import write_json
    from ..evaluation import evaluate, patient_aggregates
    from ..evaluation.phenotype import prepare, select_patients
    from ..report import aggregate_umap_figure, format_evaluation_row

    enc = load_encoding_input(args)
    classes = split_list(args.groups)
    result = evaluate(enc, classes, iterations=args.iterations, aggregates=args.aggregates,
                      aggregate_size=args.aggregate_size, train_fraction=args.train_fraction,
                      seed=args.seed, threshold=args.threshold, min_cells=args.min_cells,
                      statistic=args.statistic, patient_level=not args.no_patient_level,
                      progress=show_progress(args), n_jobs=args.jobs)
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / "evaluation.json", result)
    print(format_evaluation_row(result))
    for line in patient_notes(result):
        print(line)
    if not args.no_plots:
        X, y, patients, labels, table = prepare(select_patients(enc, classes, args.min_cells)[0], classes)
        A, _, owners = patient_aggregates(X, y, patients, aggregates=args.aggregates,
                                          aggregate_size=args.aggregate_size, seed=args.seed,
                                          statistic=args.statistic)
        aggregate_umap_figure(A, owners, dict(zip(table["patient"], table["label"])), classes,
                              result, args.out / "evaluation_umap.png")
    written = ["evaluation.json"] + ([] if args.no_plots else ["evaluation_umap.png"])
    written += _measurement_table(args, classes)
    print(f"wrote {args.out}/" + ", ".join(written))
    return 0


def _measurement_table(args, classes) -> list[str]:
    """measurements_by_patient.csv (and its printout) from the first DIR holding measurements.csv."""
    from ..data import write_csv
    from ..evaluation.measurements import (format_measurements_by_patient, measurement_rows,
                                           measurements_by_patient, read_measurements)

    found = [Path(d) / "measurements.csv" for d in (args.dir or []) if (Path(d) / "measurements.csv").is_file()]
    if not found:
        return []
    result = measurements_by_patient(read_measurements(found[0]), classes, source=found[0])
    write_csv(args.out / "measurements_by_patient.csv", measurement_rows(result))
    print(f"\nmeasurements per patient ({found[0]}):")
    print(format_measurements_by_patient(result))
    return ["measurements_by_patient.csv"]


def _patients(cells: dict) -> str:
    return ", ".join(f"{p} ({n} cells)" for p, n in cells.items())


def patient_notes(result: dict) -> list[str]:
    """Lines naming the patients left out (--min-cells) and those evaluated with fewer cells
    than an aggregate draws."""
    lines, size = [], result["parameters"]["aggregate_size"]
    if result["excluded_patients"]:
        lines.append(f"left out {len(result['excluded_patients'])} patient(s) with fewer than "
                     f"{result['parameters']['min_cells']} cells (--min-cells): "
                     + _patients(result["excluded_patients"]))
    if result["small_patients"]:
        lines.append(f"note: {len(result['small_patients'])} patient(s) have fewer cells than --aggregate-size "
                     f"{size}, so their aggregates repeat cells: " + _patients(result["small_patients"])
                     + " (--min-cells N leaves such patients out)")
    return lines
