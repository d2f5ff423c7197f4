"""The screening report: one patient's result as a page a haematologist reads (issue 12.4).

:func:`render_patient_report` writes, into one patient's folder, atomically:

* ``report.html``: one self-contained page (Jinja2 templates in ``templates/``, autoescaped;
  every image and figure embedded as a ``data:`` URI; a Content-Security-Policy forbids any
  network request or script). Top to bottom: the verdict line, the disclaimer, whether the
  patient's cells are like the reference patients' (:mod:`vexscreen.model.applicability`), the
  per-cell-type table, the reference score distributions with this patient marked, the
  measurement table against the reference classes, a gallery of the cells that push most (24)
  and least (12) toward VEXAS (full size on click, pure CSS), the ignored class folders and
  unreadable files, and the model;
* ``report.json``: exactly the ``result`` dict (everything the page shows comes from it);
* ``cells.csv``: one row per cell of ``result["cells"]``.

:func:`render_index` writes ``summary.csv`` and ``index.html`` for a batch of patients.

The ``result`` schema (format ``vexscreen-screening``, version 1; docs/report.md has the long form)::

    format: "vexscreen-screening"; version: 1; vexscreen_version: str (the version that screened)
    patient: str                      # the patient folder's name (a pseudonym)
    probability: float | null         # combined patient probability of the positive class
    interval: [low, high] | null      # its uncertainty interval
    verdict: "VEXAS-like" | "not VEXAS-like" | "indeterminate"
    statement: str                    # the plain-language line shown at the top
    cell_types: {PN|MO|LY: {n_cells: int, probability: float|null, interval: [lo, hi]|null,
                            assessable: bool, note: str}}
    reference: {classes: [..., positive last], scores: {class: [one score per reference patient]},
                patient_level: {auc: float, p_value: float, ...},
                cell_type_scores: {PN|MO|LY: {class: [scores]}}   # optional: per-cell-type panel
                threshold: float}                                 # optional: drawn on the figure
    measurements: [{name: str, unit: str, patient: float|null, reference: {class: [low, high]}}]
    cells: [{image: path relative to image_root, cell_type: str, score: float|null,
             vacuole_count: int|null, vacuole_area_um2: float|null, nucleus_lobes: int|null,
             quality: str}]       # more keys are allowed; they become more cells.csv columns
    gallery: {top: [indices into cells], bottom: [indices into cells]}
    ignored: {classes: {folder: n_images}, bad_files: [{path: str, reason: str}]}
    model: {path, sha256, classes, positive, uses: ["encodings"|"measurements"],
            min_cells: {cell type: int}, vexscreen_version}
    disclaimer: str
    applicability: {distance: float, p_value: float, flagged: bool, alpha: float, n_reference: int,
                    reference_range: [lo, hi], cell_types: {PN|MO|LY: float}, method: str,
                    furthest: [{cell_type, name, unit, patient, reference: [lo, hi], z}]} | null
                                      # optional: is the patient like the reference patients?
    example: bool                     # optional: true only for :func:`example_result`'s made-up data

Measurement values are in their ``unit``; with unit ``"%"`` they are percentages (0-100).
A batch entry whose screening failed is ``{"patient": str, "error": str}`` (for :func:`render_index`).

:func:`example_result` builds an example from real cell images with made-up scores; the page it
gives says so in a banner. It feeds the tests and docs/img/report_example.py.
"""
from __future__ import annotations

import base64
import contextlib
import functools
import io
import logging
import math
import numbers
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pandas as pd
from PIL import Image

from .. import __version__
from ..data.atomic import write_csv, write_json, write_text
from ..exceptions import InputError
from ..study import CELL_TYPE_NAMES, CELL_TYPES
from .tables import format_patient_level

log = logging.getLogger(__name__)

FORMAT = "vexscreen-screening"
VERSION = 1
VERDICTS = ("VEXAS-like", "not VEXAS-like", "indeterminate")
DISCLAIMER = "vexscreen is a research tool, not a diagnostic device; UBA1 sequencing confirms VEXAS."
#: Issue 12.3: the gallery shows the 24 cells that push most toward VEXAS and the 12 that push least.
N_TOP, N_BOTTOM = 24, 12
CELL_COLUMNS = ("image", "cell_type", "score", "vacuole_count", "vacuole_area_um2", "nucleus_lobes",
                "quality")
REQUIRED_KEYS = ("patient", "probability", "interval", "verdict", "statement", "cell_types",
                 "reference", "measurements", "cells", "gallery", "ignored", "model", "disclaimer")
THUMB_PX = 240          # thumbnail's longest side (shown at half that: sharp on HiDPI screens)
FULL_MAX_PX = 1024      # a larger cell image is scaled down for the full-size view
CLASS_COLOURS = ("#4c72b0", "#8172b2", "#937860", "#55a868", "#64b5cd")
POSITIVE_COLOUR = "#c44e52"


