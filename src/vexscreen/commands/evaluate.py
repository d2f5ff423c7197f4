"""``vexscreen evaluate``: phenotypic prediction (METHOD.md Step 2b) + patient-level figure."""
from __future__ import annotations

from pathlib import Path

from . import add_encoding_input, load_encoding_input, split_list


def register(sub) -> None:
    p = sub.add_parser(
        "evaluate", help="phenotypic prediction of patient groups from cell encodings (Step 2b)",
        description="Patient-stratified splits, bootstrapped medians of cell encodings, RBF SVM; "
                    "AUC / sensitivity / specificity with 95%% CIs at aggregate level as in the "
                    "study, and leave-one-patient-out at patient level. The last group is the "
                    "positive class. Writes OUT/evaluation.json and OUT/evaluation_umap.png. With a measure "
                    "folder among the DIRs (it holds measurements.csv), also OUT/measurements_by_patient.csv: "
                    "vacuolated fraction, mean lobes and pseudo-Pelger fraction per patient and per group, "
                    "with the patient-level AUC and exact permutation p of each.")
    add_encoding_input(p)
    p.add_argument("--groups", required=True,
                   help="comma-separated groups, last = positive, e.g. UBA1-WT,VEXAS or MDS,UBA1-WT,VEXAS")
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.add_argument("--iterations", type=int, default=10, help="patient splits (default 10)")
    p.add_argument("--aggregates", type=int, default=100, help="aggregates per patient (default 100)")
    p.add_argument("--aggregate-size", type=int, default=10, help="cells per aggregate (default 10)")
    p.add_argument("--train-fraction", type=float, default=0.5, help="patients in training (default 0.5)")
    p.add_argument("--seed", type=int, default=4512, help="first iteration's seed (default 4512)")
    p.add_argument("--threshold", type=float, default=0.5, help="probability threshold (default 0.5)")
    p.add_argument("--no-patient-level", action="store_true", help="skip leave-one-patient-out")
    p.add_argument("--no-plots", action="store_true", help="skip the UMAP figure")
    p.add_argument("--jobs", type=int, default=1,
                   help="parallel workers for iterations and folds (-1 = all cores); same numbers")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..data import write_json
    from ..evaluation import evaluate, patient_aggregates
    from ..evaluation.phenotype import prepare
    from ..report import aggregate_umap_figure, format_evaluation_row

    enc = load_encoding_input(args)
    classes = split_list(args.groups)
    result = evaluate(enc, classes, iterations=args.iterations, aggregates=args.aggregates,
                      aggregate_size=args.aggregate_size, train_fraction=args.train_fraction,
                      seed=args.seed, threshold=args.threshold,
                      patient_level=not args.no_patient_level,
                      progress=not args.quiet, n_jobs=args.jobs)
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / "evaluation.json", result)
    print(format_evaluation_row(result))
    if not args.no_plots:
        X, y, patients, labels, table = prepare(enc, classes)
        A, _, owners = patient_aggregates(X, y, patients, aggregates=args.aggregates,
                                          aggregate_size=args.aggregate_size, seed=args.seed)
        aggregate_umap_figure(A, owners, dict(zip(table["patient"], table["label"])), classes,
                              result, args.out / "evaluation_umap.png")
    written = ["evaluation.json"] + ([] if args.no_plots else ["evaluation_umap.png"])
    written += _measurement_table(args, classes)
    print(f"wrote {args.out}/" + ", ".join(written))
    return 0


def _measurement_table(args, classes) -> list[str]:
    """measurements_by_patient.csv (and its printout) from the first DIR holding measurements.csv."""
    import pandas as pd

    from ..data import write_csv
    from ..evaluation.measurements import (format_measurements_by_patient, measurement_rows,
                                           measurements_by_patient)

    found = [Path(d) / "measurements.csv" for d in (args.dir or []) if (Path(d) / "measurements.csv").is_file()]
    if not found:
        return []
    table = pd.read_csv(found[0], dtype={"PATIENT": str, "SAMPLE": str, "GROUP": str, "IMAGE": str})
    result = measurements_by_patient(table, classes, source=found[0])
    write_csv(args.out / "measurements_by_patient.csv", measurement_rows(result))
    print(f"\nmeasurements per patient ({found[0]}):")
    print(format_measurements_by_patient(result))
    return ["measurements_by_patient.csv"]
