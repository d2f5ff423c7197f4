"""Screen one patient with a reference model: scan -> features -> per-type and combined probability.

Steps, per cell type of the model:

1. the patient's images of that type are encoded with the model's own encoder
   (into ``out_dir/<cell type>/``, so a re-run resumes; encodings found there
   from another encoder or other settings are refused), and measured when the
   model uses measurements;
2. every cell gets a *solitary* score: the type's classifier applied to that cell
   alone, an aggregate of one cell (SCEMILA's solitary score, Hehr et al. 2023);
   it says how much the cell on its own looks like the positive class;
3. with at least ``min_cells`` cells the type is assessable: probability = mean
   positive probability over ``n_aggregates`` bootstrapped medians of
   ``aggregate_size`` cells (METHOD.md Step 2b, as for a test patient of the study);
   interval = percentile interval over ``n_bootstrap`` replicates, each resampling
   the patient's cells with replacement and drawing the aggregates anew;
4. the combined probability is the model's combiner over assessable types, each
   replicate combined alike for its interval; verdict at the model's threshold.

Every random draw comes from ``RandomState(random_state + i)``, ``i`` the cell
type's index in the study's PN, MO, LY: the same folder gives the same numbers.
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np

from ..aggregation import BootstrapMedianAggregator
from ..exceptions import InputError
from ..study import CELL_TYPES
from ..model.blocks import join_blocks, load_block
from .assemble import build_result
from .measuring import measure_block
from .patient import PatientScan, scan_patient
from .result import ScreeningResult

_CHUNK = 32  # bootstrap replicates scored per predict_proba call


def screen_patient(model, patient, out_dir=None, *, class_map=None, measure_fn=None,
                   progress: bool = False, workers: int = 0) -> ScreeningResult:
    """Screen ``patient`` (a folder or a :class:`PatientScan`) with a fitted ``model``.

    ``out_dir`` keeps each type's encodings (``out_dir/<cell type>/``; a temporary
    folder when None). ``measure_fn(scan, out_dir)`` measures cells when the model uses
    measurements (default: ``vexscreen.morphology.measure_scan``, when installed;
    see :mod:`vexscreen.screen.measuring`).
    """
    scan = patient if isinstance(patient, PatientScan) else scan_patient(patient, class_map)
    with tempfile.TemporaryDirectory(prefix="vexscreen-screen-") as tmp:
        work = Path(out_dir) if out_dir is not None else Path(tmp)
        per_type = {}
        for ct in model.classifiers_:
            per_type[ct] = _score_type(model, ct, scan, work / ct, measure_fn, progress, workers)
        return build_result(model, scan, per_type, Path(out_dir) if out_dir is not None else None)


# ------------------------------------------------------------------ features
def cell_features(model, ct: str, scan: PatientScan, folder: Path, measure_fn=None, *,
                  progress: bool = False, workers: int = 0):
    """(X, images, measurements table) of the patient's ``ct`` cells, built as the model's were."""
    blocks = []
    for spec in model.blocks_[ct]:
        if spec["kind"] == "encodings":
            block = load_block(_encode(model, ct, scan, folder, progress, workers), "encodings")
        else:
            block = measure_block(model, ct, scan, folder / "measurements", measure_fn)
        if block.dim != spec["dim"]:
            raise InputError(f"{spec['kind']} of {block.dim} dimensions; the model's {ct} classifier was "
                             f"fitted on {spec['dim']}", block.folder)
        blocks.append(block)
    X, meta, table, _ = join_blocks(blocks)
    return X, meta["IMAGE"].astype(str).tolist(), table


def _encode(model, ct: str, scan: PatientScan, folder: Path, progress: bool, workers: int) -> Path:
    """Encode the type's images with the model's encoder into ``folder`` (resumed when already there)."""
    info = model.encoders_.get(ct)
    if not info or not info.get("source"):
        raise InputError(f"the model carries no encoder for {ct}, so it cannot encode images "
                         "(it was fitted on encodings without their encoder file)",
                         getattr(model, "model_path_", None))
    images = [r.rel for r in scan.images[ct]]
    geometry = encode_geometry(info.get("settings") or {})
    if _resumable(folder, info, geometry, images):
        return folder
    from ..encoder.inference import encode_scan  # torch is imported only when encoding

    summary = encode_scan(info["source"], scan.scan_result(ct), folder, full_size=geometry["full_size"],
                          oversize=geometry["oversize"], workers=workers, progress=progress)
    if summary.get("encoder_sha256") != info["sha256"]:
        raise InputError("the encoder file does not have the SHA-256 the model records", info["source"])
    return folder


def encode_geometry(settings: dict) -> dict:
    """The side and oversize policy to encode a patient's images as the reference's were.

    With ``pad`` the reference images were padded to the reference set's largest side
    (``input_size`` in its encode.json, e.g. 369 for CellaVision crops): a patient's
    images are padded to that same side, not to their own largest, so both sets are
    encoded at one geometry (an image larger still is padded to its own side).
    """
    full_size, oversize = settings.get("full_size"), settings.get("oversize")
    if oversize == "pad" and settings.get("input_size"):
        full_size = max(int(settings["input_size"]), int(full_size or 0))
    return {"full_size": full_size, "oversize": oversize, "scale": settings.get("scale")}


def _resumable(folder: Path, info: dict, geometry: dict, images: list[str]) -> bool:
    """True when ``folder`` already holds these images' encodings by this encoder and settings.

    Encodings there by another encoder, or at other settings, are refused (InputError):
    a folder of the model's working files is never silently overwritten with other ones.
    """
    done = folder / "encode.json"
    if not done.is_file():
        return False
    try:
        prev = json.loads(done.read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read as JSON ({exc})", done) from None
    if prev.get("encoder_sha256") != info["sha256"]:
        raise InputError(f"encodings made by another encoder (SHA-256 {str(prev.get('encoder_sha256'))[:12]}…), "
                         f"not the model's ({info['sha256'][:12]}…); remove this folder or choose another "
                         "--out", done)
    differ = [f"{k}: {prev.get(k)!r} vs the model's {v!r}" for k, v in geometry.items()
              if v is not None and prev.get(k) != v]
    if differ:
        raise InputError("encodings made with other encoder settings (" + "; ".join(differ) + "); remove "
                         "this folder or choose another --out", done)
    try:
        meta = load_block(folder, "encodings").meta
    except InputError:
        return False  # incomplete: encode again
    return "IMAGE" in meta.columns and meta["IMAGE"].astype(str).tolist() == images


# ------------------------------------------------------------------ scores
def _score_type(model, ct, scan, folder, measure_fn, progress, workers) -> dict:
    n = scan.n_cells(ct)
    out = {"n": n, "scores": np.zeros(0), "images": [], "table": None, "p": None, "reps": None, "mean_cell": None}
    if n == 0:
        return out
    X, images, table = cell_features(model, ct, scan, folder, measure_fn, progress=progress, workers=workers)
    out.update(n=len(X), scores=model.score_cells(ct, X), images=images, table=table,
               mean_cell=X.mean(axis=0) if len(X) else None)
    if len(X) >= int(model.min_cells):
        out["p"], out["reps"] = patient_probability(model, ct, X)
    return out


def patient_probability(model, ct: str, X: np.ndarray) -> tuple[float, np.ndarray]:
    """(probability, bootstrap replicates) of one patient's cells of one type (module doc, step 3)."""
    rng = np.random.RandomState(int(model.random_state) + _type_index(ct))
    agg = BootstrapMedianAggregator(int(model.n_aggregates), int(model.aggregate_size), rng,
                                    statistic=model.statistic)
    owner = np.zeros(len(X), dtype=int)
    A, _, _ = agg.fit_resample(X, None, owner)
    p = float(model.score_cells(ct, A).mean())
    reps = []
    for start in range(0, int(model.n_bootstrap), _CHUNK):
        k = min(_CHUNK, int(model.n_bootstrap) - start)
        blocks = [agg.fit_resample(X[rng.randint(0, len(X), len(X))], None, owner)[0] for _ in range(k)]
        s = model.score_cells(ct, np.concatenate(blocks))
        reps.append(s.reshape(k, -1).mean(axis=1))
    return p, np.concatenate(reps)


def _type_index(ct: str) -> int:
    return CELL_TYPES.index(ct) if ct in CELL_TYPES else len(CELL_TYPES) + sum(map(ord, ct))