# --------------------------------------------------------------------------- checking


def to_jsonable(obj, where: str = "result"):
    """``obj`` with numpy scalars/arrays and tuples as plain JSON types; NaN/inf are refused.

    A NaN would be written as invalid JSON (or silently as null); the schema uses null for
    "not assessable", so a NaN here is a bug upstream, named by its key.
    """
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v, f"{where}.{k}") for k, v in obj.items()}
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist(), where)
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v, f"{where}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, numbers.Integral):
        return int(obj)
    if isinstance(obj, numbers.Real):
        if not math.isfinite(obj):
            raise InputError(f"{where} is {obj}; use null for a value that is not available")
        return float(obj)
    if isinstance(obj, Path):
        return str(obj)
    if obj is None or isinstance(obj, str):
        return obj
    raise InputError(f"{where} has type {type(obj).__name__}, which JSON cannot hold")


def check_result(result: dict) -> dict:
    """Validate a screening result against the schema above; return it as plain JSON types."""
    if not isinstance(result, dict):
        raise InputError(f"a screening result is a dict, not {type(result).__name__}")
    if result.get("format") != FORMAT or result.get("version") != VERSION:
        raise InputError(f"not a {FORMAT} result of version {VERSION} (format "
                         f"{result.get('format')!r}, version {result.get('version')!r})")
    missing = [k for k in REQUIRED_KEYS if k not in result]
    if missing:
        raise InputError(f"screening result lacks {', '.join(missing)}")
    r = to_jsonable(result)
    if r["verdict"] not in VERDICTS:
        raise InputError(f"verdict {r['verdict']!r} is not one of {', '.join(VERDICTS)}")
    unknown = sorted(set(r["cell_types"]) - set(CELL_TYPES))
    if unknown:
        raise InputError(f"unknown cell types {unknown}; expected some of {list(CELL_TYPES)}")
    classes = r["reference"].get("classes") or []
    if len(classes) < 2 or set(r["reference"].get("scores", {})) - set(classes):
        raise InputError("reference.classes needs two or more classes and reference.scores "
                         "no other class")
    n = len(r["cells"])
    for side in ("top", "bottom"):
        bad = [i for i in r["gallery"].get(side, []) if not 0 <= i < n]
        if bad:
            raise InputError(f"gallery.{side} indices {bad[:5]} are outside cells (0-{n - 1})")
    return r


# --------------------------------------------------------------------------- wording


def format_probability(p) -> str:
    return "n/a" if p is None else f"{p:.2f}"


def format_interval(interval) -> str:
    """``[0.84-0.96]``, the study's style for intervals; empty when there is none."""
    return "" if not interval else f"[{interval[0]:.2f}-{interval[1]:.2f}]"


def _count(ct: str, n: int) -> str:
    name = CELL_TYPE_NAMES.get(ct, ct)
    return f"{n} {name[:-1] if n == 1 and name.endswith('s') else name}"


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def format_statement(verdict: str, probability, interval, cell_types: dict, min_cells: dict) -> str:
    """The plain-language verdict line, naming what it rests on (issue 12.2).

    "VEXAS-like: 0.91 [0.84-0.96] from 412 neutrophils and 63 monocytes";
    "indeterminate: 6 neutrophils, fewer than the 30 the model needs".
    Cell types the model does not use (absent from ``min_cells``) are not mentioned.
    """
    used = [ct for ct in CELL_TYPES if ct in cell_types and ct in min_cells]
    ok = [ct for ct in used if cell_types[ct]["assessable"]]
    short = [ct for ct in used if not cell_types[ct]["assessable"]]
    lacking = [_count(ct, cell_types[ct]["n_cells"]) for ct in short]
    needs = sorted({min_cells[ct] for ct in short})
    need_text = (f"fewer than the {needs[0]} the model needs" if len(needs) == 1 else
                 "fewer than the model needs (" + ", ".join(f"{CELL_TYPE_NAMES[ct]} {min_cells[ct]}"
                                                         for ct in short) + ")")
    if verdict == "indeterminate" or probability is None:
        return f"indeterminate: {_join(lacking)}, {need_text}" if lacking else "indeterminate"
    text = f"{verdict}: {format_probability(probability)} {format_interval(interval)}".rstrip()
    if ok:
        text += " from " + _join([_count(ct, cell_types[ct]["n_cells"]) for ct in ok])
    if lacking:
        text += f" (not assessable: {_join(lacking)}, {need_text})"
    return text


def _number(value, unit: str) -> str:
    return f"{value:.0f}" if unit == "%" and abs(value) >= 10 else f"{value:.3g}"


def _with_unit(text: str, unit: str) -> str:
    return text + "%" if unit == "%" else f"{text} {unit}".rstrip()


