"""``vexscreen consistency``: the encoder consistency test (METHOD.md Step 2a)."""
from __future__ import annotations

from pathlib import Path

from . import add_encoding_input, load_encoding_input, split_list


def register(sub) -> None:
    p = sub.add_parser(
        "consistency", help="encoder consistency test on cells of known morphology (Step 2a)",
        description="One-vs-one 5-NN ROC-AUC between morphology groups, mean of 10 stratified "
                    "half splits, as in the study. Writes OUT/consistency.json, "
                    "OUT/consistency.csv and OUT/consistency_umap.png.")
    add_encoding_input(p)
    p.add_argument("--groups", help="comma-separated group order (default: order of first appearance)")
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.add_argument("--no-plots", action="store_true", help="skip the UMAP figure")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..evaluation import consistency_matrix
    from ..report import consistency_umap_figure, format_consistency, write_consistency

    enc = load_encoding_input(args)
    order = enc.check_groups(split_list(args.groups)) if args.groups else enc.group_order()
    sub = enc.select_groups(order)
    order, M = consistency_matrix(sub.X, sub.groups, order)
    written = write_consistency(args.out, order, M)
    print(format_consistency(order, M))
    if not args.no_plots:
        consistency_umap_figure(sub.X, sub.groups, order, args.out / "consistency_umap.png")
        written.append(args.out / "consistency_umap.png")
    print(f"wrote {args.out}/" + ", ".join(p.name for p in written))
    return 0
