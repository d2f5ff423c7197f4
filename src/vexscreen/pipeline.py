"""The image pipeline end to end: images -> encoder -> encodings -> evaluation -> tables.

Used by ``vexscreen demo`` and ``bench/phantom_proof.py``; callable from a notebook.
Each stage skips work whose output is already complete, so a re-run resumes.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from .exceptions import InputError
from .data import file_sha256, load_encodings, write_json
from .study import CELL_TYPES, PUBLISHED_AUC, STUDY_COMPARISONS
from .evaluation import consistency_matrix, evaluate
from .report import format_consistency, matrix_to_json


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
        print(f"  {out}: written by another encoder than {encoder_path}; encoding again")
    scan = scan_images(images, progress=progress)
    if scan.bad:
        print(f"  {len(scan.bad)} unusable file(s) under {images} skipped:")
        for b in scan.bad[:10]:
            print(f"    {b.path}: {b.reason}")
    s = encode_scan(encoder_path, scan, out, oversize=oversize, batch_size=batch_size,
                    workers=workers, progress=progress)
    print(f"  encoded {s['images']} images of {images} -> {s['dim']}-d "
          f"({s['images_per_second']} images/s); {s['treatment']}")
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
    training set (self-supervised training never sees the labels)."""
    from .data.scan import IMAGE_SUFFIXES

    pool = Path(pool)
    pool.mkdir(parents=True, exist_ok=True)
    for folder in folders:
        folder = Path(folder)
        for path in sorted(folder.rglob("*")):
            if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file():
                rel = path.relative_to(folder.parent).as_posix()
                link = pool / rel.replace("/", "__")
                if not link.exists():
                    link.symlink_to(path.resolve())
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
    agg, pl = r["aggregate_level"], r.get("patient_level", {})
    name = comparison_name(r["groups"])
    return {"cell_type": cell_type, "comparison": f"{r['positive']} vs {'+'.join(r['groups'][:-1])}",
            "auc": agg["auc"]["mean"], "auc_low": agg["auc"]["low"], "auc_high": agg["auc"]["high"],
            "sensitivity": agg["sensitivity"]["mean"], "specificity": agg["specificity"]["mean"],
            "patient_auc": pl.get("auc"), "patient_p": pl.get("p_value"),
            "pair_auc": pl.get("leave_pair_out_auc"),
            "published": PUBLISHED_AUC.get((cell_type, name), "")}


def format_summary(rows: list[dict]) -> str:
    """The study's table beside ours: aggregate-level AUC [CI], patient-level AUC (p)."""
    head = (f"{'cell type':<10}{'comparison':<24}{'AUC aggregates [95% CI]':<26}"
            f"{'sens/spec %':<14}{'AUC LOPO (p)':<17}{'AUC LPO':<9}{'published':<18}")
    lines = [head, "-" * len(head)]
    for r in rows:
        pl = "" if r["patient_auc"] is None else f"{r['patient_auc']:.2f} (p={r['patient_p']:.3f})"
        lines.append(f"{r['cell_type']:<10}{r['comparison']:<24}"
                     f"{r['auc']:.2f} [{r['auc_low']:.2f}-{r['auc_high']:.2f}]".ljust(60)
                     + f"{100 * r['sensitivity']:.0f}/{100 * r['specificity']:.0f}".ljust(14)
                     + pl.ljust(17) + ("" if r.get("pair_auc") is None else f"{r['pair_auc']:.2f}").ljust(9)
                     + r["published"])
    return "\n".join(lines)


def phantom_consistency(enc_dir, cell_type: str, out) -> tuple:
    """Step 2a on a phantom's encoder-test encodings (groups in the study's order)."""
    from .study import ENCODER_TEST_GROUPS

    enc = load_encodings(enc_dir)
    order = [g for g in ENCODER_TEST_GROUPS[cell_type] if g in set(enc.groups)]
    order, M = consistency_matrix(enc.X, enc.groups, order)
    write_json(Path(out) / f"consistency_{cell_type}.json", {"groups": order, "auc": matrix_to_json(M)})
    return order, M


