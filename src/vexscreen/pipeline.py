"""The image pipeline end to end: images -> encoder -> encodings -> consistency -> evaluation.

Orchestration only: every stage is a library call (encoder, evaluation, phantom); results
are returned and written to ``out``, nothing is printed. Status lines go to
``logging.getLogger("vexscreen.pipeline")`` (the CLI shows them); the text form of a
result is :func:`vexscreen.report.format_pipeline_result`.
Used by ``vexscreen demo`` and ``bench/phantom_proof.py``; callable from a notebook.
Each stage skips work whose output is already complete, so a re-run resumes.
"""
from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

from .exceptions import InputError
from .data import file_sha256, load_encodings, write_json
from .study import CELL_TYPES, ENCODER_TEST_GROUPS, PUBLISHED_AUC, STUDY_COMPARISONS
from .evaluation import consistency_matrix, evaluate
from .report import consistency_record, write_consistency

log = logging.getLogger(__name__)


def encode_folder(encoder_path, images, out, *, oversize: str | None = None, batch_size: int = 32,
                  workers: int = 2, progress: bool = True) -> Path:
    """Scan ``images`` and encode every usable image into ``out`` (skipped if already there)."""
    from .data.scan import scan_images
    from .encoder.inference import encode_scan

    out = Path(out)
    done = out / "encode.json"
    if done.is_file():
        if json.loads(done.read_text()).get("encoder_sha256") == file_sha256(encoder_path):
            return out
        log.info("  %s: written by another encoder than %s; encoding again", out, encoder_path)
    scan = scan_images(images, progress=progress)
    if scan.bad:
        log.warning("  %d unusable file(s) under %s skipped:\n%s", len(scan.bad), images,
                    "\n".join(f"    {b.path}: {b.reason}" for b in scan.bad[:10]))
    s = encode_scan(encoder_path, scan, out, oversize=oversize, batch_size=batch_size,
                    workers=workers, progress=progress)
    log.info("  encoded %s images of %s -> %s-d (%s images/s); %s", s["images"], images, s["dim"],
             s["images_per_second"], s["treatment"])
    return out


def check_same_training(run, cfg) -> None:
    """A finished encoder in ``run`` is reused only if it was trained with ``cfg``; otherwise
    an InputError names the settings that differ (a re-run with new settings must not
    silently evaluate the old encoder)."""
    from dataclasses import asdict

    run = Path(run)
    saved = run / "config.json"
    if not saved.is_file():
        raise InputError("encoder.pt without its config.json: cannot tell how it was trained; "
                         "remove the folder to train again", run)
    old = json.loads(saved.read_text()).get("train", {})
    defaults = asdict(type(cfg)())  # a setting added since that run was made had its default then
    diff = [f"{k}: {old.get(k, defaults[k])!r} -> {v!r}" for k, v in asdict(cfg).items()
            if old.get(k, defaults[k]) != v]
    if diff:
        raise InputError("the encoder already trained here used other settings (" + "; ".join(diff) +
                         "); choose another output folder, or remove this one to train again", run)


def unlabeled_pool(folders, pool) -> Path:
    """A flat folder of symbolic links to every image under ``folders``: the unlabeled
    training set (self-supervised training never sees the labels).

    The links are relative (``../../phantom/PN/...``), so the output folder still works after
    it is moved or copied with the images beside it; a link that points elsewhere (an older
    pool's absolute link, broken by a move) is made again."""
    from .data.scan import IMAGE_SUFFIXES

    pool = Path(pool)
    pool.mkdir(parents=True, exist_ok=True)
    here = pool.resolve()
    for folder in folders:
        folder = Path(folder)
        for path in sorted(folder.rglob("*")):
            if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file():
                rel = path.relative_to(folder.parent).as_posix()
                link = pool / rel.replace("/", "__")
                target = os.path.relpath(path.resolve(), here)
                if link.is_symlink():
                    if os.readlink(link) == target:
                        continue
                    link.unlink()
                elif link.exists():  # a file put there by hand: left alone
                    continue
                link.symlink_to(target)
    return pool


def comparison_name(groups) -> str:
    return "/".join(groups)


def evaluate_cell_type(enc_dir, cell_type: str, out, comparisons=STUDY_COMPARISONS, *,
                       n_jobs: int = 2, progress: bool = True, plots: bool = False, **kwargs) -> list[dict]:
    """Every comparison of the study on one cell type's encodings; one summary row each.

    ``plots``: also the study's UMAP figure of patient aggregates per comparison.
    """
    enc = load_encodings(enc_dir)
    rows = []
    for groups in comparisons:
        present = set(enc.meta["GROUP"])
        if not set(groups) <= present:
            continue
        r = evaluate(enc, groups, progress=progress, n_jobs=n_jobs, **kwargs)
        name = f"evaluation_{cell_type}_{'_'.join(groups)}"
        write_json(Path(out) / f"{name}.json", r)
        if plots:
            _umap_figure(enc, groups, r, Path(out) / f"{name}_umap.png", cell_type)
        rows.append(summary_row(cell_type, r))
    return rows


def _umap_figure(enc, groups, result, path, cell_type):
    from .evaluation import patient_aggregates
    from .evaluation.phenotype import prepare
    from .report import aggregate_umap_figure

    p = result["parameters"]
    X, y, patients, _, table = prepare(enc, groups)
    A, _, owners = patient_aggregates(X, y, patients, aggregates=p["aggregates"],
                                      aggregate_size=p["aggregate_size"], seed=p["seed"])
    aggregate_umap_figure(A, owners, dict(zip(table["patient"], table["label"])), list(groups), result,
                          path, title=f"{cell_type}: {result['positive']} vs {' + '.join(groups[:-1])}")


