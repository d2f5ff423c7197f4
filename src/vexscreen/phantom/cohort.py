"""Phantom cohorts: labeled single-cell images with known morphology, in the study's layout.

Layout written under ``out``::

    out/<CELL_TYPE>/<GROUP>/<PATIENT>/<SAMPLE>/cell_00001.png   (one study root per cell type)
    out/encoder_test/<CELL_TYPE>/<GROUP>/cell_00001.png         (cells of known morphology)
    out/truth.csv                                               (one row per image)
    out/phantom.json                                            (the settings; guards resumption)
    out/preview/<CELL_TYPE>_<GROUP>.png                         (with preview=True: contact sheets,
                                                                 each cell marked with its drawn features)

Patient folders keep the study's pseudonyms (``VEXAS[1]``): brackets are plain
characters in POSIX paths and vexscreen never globs inside the tree.

Determinism: each cell's generators are seeded from (seed, cell type, patient,
sample, cell index) only (CRC-32 of the names, never ``hash()``), so the same
seed gives the same images whatever the number of workers or the order of work.
Every image and ``truth.csv`` is written atomically; work is done in chunks of
cells, each recorded in ``out/.parts/`` once complete, so a killed run resumes
where it stopped (a partly written chunk is regenerated, byte-identical).
"""
from __future__ import annotations

import json
import logging
import math
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from ..data.atomic import atomic_path, write_csv, write_json
from ..study import study_structure
from ..exceptions import InputError
from ..progress import Progress, ProgressArg
from . import phenotypes as P
from .preview import write_previews
from .render import CELL_TYPES, CellSpec, render
from .style import STYLES, get_style

COHORTS = ("study", "small", "null")
PHANTOM_VERSION = 1
CHUNK = 48
SMALL_PATIENTS = 2     # per group
SMALL_SAMPLES = 2      # per patient
SMALL_CELLS = 6        # per sample (times --scale)
_RESAMPLE = 21         # generator key of --patients-per-group (phenotypes uses 11-15)

log = logging.getLogger(__name__)

#: truth.csv: identity columns first, then the spec, what was drawn, the patient phenotype.
ID_COLUMNS = ["path", "set", "cell_type", "group", "patient", "sample", "cell_index", "source",
              "texture_status", "source_image"]
SPEC_COLUMNS = list(CellSpec().to_dict().keys())
DRAWN_COLUMNS = ["n_lobes_drawn", "n_vacuoles_drawn", "vacuole_radii", "vacuole_centers",
                 "n_inclusions_drawn", "n_granules", "cell_area", "nucleus_area", "center_x", "center_y"]
PHENO_COLUMNS = list(P.BASELINE.to_dict().keys())
TRUTH_COLUMNS = ID_COLUMNS + [c for c in SPEC_COLUMNS if c != "cell_type"] + DRAWN_COLUMNS + PHENO_COLUMNS


def cohort_structure(cohort: str = "study", scale: float = 1.0, cell_types=CELL_TYPES, *,
                     patients_per_group: int | None = None, seed: int = 0) -> pd.DataFrame:
    """Rows CELL_TYPE, GROUP, PATIENT, SAMPLE, N_CELLS for the phantom (>= 1 cell per sample).

    ``patients_per_group`` (``study`` and ``null`` only): N patients per group instead of the
    study's 3/3/6, each with the samples and cell counts of a study patient drawn at random
    (:func:`resampled_structure`); None keeps the study's own structure.
    """
    if cohort not in COHORTS:
        raise InputError(f"unknown cohort {cohort!r}; choose one of {', '.join(COHORTS)}")
    if not (scale > 0 and math.isfinite(scale)):
        raise InputError(f"--scale must be a positive number, got {scale}")
    bad = [c for c in cell_types if c not in CELL_TYPES]
    if bad or not cell_types:
        raise InputError(f"cell types must be among {', '.join(CELL_TYPES)}; got {', '.join(map(str, cell_types))}")
    df = study_structure()
    if patients_per_group is not None:
        if cohort == "small":
            raise InputError("--patients-per-group is for the study and null cohorts, not small")
        df = resampled_structure(df, patients_per_group, seed)
    df = df[df.CELL_TYPE.isin(cell_types)].copy()
    if cohort == "small":
        keep_pat = set()
        for g, sub in df.groupby("GROUP"):
            keep_pat |= set(sorted(sub.PATIENT.unique())[:SMALL_PATIENTS])
        df = df[df.PATIENT.isin(keep_pat)]
        first = {p: sorted(s.SAMPLE.unique())[:SMALL_SAMPLES] for p, s in df.groupby("PATIENT")}
        df = df[[s in first[p] for p, s in zip(df.PATIENT, df.SAMPLE)]].copy()
        df["N_CELLS"] = max(1, int(round(SMALL_CELLS * scale)))
    else:
        df["N_CELLS"] = np.maximum(1, np.rint(df.N_CELLS.to_numpy() * scale).astype(int))
    order = {c: i for i, c in enumerate(CELL_TYPES)}
    df = df.sort_values(["CELL_TYPE", "GROUP", "PATIENT", "SAMPLE"],
                        key=lambda s: s.map(order) if s.name == "CELL_TYPE" else s)
    return df.reset_index(drop=True)


