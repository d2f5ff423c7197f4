"""The model folder: ``model.json`` + one skops classifier per cell type + the encoder file(s).

No pickle anywhere. ``model.json`` (format ``vexscreen-model``) holds the settings,
the classes and cell types, the reference cohort's figures and scores, the encoder's
SHA-256 and settings per cell type, the measurement settings, and the SHA-256 of
every other file in the folder. Classifiers are in skops' secure format
(``skops.io``): loading refuses any type outside :data:`TRUSTED_TYPES`.

Loading verifies, before anything is deserialised: the format and its version,
that every listed file is present and has its recorded SHA-256 (a changed file is
refused, named), and that each classifier holds trusted types only.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from .. import __version__ as VEXSCREEN_VERSION
from ..data.atomic import atomic_path, file_sha256
from ..exceptions import InputError
from .blocks import KINDS

FORMAT = "vexscreen-model"
VERSION = 1
MODEL_JSON = "model.json"

#: every type a fitted ``platt_svc()`` holds: CalibratedClassifierCV(SVC, StratifiedKFold, ensemble=False)
TRUSTED_TYPES = (
    "sklearn.calibration.CalibratedClassifierCV",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.model_selection._split.StratifiedKFold",
    "sklearn.svm._classes.SVC",
)


def classifier_file(ct: str) -> str:
    return f"classifier-{ct}.skops"


def encoder_file(sha256: str) -> str:
    return f"encoder-{sha256[:16]}.pt"


# ------------------------------------------------------------------ save
def save_model(model, path) -> Path:
    """Write the model folder atomically: built beside ``path``, then swapped in.

    An existing ``path`` is replaced only if it is a model folder (has model.json) or empty.
    """
    import skops.io as sio

    path = Path(path)
    check_target(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        os.chmod(tmp, 0o777 & ~_umask())
        files = {}
        for ct, clf in model.classifiers_.items():
            sio.dump(clf, tmp / classifier_file(ct))
            files[classifier_file(ct)] = file_sha256(tmp / classifier_file(ct))
        encoders = _copy_encoders(model, tmp, files)
        doc = model_document(model, encoders, files)
        with atomic_path(tmp / MODEL_JSON) as t:
            t.write_text(json.dumps(doc, indent=2, allow_nan=False) + "\n")
        _swap(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def check_target(path: Path) -> None:
    if path.exists() and not path.is_dir():
        raise InputError("exists and is not a folder; a model is a folder", path)
    if path.is_dir() and any(path.iterdir()) and not (path / MODEL_JSON).is_file():
        raise InputError("folder exists, is not empty and is not a vexscreen model; choose another --out",
                         path)


def _swap(new: Path, path: Path) -> None:
    if not path.exists():
        os.replace(new, path)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old.", dir=path.parent))
    os.replace(path, old / "model")
    os.replace(new, path)
    shutil.rmtree(old, ignore_errors=True)


def _copy_encoders(model, folder: Path, files: dict) -> dict:
    """Copy each cell type's encoder file in once; ``{ct: {"file", "sha256", "settings"} | None}``."""
    out = {}
    for ct in model.classifiers_:
        info = model.encoders_.get(ct)
        if info is None:
            out[ct] = None
            continue
        name = encoder_file(info["sha256"])
        source = info.get("source")
        if name not in files and source is not None:
            shutil.copyfile(source, folder / name)
            got = file_sha256(folder / name)
            if got != info["sha256"]:
                raise InputError(f"encoder file changed while saving (SHA-256 {got}, expected "
                                 f"{info['sha256']})", source)
            files[name] = got
        out[ct] = {"file": name if name in files else None, "sha256": info["sha256"],
                   "settings": info.get("settings", {})}
    return out


def model_document(model, encoders: dict, files: dict) -> dict:
    """The content of model.json (plain JSON values)."""
    import sklearn
    import skops

    settings = {k: (list(v) if isinstance(v, tuple) else v) for k, v in model.get_params().items()}
    return {
        "format": FORMAT, "version": VERSION, "vexscreen_version": model.vexscreen_version_,
        "saved_with": {"vexscreen": VEXSCREEN_VERSION, "scikit-learn": sklearn.__version__,
                       "skops": skops.__version__},
        "settings": settings, "classes": list(model.classes), "positive": model.classes[-1],
        "cell_types": list(model.classifiers_), "uses": model.uses,
        "encoders": encoders,
        "measurement_settings": {ct: (m or {}).get("settings") for ct, m in model.measurements_.items()},
        "cell_type_models": {ct: {"classifier": classifier_file(ct), "blocks": model.blocks_[ct],
                                  "measurements": model.measurements_.get(ct),
                                  "n_cells": model.n_cells_[ct], "cells_dropped": model.cells_dropped_[ct]}
                             for ct in model.classifiers_},
        "reference": model.reference_,
        "applicability": getattr(model, "applicability_", None),
        "files": dict(sorted(files.items())),
    }