def run_image_pipeline(phantom_dir, out, train_cfg=None, *, cell_types=CELL_TYPES,
                       comparisons=STUDY_COMPARISONS, encoder_path=None, n_jobs: int = 2,
                       progress: bool = True, encode_workers: int = 2, oversize: str | None = None,
                       plots: bool = False, evaluate_kwargs: dict | None = None) -> dict:
    """Train (unless ``encoder_path`` is given), encode, test consistency, evaluate.

    ``phantom_dir``: a folder as written by ``vexscreen phantom`` (``<CT>/GROUP/PATIENT/
    SAMPLE/*.png`` and optionally ``encoder_test/<CT>/GROUP/*.png``). Returns
    ``{"rows": [...], "consistency": {ct: (order, M)}, "train": {...}, "timing": {...}}``.
    """
    phantom_dir, out = Path(phantom_dir), Path(out)
    timing = {}
    train_info = None
    if encoder_path is None:
        from .encoder.training import TrainConfig, train_encoder

        t = time.perf_counter()
        run = out / "encoder"
        encoder_path = run / "encoder.pt"
        if encoder_path.is_file():
            check_same_training(run, train_cfg or TrainConfig())
        else:
            pool = unlabeled_pool([phantom_dir / ct for ct in cell_types], out / "pool")
            train_info = train_encoder(pool, run, train_cfg or TrainConfig(), progress=progress)
        timing["train_s"] = round(time.perf_counter() - t, 1)
    t = time.perf_counter()
    enc_dirs, test_dirs = {}, {}
    for ct in cell_types:
        enc_dirs[ct] = encode_folder(encoder_path, phantom_dir / ct, out / "encodings" / ct,
                                     oversize=oversize, workers=encode_workers, progress=progress)
        if (phantom_dir / "encoder_test" / ct).is_dir():
            test_dirs[ct] = encode_folder(encoder_path, phantom_dir / "encoder_test" / ct,
                                          out / "encodings" / f"encoder_test_{ct}", oversize=oversize,
                                          workers=encode_workers, progress=progress)
    timing["encode_s"] = round(time.perf_counter() - t, 1)
    probe = morphology_probe_rows(phantom_dir, enc_dirs)
    t = time.perf_counter()
    consistency = {ct: phantom_consistency(d, ct, out / "consistency") for ct, d in test_dirs.items()}
    rows = []
    for ct in cell_types:
        rows += evaluate_cell_type(enc_dirs[ct], ct, out / "evaluation", comparisons, n_jobs=n_jobs,
                                   progress=progress, plots=plots, **(evaluate_kwargs or {}))
    timing["evaluate_s"] = round(time.perf_counter() - t, 1)
    write_json(out / "summary.json", {"rows": rows, "timing": timing, "probe": probe,
                                      "consistency": {ct: {"groups": o, "auc": matrix_to_json(M)}
                                                      for ct, (o, M) in consistency.items()}})
    return {"rows": rows, "consistency": consistency, "train": train_info, "timing": timing,
            "encoder": str(encoder_path), "probe": probe}


def morphology_probe_rows(phantom_dir, enc_dirs: dict) -> list[dict]:
    """The phantom's morphology probe (what the encodings hold of each drawn feature), when the
    folder has a truth.csv; [] otherwise."""
    from .phantom import read_truth
    from .phantom.probe import morphology_probe

    if not (Path(phantom_dir) / "truth.csv").is_file():
        return []
    truth = read_truth(phantom_dir)
    rows = []
    for ct, d in enc_dirs.items():
        enc = load_encodings(d)
        rows += morphology_probe(enc.X, enc.meta, truth, ct)
    return rows


def print_pipeline_result(result: dict) -> None:
    for ct, (order, M) in result["consistency"].items():
        print(f"\n[phantom encoder test, {ct}]")
        print(format_consistency(order, M, digits=3))
    if result.get("probe"):
        from .phantom.probe import format_probe

        print("\n[what the encodings hold of each drawn feature: within its group, folds by patient, "
              "mean within-fold AUC]")
        print(format_probe(result["probe"]))
    print()
    print(format_summary(result["rows"]))