MAX_PATIENTS_PER_GROUP = 200


def resampled_structure(study: pd.DataFrame, patients_per_group: int, seed: int) -> pd.DataFrame:
    """N patients per group of ``study`` (named ``GROUP[1]``..``GROUP[N]``), each a copy of a
    study patient drawn at random, with replacement, from all groups alike (so the counts carry no
    group signal): its samples (every cell type of a sample kept together, as a smear holds all
    three) and their cell counts. Samples get new names (``<group>-<k>-<j>``), so every smear has its
    own stain. Seeded by ``seed`` and the group's name only.
    """
    n = int(patients_per_group)
    if not 1 <= n <= MAX_PATIENTS_PER_GROUP:
        raise InputError(f"--patients-per-group must be within 1-{MAX_PATIENTS_PER_GROUP}, got {patients_per_group}")
    templates = sorted(study.PATIENT.unique())
    rows = []
    for group in sorted(study.GROUP.unique()):
        rng = P.generator(seed, _RESAMPLE, P.stable_id(group))
        for k, pick in enumerate(rng.integers(len(templates), size=n), start=1):
            src = study[study.PATIENT == templates[pick]]
            names = {s: f"{group}-{k}-{j:02d}" for j, s in enumerate(sorted(src.SAMPLE.unique()), start=1)}
            for r in src.itertuples(index=False):
                rows.append({"CELL_TYPE": r.CELL_TYPE, "GROUP": group, "PATIENT": f"{group}[{k}]",
                             "SAMPLE": names[r.SAMPLE], "N_CELLS": int(r.N_CELLS)})
    return pd.DataFrame(rows, columns=list(study.columns))


# --------------------------------------------------------------------------- work units

@dataclass(frozen=True)
class Unit:
    """A chunk of cells of one sample (or one encoder-test group)."""

    set: str            # "cohort" or "encoder_test"
    cell_type: str
    group: str
    patient: str
    sample: str
    start: int          # first cell index (1-based)
    stop: int           # last + 1

    @property
    def key(self) -> str:
        return f"{self.set}__{self.cell_type}__{P.stable_id(self.group)}_{P.stable_id(self.patient)}_" \
               f"{P.stable_id(self.sample)}__{self.start}"

    def folder(self) -> str:
        if self.set == "encoder_test":
            return f"encoder_test/{self.cell_type}/{self.group}"
        return f"{self.cell_type}/{self.group}/{self.patient}/{self.sample}"


def _units(structure: pd.DataFrame, encoder_test_per_group: int, cell_types) -> list[Unit]:
    units = []
    for r in structure.itertuples(index=False):
        for a in range(1, r.N_CELLS + 1, CHUNK):
            units.append(Unit("cohort", r.CELL_TYPE, r.GROUP, r.PATIENT, str(r.SAMPLE), a,
                              min(r.N_CELLS + 1, a + CHUNK)))
    for ct in cell_types:
        if encoder_test_per_group > 0:
            for g in P.ENCODER_TEST_GROUPS[ct]:
                for a in range(1, encoder_test_per_group + 1, CHUNK):
                    units.append(Unit("encoder_test", ct, g, "", "", a,
                                      min(encoder_test_per_group + 1, a + CHUNK)))
    return units


def cell_generators(seed: int, unit: Unit, index: int):
    """(spec generator, render generator) for one cell: a pure function of its identity."""
    t = P.TYPE_IDS[unit.cell_type]
    if unit.set == "encoder_test":
        key = (seed, P._ENC, t, P.stable_id(unit.group), index)
    else:
        key = (seed, P._CELL, t, P.stable_id(unit.patient), P.stable_id(unit.sample), index)
    return P.generator(*key, 0), P.generator(*key, 1)


