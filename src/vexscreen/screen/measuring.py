"""The measuring step of screening: a patient's cells measured as the reference cohort's were.

A model that uses measurements needs a measuring function ``measure_fn(scan, out_dir)``
that writes, into ``out_dir``, what ``vexscreen measure`` writes (an encoding set of the
measurements, ``measurements.csv`` and ``measure.json``) and returns that folder or its
summary. The default is :func:`vexscreen.morphology.measure_scan` when that package is
installed.

Two safeguards keep a patient's numbers comparable with the reference's:

* the measuring settings recorded in ``measure.json`` must equal the model's
  (:func:`check_measure_settings`);
* a producer that standardises its numbers *per scan* (``measure.json`` gives the
  ``columns`` with their ``mean`` and ``std``, as ``vexscreen.morphology`` does) would
  centre a patient on the patient's own mean, which removes exactly the patient-level
  signal screening looks for (a VEXAS patient's many vacuoles become "average"). The
  patient's raw values from ``measurements.csv`` are therefore standardised again with
  the *reference* cohort's means and standard deviations, which the model keeps
  (:func:`vexscreen.model.blocks.restandardise`).
"""
from __future__ import annotations

import os
from pathlib import Path

from ..exceptions import InputError
from ..model.blocks import Block, load_block, provenance_settings, restandardise, select_columns


def default_measure_fn():
    """``vexscreen.morphology.measure_scan`` when that package is installed, else None."""
    try:
        from .. import morphology  # type: ignore[attr-defined]
    except ImportError:
        return None
    return getattr(morphology, "measure_scan", None)


def measure_block(model, ct: str, scan, folder: Path, measure_fn=None) -> Block:
    """Measure the patient's ``ct`` cells into ``folder``; the block, checked and standardised as the model's."""
    fn = measure_fn or default_measure_fn()
    if fn is None:
        raise InputError("this model uses measurements, but no measuring function is available "
                         "(vexscreen.morphology is not installed); pass measure_fn",
                         getattr(model, "model_path_", None))
    written = fn(scan.scan_result(ct), folder)
    block = load_block(Path(written) if isinstance(written, (str, os.PathLike)) else folder, "measurements")
    check_measure_settings(model, ct, block)
    stats = (model.measurements_.get(ct) or {}).get("standardisation")
    block = restandardise(block, stats) if stats else block
    return select_columns(block, model.measurement_columns, stats["columns"] if stats else None)[0]


def check_measure_settings(model, ct: str, block: Block) -> None:
    """InputError, naming the folder, when the block was measured with other settings than the model's."""
    want = (model.measurements_.get(ct) or {}).get("settings") or {}
    got = provenance_settings(block.provenance)
    differ = sorted(k for k in set(want) | set(got) if want.get(k) != got.get(k))
    if differ:
        k = differ[0]
        raise InputError(f"measurement settings differ from the model's ({len(differ)}: {k} is "
                         f"{got.get(k)!r}, the model's {want.get(k)!r})", block.folder)
