"""The words around the numbers: the text of ``vexscreen demo`` and of a pipeline result.

The library returns results and reports the demo's steps through a callback
(:func:`vexscreen.demo.run_demo`, ``on_step(step, info)``); these functions turn
each into the text the CLI prints.
"""
from __future__ import annotations

from ..study import CELL_TYPE_NAMES
from .tables import format_consistency, format_consistency_ci, format_recovery, format_summary

SYNTHETIC_NOTE = (
    "   The study's neutrophil structure (12 patients, 4,819 cells = 25%), 128 dims; only VEXAS\n"
    "   carries a planted signal, and every patient has its own offset. UBA1-WT vs MDS has no\n"
    "   signal: watch the aggregate-level CI and the patient-level p-value.")

PIPELINE_NOTES = (
    "AUC aggregates: the study's figure (100 aggregates per test patient, 10 patient splits).\n"
    "AUC LOPO: leave-one-patient-out, one score per patient, exact permutation p-value (biased\n"
    "low when the signal is weak); AUC LPO: leave-pair-out, without that bias but without a\n"
    "p-value: with 3 patients a group a null phantom also reaches 0.89 (README, \"The proof\").\n"
    "The feature-recovery table says which drawn features the encodings hold: nuclear shape and\n"
    "granulation, not yet the VEXAS vacuoles.")

RECOVERY_HEADING = ("[feature recovery: what the encodings hold of each drawn feature; within its group, "
                    "folds by patient, mean within-fold AUC]")


def format_pipeline_result(result: dict) -> str:
    """A :func:`vexscreen.pipeline.run_image_pipeline` result as text: the encoder-test consistency
    per cell type, the feature recovery (phantoms), the study's comparisons beside the published table."""
    parts = [f"\n[phantom encoder test, {ct}]\n" + format_consistency(order, M, digits=3)
             for ct, (order, M) in result["consistency"].items()]
    if result.get("feature_recovery"):
        parts.append(f"\n{RECOVERY_HEADING}\n" + format_recovery(result["feature_recovery"]))
    parts.append("\n" + format_summary(result["rows"]))
    return "\n".join(parts)


def _training_heading(cfg) -> str:
    start = f"from {cfg.weights}" if cfg.weights else "from random weights"
    return (f"\n== 4. Encoder training ({cfg.backbone} {start}, {cfg.method}, batch {cfg.batch_size}, "
            f"lr {cfg.lr}, <= {cfg.epochs} epochs), encoding, evaluation ==")


#: demo step -> its text, from the step's ``info`` (see vexscreen.demo.DEMO_STEPS)
_DEMO_TEXT = {
    "published": lambda i: "== 1. Encoder consistency on the study's published encodings (Step 2a) ==",
    "published_table": lambda i: (f"\n[{i['cell_type']}: {CELL_TYPE_NAMES[i['cell_type']]}, {i['cells']} cells, "
                                  f"{i['dims']} dims]\n" + format_consistency(i["order"], i["auc"])
                                  + ("" if i.get("low") is None else
                                     "\n" + format_consistency_ci(i["order"], i["auc"], i["low"], i["high"]))),
    "synthetic": lambda i: "\n== 2. Phenotypic prediction on synthetic encodings (Step 2b) ==\n" + SYNTHETIC_NOTE,
    "synthetic_rows": lambda i: format_summary(i["rows"]),
    "phantom": lambda i: f"\n== 3. Phantom cohort with the study's structure (scale {i['scale']}) ==",
    "phantom_done": lambda i: f"   generated in {i['seconds']:.0f} s: {i['folder']}",
    "pipeline": lambda i: _training_heading(i["config"]),
    "pipeline_done": lambda i: format_pipeline_result(i["result"]) + "\n\n" + PIPELINE_NOTES,
    "done": lambda i: f"\ndone in {i['seconds']:.0f} s; outputs in {i['out']}/",
}


def format_demo_step(step: str, info: dict) -> str:
    """The text of one step of :func:`vexscreen.demo.run_demo`, as ``vexscreen demo`` prints it."""
    try:
        text = _DEMO_TEXT[step]
    except KeyError:
        raise ValueError(f"unknown demo step {step!r}") from None
    return text(info)