def _save_png(path: Path, img: np.ndarray) -> None:
    with atomic_path(path, suffix=".png") as tmp:
        Image.fromarray(img).save(tmp, format="PNG", compress_level=1)


def _run_unit(args):
    """Render (or plant into real images) the cells of one unit; write them; return truth rows."""
    out, unit, seed, null, sources, style = args
    out, style = Path(out), get_style(style)
    rows = []
    if unit.set == "cohort":
        pheno = P.patient_phenotype(unit.group, unit.patient, seed, null=null)
        smear = P.smear_nuisance(unit.sample, seed)
        pheno_cols = pheno.to_dict()
    else:
        pheno_cols = {c: np.nan for c in PHENO_COLUMNS}
    src = sources.get(unit.cell_type) if sources else None
    for i in range(unit.start, unit.stop):
        g_spec, g_render = cell_generators(seed, unit, i)
        if unit.set == "cohort":
            spec = P.cell_spec(unit.cell_type, pheno, smear, g_spec, style)
        else:
            spec = P.encoder_test_spec(unit.cell_type, unit.group, g_spec, style)
        rel = f"{unit.folder()}/cell_{i:05d}.png"
        row = {"path": rel, "set": unit.set, "cell_type": unit.cell_type, "group": unit.group,
               "patient": unit.patient, "sample": unit.sample, "cell_index": i}
        spec_d = spec.to_dict()
        del spec_d["cell_type"]
        if src and unit.set == "cohort":
            from .texture import load_rgb, plant_vacuoles
            pick = src[int(g_render.integers(len(src)))]
            img, rec = plant_vacuoles(load_rgb(pick), spec.n_vacuoles, spec.vacuole_radius, g_render)
            # only the vacuoles are applied: the rest of the spec does not describe this image
            spec_d = {k: (spec_d[k] if k in ("n_vacuoles", "vacuole_radius") else np.nan) for k in spec_d}
            row.update(source="real", source_image=str(pick), **rec)
        else:
            r = render(spec, g_render, style)
            img = r.image
            row.update(source="rendered", texture_status="", source_image="", **r.drawn)
        row.update(spec_d)
        row.update(pheno_cols)
        _save_png(out / rel, img)
        rows.append(row)
    frame = pd.DataFrame(rows).reindex(columns=TRUTH_COLUMNS)
    write_csv(out / ".parts" / f"{unit.key}.csv", frame)
    return unit.key, len(rows)


# --------------------------------------------------------------------------- cohort

def _manifest(cohort, scale, seed, cell_types, encoder_test_per_group, source_images,
              patients_per_group=None, style: str = "drawn") -> dict:
    extra = {} if patients_per_group is None else {"patients_per_group": int(patients_per_group)}
    if style != "drawn":   # a phantom of the default style keeps the manifest it always had (and resumes)
        # its values too: a phantom drawn with an earlier calibration is not resumed as if it were this one
        extra.update(style=style, style_parameters=get_style(style).to_dict())
    return {"tool": "vexscreen phantom", "version": PHANTOM_VERSION, "cohort": cohort, "scale": float(scale),
            "seed": int(seed), "cell_types": list(cell_types),
            "encoder_test_per_group": int(encoder_test_per_group),
            "source_images": None if source_images is None else str(Path(source_images).resolve()),
            **extra}