def format_value(value, unit: str) -> str:
    """A measurement in its unit: ``38%``, ``2.4 vacuoles``, ``1.7 µm²``; ``n/a`` for null."""
    return "n/a" if value is None else _with_unit(_number(value, unit), unit)


def format_range(low_high, unit: str) -> str:
    """``25-60%``: a reference range in its unit."""
    return _with_unit(f"{_number(low_high[0], unit)}-{_number(low_high[1], unit)}", unit)


def format_measurement(m: dict, classes) -> str:
    """``vacuolated neutrophils: 38% (reference VEXAS 25-60%, UBA1-WT 1-4%)``: positive class first."""
    refs = [f"{c} {format_range(m['reference'][c], m['unit'])}" for c in reversed(classes)
            if c in m["reference"]]
    text = f"{m['name']}: {format_value(m['patient'], m['unit'])}"
    return text + (f" (reference {', '.join(refs)})" if refs else "")


def select_gallery(cells: list[dict], n_top: int = N_TOP, n_bottom: int = N_BOTTOM) -> dict:
    """Indices of the ``n_top`` highest-scoring and ``n_bottom`` lowest-scoring cells (disjoint).

    Cells without a score are left out; ties keep the cells' order, so the choice is deterministic.
    """
    scored = [i for i, c in enumerate(cells) if c.get("score") is not None]
    ranked = sorted(scored, key=lambda i: -cells[i]["score"])  # stable: ties in cell order
    bottom = sorted(ranked[n_top:], key=lambda i: cells[i]["score"])[:n_bottom]
    return {"top": ranked[:n_top], "bottom": bottom}


# --------------------------------------------------------------------------- images and figures


