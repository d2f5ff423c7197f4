"""``vexscreen consistency``: the encoder consistency test (METHOD.md Step 2a)."""
from __future__ import annotations

from pathlib import Path

from . import add_command, add_encoding_input, load_encoding_input, split_list


HELP = "encoder consistency test on cells of known morphology (Step 2a)"
DESCRIPTION = """\
One-vs-one 5-NN ROC-AUC between morphology groups, mean of 10 stratified half splits, as in the
study. Writes OUT/consistency.json, OUT/consistency.csv, OUT/consistency_ci.csv (95% CI per pair: a
seeded bootstrap over cells) and OUT/consistency_umap.png."""


def register(sub) -> None:
    p = add_command(sub, "consistency", help=HELP, description=DESCRIPTION, func=run)
    add_encoding_input(p)
    p.add_argument("--groups", metavar="G1,G2,...",
                   help="comma-separated group order (default: order of first appearance)")
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.add_argument("--no-plots", action="store_true", help="skip the UMAP figure")
    p.add_argument("--no-ci", action="store_true",
                   help="skip the 95%% confidence intervals (seeded bootstrap over cells)")


def run(args) -> int:
    from ..evaluation import consistency_ci, consistency_matrix
    from ..report import consistency_umap_figure, format_consistency, format_consistency_ci, write_consistency

    enc = load_encoding_input(args)
    order = enc.check_classes(split_list(args.groups)) if args.groups else enc.label_order()
    sub = enc.select_classes(order)
    order, M = consistency_matrix(sub.X, sub.labels, order)
    low, high = (None, None) if args.no_ci else consistency_ci(sub.X, sub.labels, order)
    written = write_consistency(args.out, order, M, low=low, high=high)
    print(format_consistency(order, M))
    if low is not None:
        print("\n" + format_consistency_ci(order, M, low, high))
    if not args.no_plots:
        consistency_umap_figure(sub.X, sub.labels, order, args.out / "consistency_umap.png")
        written.append(args.out / "consistency_umap.png")
    print(f"wrote {args.out}/" + ", ".join(p.name for p in written))
    return 0