def make_cohort(out, cohort: str = "study", scale: float = 1.0, seed: int = 0, workers: int = 1,
                cell_types=CELL_TYPES, encoder_test_per_group: int = 30, preview: bool = False,
                source_images=None, progress: ProgressArg = False,
                patients_per_group: int | None = None, style: str = "drawn") -> Path:
    """Write a phantom cohort under ``out`` (see the module docstring); return ``out``.

    ``out/truth.csv`` lists every image; ``read_truth(out)`` loads it. ``progress``: True for
    a bar on stderr, or ``progress(cells_done, cells_total)`` (:mod:`vexscreen.progress`).
    ``patients_per_group``: N patients per group (see :func:`cohort_structure`); None: the study's.
    ``style``: how normal cells are drawn (:mod:`.style`): ``drawn`` (the default, every result's
    phantom) or ``calibrated`` (sizes, chromatin and colour measured on real cells).
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError("--out exists and is not a folder", out)
    cell_types = tuple(cell_types)
    if workers < 1:
        raise InputError(f"--workers must be at least 1, got {workers}")
    if encoder_test_per_group < 0:
        raise InputError("--encoder-test-per-group must be >= 0")
    if style not in STYLES:
        raise InputError(f"--style must be one of {', '.join(STYLES)}, got {style!r}")
    if style != "drawn" and source_images is not None:
        raise InputError("--style is how cells are drawn; with --source-images the cells are real", source_images)
    structure = cohort_structure(cohort, scale, cell_types, patients_per_group=patients_per_group, seed=seed)
    sources = None
    if source_images is not None:
        from .texture import source_images as find_sources
        sources = {k: [str(p) for p in v] for k, v in find_sources(source_images, cell_types).items()}
    _claim(out, _manifest(cohort, scale, seed, cell_types, encoder_test_per_group, source_images,
                          patients_per_group, style))
    units = _units(structure, encoder_test_per_group, cell_types)
    parts = out / ".parts"
    done = {p.stem for p in parts.glob("*.csv")} if parts.is_dir() else set()
    if not done and _complete(out, units):
        if preview:
            write_previews(out, _truth_text(out))
        return out
    todo = [u for u in units if u.key not in done]
    t0 = time.time()
    n_cells = _render_units([(str(out), u, seed, cohort == "null", sources, style) for u in todo], workers,
                            progress)
    truth = pd.concat([pd.read_csv(parts / f"{u.key}.csv", keep_default_na=False, dtype=str) for u in units],
                      ignore_index=True).reindex(columns=TRUTH_COLUMNS)
    write_csv(out / "truth.csv", truth)
    shutil.rmtree(parts, ignore_errors=True)
    if preview:
        write_previews(out, truth)
    log.info("phantom: %d cells rendered in %.1f s", n_cells, time.time() - t0)
    return out


def _claim(out: Path, manifest: dict) -> None:
    """Make ``out`` this phantom's folder: new or empty, or holding a phantom with the same
    settings (then the run resumes); anything else is an InputError."""
    mpath = out / "phantom.json"
    if mpath.exists():
        try:
            old = json.loads(mpath.read_text())
        except ValueError:
            old = None
        if old != manifest:
            raise InputError("this folder holds a phantom made with other settings "
                             f"({json.dumps(old)}); choose another --out or delete it", out)
    elif out.exists() and any(p.name != ".parts" for p in out.iterdir()):
        raise InputError("folder exists and is not empty (and holds no phantom.json); choose another --out", out)
    out.mkdir(parents=True, exist_ok=True)
    write_json(mpath, manifest)


def _truth_text(out) -> pd.DataFrame:
    """truth.csv as written, empty cells kept as '' (what write_previews and the resume check need)."""
    return pd.read_csv(Path(out) / "truth.csv", keep_default_na=False)


def _complete(out: Path, units: list[Unit]) -> bool:
    """A finished run: truth.csv lists every cell of ``units`` and every image is on disk."""
    if not (out / "truth.csv").exists():
        return False
    truth = _truth_text(out)
    return len(truth) == sum(u.stop - u.start for u in units) and all((out / p).exists() for p in truth.path)


def _render_units(jobs: list, workers: int, progress: ProgressArg) -> int:
    """Run :func:`_run_unit` on every job, in ``workers`` processes; return the number of cells."""
    n_cells = sum(u.stop - u.start for _, u, *_ in jobs)
    with Progress(progress, n_cells, desc="phantom", unit="cell") as counter:
        if workers == 1 or len(jobs) <= 1:
            for j in jobs:
                counter.update(_run_unit(j)[1])
            return n_cells
        import multiprocessing as mp
        # fork (cheap, and no `if __name__ == "__main__"` guard needed in the caller's script) unless
        # torch is loaded: its thread pools do not survive a fork, so then start workers from a clean
        # forkserver with the renderer preloaded (the caller's script then needs the guard)
        if "torch" in sys.modules:
            ctx = mp.get_context("forkserver")
            ctx.set_forkserver_preload(["vexscreen.phantom.cohort"])
        else:
            ctx = mp.get_context("fork")
        with ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=ctx) as ex:
            for _, n in ex.map(_run_unit, jobs, chunksize=1):
                counter.update(n)
    return n_cells


def read_truth(out) -> pd.DataFrame:
    """truth.csv of a phantom folder, with numeric columns parsed."""
    return pd.read_csv(Path(out) / "truth.csv", dtype={"sample": str, "patient": str,
                                                       "vacuole_radii": str, "vacuole_centers": str})