def summary_row(cell_type: str, r: dict) -> dict:
    """One line of the summary table (:func:`vexscreen.report.format_summary`) from an
    :func:`~vexscreen.evaluation.evaluate` result, with the published AUC of that comparison."""
    agg, pl = r["aggregate_level"], r.get("patient_level", {})
    name = comparison_name(r["groups"])
    return {"cell_type": cell_type, "comparison": f"{r['positive']} vs {'+'.join(r['groups'][:-1])}",
            "auc": agg["auc"]["mean"], "auc_low": agg["auc"]["low"], "auc_high": agg["auc"]["high"],
            "sensitivity": agg["sensitivity"]["mean"], "specificity": agg["specificity"]["mean"],
            "patient_auc": pl.get("auc"), "patient_p": pl.get("p_value"),
            "pair_auc": pl.get("leave_pair_out_auc"),
            "published": PUBLISHED_AUC.get((cell_type, name), "")}


def encoder_test_consistency(enc, cell_type: str) -> tuple:
    """Step 2a on encoder-test encodings (an EncodingSet or its folder), the groups in the study's
    order (METHOD.md Step 2a; those present): ``(order, M)``."""
    if not hasattr(enc, "X"):
        enc = load_encodings(enc)
    order = [g for g in ENCODER_TEST_GROUPS[cell_type] if g in set(enc.labels)]
    return consistency_matrix(enc.X, enc.labels, order)


def run_image_pipeline(phantom_dir, out, train_cfg=None, *, cell_types=CELL_TYPES,
                       comparisons=STUDY_COMPARISONS, encoder_path=None, n_jobs: int = 2,
                       progress: bool = True, encode_workers: int = 2, oversize: str | None = None,
                       plots: bool = False, evaluate_kwargs: dict | None = None) -> dict:
    """Train (unless ``encoder_path`` is given), encode, test consistency, evaluate.

    ``phantom_dir``: a folder as written by ``vexscreen phantom`` (``<CT>/GROUP/PATIENT/
    SAMPLE/*.png`` and optionally ``encoder_test/<CT>/GROUP/*.png``). Writes under ``out``:
    encoder/, encodings/, consistency/consistency_<CT>.json|csv, evaluation/*.json,
    summary.json. Returns ``{"rows": [...], "consistency": {ct: (order, M)}, "train": {...},
    "timing": {...}, "encoder": path, "feature_recovery": [...]}`` (feature recovery only
    for a phantom, which has a truth.csv).
    """
    from .phantom.recovery import phantom_feature_recovery

    phantom_dir, out = Path(phantom_dir), Path(out)
    timing = {}
    train_info = None
    if encoder_path is None:
        t = time.perf_counter()
        encoder_path, train_info = _train(phantom_dir, out, train_cfg, cell_types, progress)
        timing["train_s"] = round(time.perf_counter() - t, 1)
    t = time.perf_counter()
    enc_dirs, test_dirs = _encode(encoder_path, phantom_dir, out, cell_types, oversize=oversize,
                                  workers=encode_workers, progress=progress)
    timing["encode_s"] = round(time.perf_counter() - t, 1)
    recovery = phantom_feature_recovery(phantom_dir, enc_dirs)
    t = time.perf_counter()
    consistency = {}
    for ct, d in test_dirs.items():
        consistency[ct] = encoder_test_consistency(d, ct)
        write_consistency(out / "consistency", *consistency[ct], name=f"consistency_{ct}")
    rows = []
    for ct in cell_types:
        rows += evaluate_cell_type(enc_dirs[ct], ct, out / "evaluation", comparisons, n_jobs=n_jobs,
                                   progress=progress, plots=plots, **(evaluate_kwargs or {}))
    timing["evaluate_s"] = round(time.perf_counter() - t, 1)
    write_json(out / "summary.json", {"rows": rows, "timing": timing, "feature_recovery": recovery,
                                      "consistency": {ct: consistency_record(o, M)
                                                      for ct, (o, M) in consistency.items()}})
    return {"rows": rows, "consistency": consistency, "train": train_info, "timing": timing,
            "encoder": str(encoder_path), "feature_recovery": recovery}


def _train(images_dir: Path, out: Path, cfg, cell_types, progress) -> tuple:
    """The encoder in ``out/encoder``: trained on every image of ``cell_types``, unlabeled, or the
    one already there if trained with the same settings; an interrupted training (its checkpoint
    still there: a finished run removes it) is resumed, not taken for finished.
    ``(encoder.pt path, training info or None)``."""
    from .encoder.training import TrainConfig, train_encoder

    cfg = cfg or TrainConfig()
    run = out / "encoder"
    encoder_path = run / "encoder.pt"
    interrupted = (run / "checkpoints" / "last.ckpt").is_file()
    if encoder_path.is_file() or interrupted:
        check_same_training(run, cfg)
        if not interrupted:
            return encoder_path, None
    pool = unlabeled_pool([images_dir / ct for ct in cell_types], out / "pool")
    return encoder_path, train_encoder(pool, run, cfg, progress=progress, resume=interrupted)


def _encode(encoder_path, images_dir: Path, out: Path, cell_types, **kw) -> tuple[dict, dict]:
    """Encode each cell type's images, and its encoder-test images if any:
    ``({ct: encodings folder}, {ct: encoder-test encodings folder})``."""
    enc_dirs, test_dirs = {}, {}
    for ct in cell_types:
        enc_dirs[ct] = encode_folder(encoder_path, images_dir / ct, out / "encodings" / ct, **kw)
        if (images_dir / "encoder_test" / ct).is_dir():
            test_dirs[ct] = encode_folder(encoder_path, images_dir / "encoder_test" / ct,
                                          out / "encodings" / f"encoder_test_{ct}", **kw)
    return enc_dirs, test_dirs