def _data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _encode(im: Image.Image, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def embed_cell_image(path) -> dict | None:
    """A cell image as ``{"thumb", "full", "width", "height"}`` data URIs; None if unreadable.

    The full-size view embeds the file's own bytes when the browser shows them exactly as the
    model read them (8-bit RGB JPEG/PNG, no EXIF rotation, at most FULL_MAX_PX); otherwise the
    decoded RGB image (vexscreen.data.scan.load_rgb), re-encoded losslessly as PNG.
    """
    from ..data.scan import load_rgb

    path = Path(path)
    try:
        rgb = load_rgb(path)
        raw = path.read_bytes()
        with Image.open(io.BytesIO(raw)) as im:
            fmt, mode, turned = im.format, im.mode, im.getexif().get(0x0112, 1) != 1
    except (InputError, OSError) as exc:
        log.warning("cell image not shown in the report: %s", exc)
        return None
    if fmt in ("JPEG", "PNG") and mode == "RGB" and not turned and max(rgb.size) <= FULL_MAX_PX:
        full = _data_uri(raw, f"image/{fmt.lower()}")
    else:
        big = rgb.copy()
        big.thumbnail((FULL_MAX_PX, FULL_MAX_PX))
        full = _data_uri(_encode(big, "PNG"), "image/png")
    small = rgb.copy()
    small.thumbnail((THUMB_PX, THUMB_PX))
    thumb = _data_uri(_encode(small, "JPEG", quality=88), "image/jpeg")
    return {"thumb": thumb, "full": full, "width": rgb.width, "height": rgb.height}


def _horizontal() -> dict:
    import matplotlib

    major, minor = (int(v) for v in matplotlib.__version__.split(".")[:2])
    return {"orientation": "horizontal"} if (major, minor) >= (3, 10) else {"vert": False}


def _class_colour(k: int, classes) -> str:
    return POSITIVE_COLOUR if k == len(classes) - 1 else CLASS_COLOURS[k % len(CLASS_COLOURS)]


def _distribution_axes(ax, classes, scores: dict, probability, interval, threshold=None) -> None:
    """One row per reference class (box + jittered points), a top row for this patient."""
    rng = np.random.default_rng(0)  # jitter only; seeded so the figure is reproducible
    horizontal = _horizontal()  # boxplot's vert=False became orientation= in matplotlib 3.10
    for k, c in enumerate(classes):
        s = np.asarray(scores.get(c, []), dtype=float)
        if len(s):
            ax.boxplot(s, positions=[k], **horizontal, widths=0.55, showfliers=False,
                       medianprops={"color": "black"}, boxprops={"color": "0.45"},
                       whiskerprops={"color": "0.45"}, capprops={"color": "0.45"})
            ax.scatter(s, k + rng.uniform(-0.17, 0.17, len(s)), s=30, color=_class_colour(k, classes),
                       edgecolor="white", linewidth=0.6, zorder=3)
    ax.scatter([], [], s=30, color="0.45", edgecolor="white", label="a reference patient (colour: its class)")
    top = len(classes)
    if probability is None:
        ax.text(0.5, top, "this patient: not assessable", ha="center", va="center", fontsize=10)
    else:
        lo, hi = interval if interval else (probability, probability)
        ax.errorbar([probability], [top], xerr=[[probability - lo], [hi - probability]], fmt="D",
                    color="black", ms=8, capsize=5, lw=2, zorder=4,
                    label=f"this patient: {format_probability(probability)} {format_interval(interval)}")
        ax.axvline(probability, color="black", lw=0.8, ls=":", zorder=1)
    if threshold is not None:
        ax.axvline(threshold, color="0.5", lw=1, ls="--", zorder=1, label=f"threshold {threshold:g}")
    ax.set_yticks(range(top + 1), [f"{c} (n={len(scores.get(c, []))})" for c in classes] + ["this patient"])
    ax.set_ylim(-0.6, top + 0.6)
    ax.set_xlim(-0.02, 1.02)
    ax.grid(axis="x", color="0.9")


def figure_png(fig) -> str:
    """A matplotlib figure as a PNG data URI."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return _data_uri(buf.getvalue(), "image/png")


def score_plot(r: dict):
    """The reference classes' patient scores with this patient's probability and interval:
    a matplotlib Figure (:func:`score_figure` embeds it in the page)."""
    from matplotlib.figure import Figure

    ref = r["reference"]
    classes = ref["classes"]
    fig = Figure(figsize=(7.2, 1.1 + 0.55 * (len(classes) + 1)))
    ax = fig.subplots()
    _distribution_axes(ax, classes, ref["scores"], r["probability"], r["interval"], ref.get("threshold"))
    ax.set_xlabel(f"patient score: probability of {classes[-1]} (reference: leave-one-patient-out)")
    ax.set_ylabel("reference class")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.24), ncol=3, fontsize=8, frameon=False)
    return fig


def score_figure(r: dict) -> str:
    """:func:`score_plot` as a PNG data URI."""
    return figure_png(score_plot(r))


def cell_type_plot(r: dict):
    """One panel per cell type with reference scores (``reference.cell_type_scores``), one
    legend under them: a matplotlib Figure, or None without per-cell-type scores."""
    from matplotlib.figure import Figure

    per_type = r["reference"].get("cell_type_scores") or {}
    types = [ct for ct in CELL_TYPES if ct in per_type]
    if not types:
        return None
    classes = r["reference"]["classes"]
    fig = Figure(figsize=(3.3 * len(types) + 1.4, 1.7 + 0.5 * (len(classes) + 1)), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(types), sharey=True))
    for ax, ct in zip(axes, types):
        own = r["cell_types"].get(ct, {})
        _distribution_axes(ax, classes, per_type[ct], own.get("probability"), own.get("interval"))
        ax.set_title(f"{CELL_TYPE_NAMES[ct]} alone ({own.get('n_cells', 0)} cells)", fontsize=10)
        ax.set_xlabel(f"probability of {classes[-1]}")
    axes[0].set_ylabel("reference class")
    handles = {}  # each panel's entries once ("this patient" differs per panel: the first one's kind)
    for ax in axes:
        for h, label in zip(*ax.get_legend_handles_labels()):
            key = "this patient" if label.startswith("this patient") else label
            handles.setdefault(key, h)
    fig.legend(list(handles.values()), [k + (" (each panel: its cell type alone)" if k == "this patient" else "")
                                        for k in handles], loc="outside lower center", ncol=3, fontsize=8,
               frameon=False)
    return fig


def cell_type_figure(r: dict) -> str | None:
    """:func:`cell_type_plot` as a PNG data URI, or None."""
    fig = cell_type_plot(r)
    return None if fig is None else figure_png(fig)


# --------------------------------------------------------------------------- page context


def format_type_evidence(level) -> str:
    """``LOPO AUC 0.59 (p=0.364)``: how well this cell type alone told the reference patients
    apart (``reference.patient_level.cell_types[ct]``), or ``-`` when the result does not say.
    A type whose reference figure is near chance adds little but noise to the combined score."""
    if not isinstance(level, dict) or not _numbers(level, "auc", "p_value"):
        return "-"
    return f"LOPO AUC {level['auc']:.2f} (p={level['p_value']:.3f})"


def _cell_rows(r: dict) -> list[dict]:
    per_type = (r["reference"].get("patient_level") or {}).get("cell_types") or {}
    rows = []
    for ct in CELL_TYPES:
        if ct in r["cell_types"]:
            d = r["cell_types"][ct]
            rows.append({"code": ct, "name": CELL_TYPE_NAMES[ct], "n": d["n_cells"],
                         "probability": format_probability(d["probability"]),
                         "interval": format_interval(d["interval"]),
                         "evidence": format_type_evidence(per_type.get(ct)),
                         "assessable": d["assessable"], "note": d.get("note", "")})
    return rows


def applicability_context(fit) -> dict | None:
    """The applicability check as the page words it (None when the result has none)."""
    if not isinstance(fit, dict) or not _numbers(fit, "distance", "p_value", "n_reference"):
        return None
    n = int(fit["n_reference"])
    as_far = max(0, round(fit["p_value"] * (n + 1)) - 1)  # reference patients at least as distant
    lo, hi = fit.get("reference_range") or [None, None]
    return {"flagged": bool(fit.get("flagged")), "distance": f"{fit['distance']:.2f}",
            "p": f"{fit['p_value']:.2g}", "n": n, "chance": _chance(n, fit.get("alpha")), "further_than": n - as_far,
            "range": f"{lo:.2f}-{hi:.2f}" if lo is not None and hi is not None else "n/a",
            "furthest": [{"name": m["name"], "value": format_value(m["patient"], m["unit"]),
                          "range": format_range(m["reference"], m["unit"]), "z": f"{m['z']:+.1f}"}
                         for m in fit.get("furthest") or []]}


def _chance(n: int, alpha) -> str:
    """How often a patient like the reference's is flagged: "1 in 13", or "5%"."""
    from ..model.applicability import ALPHA, flag_level

    level = flag_level(n, ALPHA if alpha is None else alpha)
    return f"1 in {n + 1}" if level == 1.0 / (n + 1) else f"{level:.0%}"


def combine_note(level) -> str:
    """How the combined probability is made, from ``reference.patient_level`` (``""`` when unsaid)."""
    combiner = (level or {}).get("combiner")
    if combiner == "weighted" and isinstance(level.get("weights"), dict):
        w = ", ".join(f"{CELL_TYPE_NAMES.get(ct, ct)} {v:.2f}" for ct, v in level["weights"].items())
        return (f"Combined: the assessable types' probabilities weighted by each type's evidence on the "
                f"reference patients, max(0, 2 AUC - 1) of its leave-one-patient-out scores ({w}).")
    return {"mean": "Combined: the mean of the assessable types' probabilities.",
            "logit_mean": "Combined: the mean of the assessable types' log-odds."}.get(combiner, "")


def _measure_rows(r: dict, columns) -> list[dict]:
    rows = []
    for m in r["measurements"]:
        v, refs = m["patient"], []
        for c in columns:
            rng = m["reference"].get(c)
            rng = rng if rng and None not in rng else None  # no range given for this class
            inside = rng is not None and v is not None and rng[0] <= v <= rng[1]
            refs.append({"text": format_range(rng, m["unit"]) if rng else "", "inside": inside})
        rows.append({"name": m["name"], "value": format_value(v, m["unit"]), "refs": refs,
                     "line": format_measurement(m, r["reference"]["classes"])})
    return rows


def _gallery_items(r: dict, indices, image_root) -> list[dict]:
    items = []
    for i in indices:
        cell = r["cells"][i]
        path = Path(cell["image"]) if image_root is None else Path(image_root) / cell["image"]
        vac = cell.get("vacuole_count")
        items.append({"index": i, "cell": cell, "image": embed_cell_image(path),
                      "score": format_probability(cell.get("score")),
                      "vacuoles": "vacuoles n/a" if vac is None else
                      f"{vac} vacuole{'' if vac == 1 else 's'}",
                      "type": CELL_TYPE_NAMES.get(cell.get("cell_type"), cell.get("cell_type"))})
    return items


def page_context(r: dict, image_root=None) -> dict:
    """Everything the report template needs, formatted (``r`` is a checked result)."""
    ref = r["reference"]
    columns = list(reversed(ref["classes"]))  # positive class first, as the clinician reads it
    pl = ref.get("patient_level") or {}
    return {
        "r": r, "columns": columns, "positive": ref["classes"][-1],
        "verdict_class": r["verdict"].lower().replace(" ", "-"),
        "cell_rows": _cell_rows(r), "measure_rows": _measure_rows(r, columns),
        "fit": applicability_context(r.get("applicability")), "combine_note": combine_note(pl),
        "score_figure": score_figure(r), "cell_type_figure": cell_type_figure(r),
        "patient_level": format_patient_level(pl) if _numbers(pl, "auc", "p_value") else "",
        "n_reference": {c: len(ref["scores"].get(c, [])) for c in ref["classes"]},
        "top": _gallery_items(r, r["gallery"].get("top", []), image_root),
        "bottom": _gallery_items(r, r["gallery"].get("bottom", []), image_root),
        "version": __version__, "example": bool(r.get("example")),
    }


def _numbers(d: dict, *keys) -> bool:
    return all(isinstance(d.get(k), (int, float)) for k in keys)


@functools.cache
def _environment():
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("vexscreen.report", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["prob"] = format_probability
    env.filters["interval"] = format_interval
    return env


def render_html(template: str, **context) -> str:
    """Render one of the package's templates (autoescaped, strict about undefined names)."""
    return _environment().get_template(template).render(disclaimer=DISCLAIMER, **context)


# --------------------------------------------------------------------------- outputs


@contextlib.contextmanager
def _writing(folder: Path):
    """An output that cannot be written is bad input: one clear line naming the file."""
    try:
        yield
    except OSError as exc:
        raise InputError(f"cannot write the report ({exc.strerror or exc})",
                         exc.filename or folder) from None


def cells_frame(cells: list[dict]) -> pd.DataFrame:
    """One row per cell: the schema's columns first, any further keys after them."""
    extra = [k for c in cells for k in c if k not in CELL_COLUMNS]
    columns = list(CELL_COLUMNS) + list(dict.fromkeys(extra))
    return pd.DataFrame(cells, columns=columns)


def render_patient_report(result: dict, out_dir, image_root=None) -> Path:
    """Write ``report.html``, ``report.json`` and ``cells.csv`` into ``out_dir``; return the page's path.

    ``image_root``: the folder the cells' ``image`` paths are relative to (None: as given).
    A cell image that cannot be read shows as an empty tile; the report is still written.
    """
    r = check_result(result)
    out_dir = Path(out_dir)
    html = render_html("report.html.j2", **page_context(r, image_root))
    with _writing(out_dir):
        write_json(out_dir / "report.json", r)
        write_csv(out_dir / "cells.csv", cells_frame(r["cells"]))
        return write_text(out_dir / "report.html", html)


def summary_frame(results: list[dict]) -> pd.DataFrame:
    """One row per patient: status (ok / error), verdict, probability, interval, the applicability
    check (flag, distance, p; empty when not checked), cells per type, report path or error."""
    rows = []
    for r in results:
        cts = r.get("cell_types") or {}
        interval = r.get("interval") or [None, None]
        ok = "error" not in r
        fit = r.get("applicability") or {}
        rows.append({"patient": r["patient"], "status": "ok" if ok else "error",
                     "verdict": r.get("verdict", "") if ok else "",
                     "probability": r.get("probability"), "interval_low": interval[0],
                     "interval_high": interval[1], "unlike_reference": fit.get("flagged"),
                     "reference_distance": fit.get("distance"), "reference_p": fit.get("p_value"),
                     **{f"n_{ct}": cts[ct]["n_cells"] if ct in cts else None for ct in CELL_TYPES},
                     "report": f"{r['patient']}/report.html" if ok else "",
                     "error": "" if ok else r["error"]})
    columns = ["patient", "status", "verdict", "probability", "interval_low", "interval_high",
               "unlike_reference", "reference_distance", "reference_p",
               *[f"n_{ct}" for ct in CELL_TYPES], "report", "error"]
    return pd.DataFrame(rows, columns=columns).astype({f"n_{ct}": "Int64" for ct in CELL_TYPES})


def render_index(results: list[dict], out) -> tuple[Path, Path]:
    """Write ``out/summary.csv`` and ``out/index.html`` (links to ``<PATIENT>/report.html``).

    ``results``: screening results, or ``{"patient": name, "error": message}`` for a patient
    whose screening failed (shown with its message). Returns (summary.csv, index.html).
    """
    checked = []
    for r in results:
        if "patient" not in r:
            raise InputError("every batch entry needs a 'patient'")
        checked.append(to_jsonable(r) if "error" in r else check_result(r))
    frame = summary_frame(checked)
    rows = [{"r": r, "href": quote(f"{r['patient']}/report.html"), "row": row}
            for r, row in zip(checked, frame.to_dict("records"))]
    html = render_html("index.html.j2", rows=rows, version=__version__,
                       n_failed=sum("error" in r for r in checked),
                       example=any(r.get("example") for r in checked))
    out = Path(out)
    with _writing(out):
        return write_csv(out / "summary.csv", frame), write_text(out / "index.html", html)


# --------------------------------------------------------------------------- the example (made up)

#: The example's own folder map (real screening uses the model's documented class map).
EXAMPLE_CLASSES = {"neutrophil": "PN", "segmented neutrophil": "PN", "band neutrophil": "PN",
                   "monocyte": "MO", "lymphocyte": "LY"}
EXAMPLE_CELLS = {"PN": 412, "MO": 63, "LY": 150}
EXAMPLE_MIN_CELLS = {"PN": 30, "MO": 30}
#: Made-up reference ranges (low, high) per class, in the measurement's unit.
EXAMPLE_RANGES = {
    "vacuolated neutrophils": ("%", {"VEXAS": [25, 60], "UBA1-WT": [1, 4], "MDS": [0, 3]}),
    "vacuoles per vacuolated neutrophil": ("vacuoles", {"VEXAS": [2, 5], "UBA1-WT": [1, 1.5],
                                                        "MDS": [1, 1.3]}),
    "vacuole area": ("µm²", {"VEXAS": [1.2, 2.8], "UBA1-WT": [0.6, 1.4], "MDS": [0.5, 1.2]}),
    "vacuolated monocytes": ("%", {"VEXAS": [20, 55], "UBA1-WT": [0, 5], "MDS": [0, 4]}),
    "hypolobulated neutrophils (1-2 lobes)": ("%", {"VEXAS": [15, 45], "UBA1-WT": [5, 25],
                                                    "MDS": [10, 50]}),
}


def _example_images(root: Path, n_cells: dict, rng) -> tuple[dict, dict, list]:
    """Pick ``n_cells[ct]`` readable images per cell type (fewer if there are not enough); count the
    images of ignored folders."""
    from ..data.scan import load_rgb

    by_type, ignored, bad = {ct: [] for ct in CELL_TYPES}, {}, []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
        ct = EXAMPLE_CLASSES.get(folder.name.lower())
        if ct is None:
            ignored[folder.name] = len(files)
        else:
            by_type[ct] += files
    chosen = {}
    for ct, files in by_type.items():
        picked = []  # random files until n_cells[ct] readable ones; the unreadable ones met are listed
        for i in rng.permutation(len(files)):
            if len(picked) >= n_cells.get(ct, 0):
                break
            try:
                load_rgb(files[i])
                picked.append(i)
            except InputError as exc:
                bad.append({"path": files[i].relative_to(root).as_posix(),
                            "reason": str(exc).removeprefix(f"{exc.path}: ")})
        chosen[ct] = [files[i].relative_to(root).as_posix() for i in sorted(picked)]
    return chosen, ignored, bad


def _example_cells(chosen: dict, rng) -> list[dict]:
    """Made-up per-cell scores and measurements (vacuoles more likely in high-scoring myeloid cells)."""
    cells, shape = [], {"PN": (2.4, 2.6), "MO": (2.2, 2.8), "LY": (2.0, 2.6)}  # beta(a, b)
    for ct in CELL_TYPES:
        for rel in chosen[ct]:
            s = float(rng.beta(*shape[ct]))
            vac = 0 if ct == "LY" else int(rng.poisson(7 * s ** 3))
            score = round(s, 4) if ct in EXAMPLE_MIN_CELLS else None  # LY: not used by the model
            cells.append({"image": rel, "cell_type": ct, "score": score, "vacuole_count": vac,
                          "vacuole_area_um2": round(vac * float(rng.uniform(0.8, 2.6)), 2),
                          "nucleus_lobes": int(rng.choice(5, p=[.1, .25, .4, .2, .05])) + 1
                          if ct == "PN" else 1,
                          "quality": "ok" if rng.random() > 0.03 else "blurred"})
    return cells


def _made_up_probability(scores, rng) -> tuple[float, list]:
    """A made-up, monotone map of the mean cell score, and its spread over 200 bootstrap means."""
    def squash(m):
        return 1 / (1 + np.exp(-12 * (m - 0.30)))

    s = np.asarray(scores)
    boot = squash(rng.choice(s, size=(200, len(s))).mean(axis=1))
    lo, hi = np.percentile(boot, [2.5, 97.5])
    return round(float(squash(s.mean())), 4), [round(float(lo), 4), round(float(hi), 4)]


def _example_cell_type(cells: list[dict], ct: str, rng) -> dict:
    scores = [c["score"] for c in cells if c["cell_type"] == ct]
    need = EXAMPLE_MIN_CELLS.get(ct)
    out = {"n_cells": len(scores), "probability": None, "interval": None, "assessable": False}
    if need is None:
        return {**out, "note": "not used by this model"}
    if len(scores) < need:
        return {**out, "note": f"{len(scores)} cells, fewer than the {need} the model needs"}
    p, interval = _made_up_probability(scores, rng)
    return {**out, "probability": p, "interval": interval, "assessable": True,
            "note": f"{len(scores)} cells (the model needs {need})"}


def _auc(pos, neg) -> float:
    """ROC-AUC of scores ``pos`` (positives) against ``neg``: the share of pairs ranked right."""
    return float(np.mean([(p > n) + 0.5 * (p == n) for p in pos for n in neg]))


def _example_reference(rng) -> dict:
    """Made-up reference scores for the study's cohort sizes (6 MDS, 3 UBA1-WT, 3 VEXAS)."""
    from itertools import combinations

    shapes = {"MDS": (1.5, 7, 6), "UBA1-WT": (2, 5, 3), "VEXAS": (7, 1.8, 3)}

    def draw():
        return {c: [round(float(v), 4) for v in rng.beta(a, b, n)] for c, (a, b, n) in shapes.items()}

    def level(scores):
        pos, neg = scores["VEXAS"], scores["MDS"] + scores["UBA1-WT"]
        every = pos + neg  # exact permutation test: every way to pick len(pos) patients as positives
        null = [_auc([every[i] for i in pick], [every[i] for i in range(len(every)) if i not in pick])
                for pick in combinations(range(len(every)), len(pos))]
        auc = _auc(pos, neg)
        return {"auc": auc, "p_value": float(np.mean(np.array(null) >= auc))}

    scores = draw()
    per_type = {ct: draw() for ct in EXAMPLE_MIN_CELLS}
    return {"classes": list(shapes), "scores": scores, "threshold": 0.5,
            "patient_level": {**level(scores), "cell_types": {ct: level(v) for ct, v in per_type.items()}},
            "cell_type_scores": per_type}


def _example_measurements(cells: list[dict]) -> list[dict]:
    def of(ct):
        return [c for c in cells if c["cell_type"] == ct]

    def pct(cs, pred):
        return round(100 * float(np.mean([pred(c) for c in cs])), 1) if cs else None

    pn, vac_pn = of("PN"), [c for c in of("PN") if c["vacuole_count"]]
    n_vac = sum(c["vacuole_count"] for c in vac_pn)
    values = {
        "vacuolated neutrophils": pct(pn, lambda c: c["vacuole_count"] > 0),
        "vacuoles per vacuolated neutrophil": round(n_vac / len(vac_pn), 2) if vac_pn else None,
        "vacuole area": round(sum(c["vacuole_area_um2"] for c in vac_pn) / n_vac, 2) if n_vac else None,
        "vacuolated monocytes": pct(of("MO"), lambda c: c["vacuole_count"] > 0),
        "hypolobulated neutrophils (1-2 lobes)": pct(pn, lambda c: c["nucleus_lobes"] <= 2),
    }
    return [{"name": name, "unit": unit, "patient": values[name], "reference": ref}
            for name, (unit, ref) in EXAMPLE_RANGES.items()]


def example_result(image_root, n_cells: dict | None = None, seed: int = 0) -> dict:
    """An EXAMPLE result: real cell images, made-up scores, measurements and references.

    For the tests and the documentation's screenshot only; ``"example": true`` makes the page
    say so in a banner. ``image_root`` holds class folders (``neutrophil``, ``monocyte``,
    ``lymphocyte``; others are listed as ignored), e.g. ../shared/data/wbc. ``n_cells``
    overrides how many images per cell type are used (default 412 PN, 63 MO, 150 LY).
    """
    root = Path(image_root)
    if not root.is_dir():
        raise InputError("not a folder of cell-class folders", root)
    rng = np.random.default_rng(seed)
    chosen, ignored, bad = _example_images(root, {**EXAMPLE_CELLS, **(n_cells or {})}, rng)
    cells = _example_cells(chosen, rng)
    cell_types = {ct: _example_cell_type(cells, ct, rng) for ct in CELL_TYPES}
    used = [c["score"] for c in cells if cell_types[c["cell_type"]]["assessable"]]
    p, interval = _made_up_probability(used, rng) if used else (None, None)
    verdict = "indeterminate" if p is None else "VEXAS-like" if p >= 0.5 else "not VEXAS-like"
    return {
        "format": FORMAT, "version": VERSION, "vexscreen_version": __version__, "example": True,
        "patient": "EXAMPLE", "probability": p, "interval": interval, "verdict": verdict,
        "statement": format_statement(verdict, p, interval, cell_types, EXAMPLE_MIN_CELLS),
        "cell_types": cell_types, "reference": _example_reference(rng),
        "measurements": _example_measurements(cells), "cells": cells, "gallery": select_gallery(cells),
        "ignored": {"classes": ignored, "bad_files": bad},
        "model": {"path": "(example: no model file)", "sha256": "(example: no model file)",
                  "classes": ["MDS", "UBA1-WT", "VEXAS"], "positive": "VEXAS",
                  "uses": ["encodings", "measurements"], "min_cells": dict(EXAMPLE_MIN_CELLS),
                  "vexscreen_version": __version__},
        "disclaimer": DISCLAIMER, "applicability": _example_applicability(p is not None),
    }


def _example_applicability(assessable: bool) -> dict | None:
    """A made-up applicability check: like the study's 12 reference patients (not flagged)."""
    if not assessable:
        return None
    return {"method": "(example: made up)", "distance": 1.12, "p_value": 6 / 13, "flagged": False, "alpha": 0.05,
            "n_reference": 12, "reference_range": [0.74, 2.31], "cell_types": {"PN": 1.12, "MO": 0.97},
            "furthest": [{"cell_type": "PN", "name": "vacuolated neutrophils", "unit": "%", "patient": 38.0,
                          "reference": [0.0, 41.0], "z": 1.9}]}
