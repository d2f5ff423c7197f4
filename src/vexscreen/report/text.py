"""The words around the numbers: the text of ``vexscreen demo`` and of a pipeline result.

The library returns results and reports the demo's steps through a callback
(:func:`vexscreen.demo.run_demo`, ``on_step(step, info)``); these functions turn
each into the text the CLI prints.
"""
from __future__ import annotations

import textwrap

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


MEASUREMENT_NOTE = (
    "   Measurements: vacuoles (count, area), lobes, pseudo-Pelger, granularity, ... per cell\n"
    "   (vexscreen.morphology). The groups' table: the per-patient values' mean [range] per group, and\n"
    "   VEXAS patients against the others (patient AUC, exact p). The comparisons: the study's Step 2b\n"
    "   on the measurements alone and on the CNN encodings + the measurements, with mean aggregates of\n"
    "   10 cells (a median of 10 erases a feature that a minority of cells carry, as vacuoles).")


def _measurement_heading(i: dict) -> str:
    return (f"\n== 4b. Cell measurements of the phantom's cells (issue 11), {i['statistic']} aggregates ==\n"
            + MEASUREMENT_NOTE)


def _measurements_done(i: dict) -> str:
    from ..evaluation.measurements import format_measurements_by_patient

    parts = [f"\n[{ct}: {CELL_TYPE_NAMES[ct]}, measurements per group]\n"
             + format_measurements_by_patient(t, patients=False) for ct, t in i["tables"].items()]
    parts += [f"\n[{variant}]\n" + format_summary(rows) for variant, rows in i["rows"].items()]
    return "\n".join(parts) + f"\n   ({i['seconds']:.0f} s)"


def _screening_heading(i: dict) -> str:
    st, h = i["settings"], i["heldout"]
    types = " and ".join(CELL_TYPE_NAMES[ct] for ct in st["cell_types"])
    model = (f"model: {st['classes'][-1]} vs {'+'.join(st['classes'][:-1])} on the phantom cohort's {types} "
             f"({' and '.join(i['uses'])}): the study's classifier, {st['n_aggregates']} "
             f"{st.get('statistic', 'median')} aggregates per patient; "
             f"a type counts from {st['min_cells']} cells; interval from {st['n_bootstrap']} bootstrap replicates "
             "(demo settings, vexscreen.demo.DEMO_SCREENING).")
    held = (f"held-out: the phantom's {h['cohort']} cohort drawn with seed {h['seed']}, never seen by the model, "
            "as patient folders (<smear>/neutrophil/, <smear>/monocyte/).")
    wrap = textwrap.TextWrapper(width=100, initial_indent="   ", subsequent_indent="   ")
    return ("\n== 5. Screening held-out phantom patients with a reference model (issue 12) ==\n"
            + wrap.fill(model) + "\n" + wrap.fill(held))


def _screening_model(i: dict) -> str:
    ref = i["model"].reference_
    def auc(r):
        return "not defined" if r.get("auc") is None else f"{r['auc']:.2f} (p={r['p_value']:.3f})"
    per_type = ", ".join(f"{ct} {auc(r)}" for ct, r in ref["cell_types"].items())
    return (f"   reference patients, leave-one-patient-out AUC: {per_type}; combined "
            f"{auc(ref['patient_level'])}\n   model folder: {i['folder']}")


SCREENING_NOTE = {
    False: ("   The model rests on the CNN encodings alone, which hold the phantom's nuclear shape and\n"
            "   granulation but not yet its VEXAS vacuoles (feature recovery, step 4): its VEXAS verdicts are\n"
            "   not to be trusted (docs/experiments.md, \"Screening held-out phantom patients\")."),
    True: ("   The model rests on the encodings and the cell measurements (vacuoles, lobes, ...)."),
}


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
    "measurements": _measurement_heading,
    "measurements_done": _measurements_done,
    "screening": _screening_heading,
    "screening_model": _screening_model,
    "screened": lambda i: f"   {i['patient']} (truly {i['truth']}): {i['result'].statement}\n      -> {i['report']}",
    "screening_done": lambda i: (f"   index of the {i['n_patients']} reports: {i['index']}  ({i['seconds']:.0f} s)\n"
                                 + SCREENING_NOTE["measurements" in i.get("uses", ())]),
    "done": lambda i: f"\ndone in {i['seconds']:.0f} s; outputs in {i['out']}/",
}


def format_demo_step(step: str, info: dict) -> str:
    """The text of one step of :func:`vexscreen.demo.run_demo`, as ``vexscreen demo`` prints it."""
    try:
        text = _DEMO_TEXT[step]
    except KeyError:
        raise ValueError(f"unknown demo step {step!r}") from None
    return text(info)