# ------------------------------------------------------------------ load
def read_model_document(path) -> dict:
    """model.json of the folder ``path``, format and version checked, every file's SHA-256 verified."""
    path = Path(path)
    if not path.is_dir():
        raise InputError("no such model folder" if not path.exists() else "a model is a folder", path)
    doc_path = path / MODEL_JSON
    if not doc_path.is_file():
        raise InputError(f"not a vexscreen model folder (no {MODEL_JSON})", path)
    try:
        doc = json.loads(doc_path.read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read as JSON ({exc})", doc_path) from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise InputError(f"not a vexscreen model (no format={FORMAT!r} field)", doc_path)
    if doc.get("version") != VERSION:
        raise InputError(f"model format version {doc.get('version')!r}; this vexscreen "
                         f"({VEXSCREEN_VERSION}) reads version {VERSION}", doc_path)
    files = doc.get("files")
    if not isinstance(files, dict) or not files:
        raise InputError("model.json lists no files", doc_path)
    for name, sha in files.items():
        if not isinstance(name, str) or Path(name).name != name or name in (".", "..", MODEL_JSON):
            raise InputError(f"model.json lists an invalid file name {name!r}", doc_path)
        f = path / name
        if not f.is_file():
            raise InputError("model file missing", f)
        if file_sha256(f) != sha:
            raise InputError("SHA-256 mismatch: the file was changed after the model was saved", f)
    return doc


def load_classifier(file: Path):
    """A skops classifier, refused (InputError naming the file) if it holds an untrusted type."""
    import skops.io as sio
    from sklearn.calibration import CalibratedClassifierCV

    try:
        found = sio.get_untrusted_types(file=file)
    except Exception as exc:  # noqa: BLE001 - a damaged archive is bad input
        raise InputError(f"not a readable skops file ({type(exc).__name__}: {exc})", file) from None
    untrusted = sorted(set(found) - set(TRUSTED_TYPES))
    if untrusted:
        raise InputError(f"refused: untrusted type(s) {', '.join(untrusted)} (a model classifier holds "
                         f"only {', '.join(TRUSTED_TYPES)})", file)
    try:
        clf = sio.load(file, trusted=list(TRUSTED_TYPES))
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"cannot load the classifier ({type(exc).__name__}: {exc})", file) from None
    if not isinstance(clf, CalibratedClassifierCV):
        raise InputError(f"refused: holds a {type(clf).__name__}, expected CalibratedClassifierCV", file)
    return clf


def load_model(path):
    """A fitted :class:`ReferenceModel` from a model folder (see the module doc for the checks)."""
    from .reference import ReferenceModel

    path = Path(path)
    doc = read_model_document(path)
    settings = dict(doc["settings"])
    for key in ("classes", "cell_types"):
        settings[key] = tuple(settings[key])
    try:
        model = ReferenceModel(**settings)
    except TypeError as exc:
        raise InputError(f"unknown model setting ({exc})", path / MODEL_JSON) from None
    model.classifiers_ = {ct: load_classifier(path / classifier_file(ct)) for ct in doc["cell_types"]}
    per_type = doc["cell_type_models"]
    model.blocks_ = {ct: per_type[ct]["blocks"] for ct in doc["cell_types"]}
    bad = [b["kind"] for bl in model.blocks_.values() for b in bl if b["kind"] not in KINDS]
    if bad:
        raise InputError(f"unknown feature block kind(s) {bad}", path / MODEL_JSON)
    model.measurements_ = {ct: per_type[ct]["measurements"] for ct in doc["cell_types"]}
    model.n_cells_ = {ct: per_type[ct]["n_cells"] for ct in doc["cell_types"]}
    model.cells_dropped_ = {ct: per_type[ct]["cells_dropped"] for ct in doc["cell_types"]}
    model.encoders_ = {ct: _encoder_entry(path, e, doc["files"]) for ct, e in doc["encoders"].items()}
    model.reference_ = doc["reference"]
    model.applicability_ = doc.get("applicability")  # None in a model saved before the check existed
    model.vexscreen_version_ = doc["vexscreen_version"]
    model.model_path_ = str(path)
    model.model_sha256_ = file_sha256(path / MODEL_JSON)
    return model


def _encoder_entry(path: Path, entry, files: dict):
    """A cell type's encoder as recorded, its file (if carried) checked against the recorded SHA-256."""
    if entry is None:
        return None
    name = entry.get("file")
    if name is not None and files.get(name) != entry.get("sha256"):
        raise InputError(f"the encoder file {name} does not have the SHA-256 the model records for it",
                         path / MODEL_JSON)
    return {**entry, "source": str(path / name) if name else None}
