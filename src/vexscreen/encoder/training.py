"""``train_encoder``: images -> RUN/ (encoder.pt, metrics.csv, config.json, checkpoints/).

Lightning does the loop, so ``devices``/``accelerator``/``strategy``/``num_nodes``
pass straight through (one CPU here, several GPUs or nodes with DDP elsewhere).

RUN/ holds:
* ``encoder.pt``: the encoder of the epoch with the best (lowest) contrastive
  loss, written atomically when the loss improves; plain tensors + config
  (``vexscreen.encoder.load_encoder``; ``torch.load(weights_only=True)``).
* ``metrics.csv``: one row per finished epoch (loss, lr, probe accuracy, best
  loss, seconds, images/s), rewritten atomically each epoch.
* ``config.json``: the run's settings, and the files the scan skipped
  (``bad_files``, each with the reason); ``--resume`` reads the settings back.
* ``checkpoints/last.ckpt``: Lightning's full state (weights, Adam, LR
  scheduler, early-stopping and callback state, the NNCLR queue), saved at
  every epoch end; ``--resume`` passes it to ``Trainer.fit(ckpt_path=...,
  weights_only=True)``: it holds only tensors and plain values, so torch's
  safe loader reads it and no pickled code is ever run. Kept only while the
  run can still resume: an interrupted or crashed run keeps it; a run that
  ends normally (its last epoch, or early stopping) deletes ``checkpoints/``
  (about three times the size of encoder.pt) unless ``keep_checkpoints``.

The recording is done by the callbacks and logger of ``callbacks.py``.
"""
from __future__ import annotations

import json
import shutil
import sys
import time
import warnings
from dataclasses import asdict, replace
from pathlib import Path

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint, TQDMProgressBar
from torch.utils.data import DataLoader

from ..data.atomic import write_json
from ..exceptions import InputError
from ..progress import ProgressArg
from .backbones import build_backbone, weights_record
from .callbacks import BestEncoder, EpochProgress, EpochStats, MetricsCSV, ProbeCallback
from .config import GEOMETRY_FIELDS, TrainConfig
from .encoder_file import save_encoder
from .module import ContrastiveModule
from .transforms import ViewPairDataset


def _image_paths(images_dir, max_images, **scan_options):
    """The training images (at most ``max_images``, evenly spaced) and the scan's bad files."""
    from ..data.scan import scan_images
    images_dir = Path(images_dir)
    if not images_dir.is_dir():
        raise InputError("images folder not found", images_dir)
    scan = scan_images(images_dir, progress=False, **scan_options)
    paths = [r.path for r in scan.images]
    if len(paths) < 2:
        raise InputError(f"{len(paths)} usable image(s); contrastive training needs at least 2", images_dir)
    if max_images and len(paths) > max_images:
        keep = np.linspace(0, len(paths) - 1, max_images).round().astype(int)
        paths = [paths[i] for i in keep]
    return paths, scan.bad_files()


def training_record(cfg: TrainConfig, n_images: int) -> dict:
    """The settings an encoder was trained with, as encoder.pt records them (beside its backbone,
    pooling and geometry): the initial weights file by name only."""
    record = {k: v for k, v in asdict(cfg).items() if k not in ("backbone", "pooling", *GEOMETRY_FIELDS)}
    record.update(weights=Path(cfg.weights).name if cfg.weights else None, images=n_images)
    return record


def save_untrained_encoder(path, cfg: TrainConfig) -> Path:
    """encoder.pt of the initialisation train-encoder starts from (``cfg``'s backbone at seed
    ``cfg.seed``, or ``cfg.weights`` if set), never trained on cells: the baseline a training
    run has to beat."""
    cfg.validate()
    L.seed_everything(cfg.seed, verbose=False)
    encoder = build_backbone(cfg.backbone, cfg.pooling, cfg.weights)  # built first by training too
    return save_encoder(path, encoder, cfg.geometry, {"training": None})


def _run_config(run: Path, cfg: TrainConfig, resume: bool) -> TrainConfig:
    """``cfg``, or on resume the run's own settings (config.json; ``cfg.epochs`` may raise the
    maximum); validated."""
    if resume:
        if not (run / "checkpoints" / "last.ckpt").is_file():
            raise InputError("nothing to resume: no checkpoints/last.ckpt in the run folder (a run that "
                             "finished deletes its checkpoints unless trained with --keep-checkpoints)", run)
        saved = run / "config.json"
        if saved.is_file():
            old = json.loads(saved.read_text())["train"]
            old["epochs"] = max(int(old["epochs"]), int(cfg.epochs))
            cfg = TrainConfig(**{k: v for k, v in old.items() if k in TrainConfig.__dataclass_fields__})
    return cfg.validate()


def _probe_callback(probe, cfg: TrainConfig, **scan_options) -> ProbeCallback | None:
    if probe is None:
        return None
    from ..data.scan import scan_images
    scan = scan_images(probe, progress=False, **scan_options)
    if not scan.images:
        raise InputError("no usable images for the probe", probe)
    if scan.layout == "flat":
        raise InputError("the probe needs images in groups (ROOT/GROUP/PATIENT/SAMPLE/img or ROOT/GROUP/img); "
                         "these are in one flat folder", probe)
    return ProbeCallback(scan, cfg.geometry)


def _loader(paths, cfg: TrainConfig) -> DataLoader:
    return DataLoader(ViewPairDataset.from_config(paths, cfg), batch_size=cfg.batch_size, shuffle=True,
                      num_workers=cfg.workers, drop_last=len(paths) > cfg.batch_size,
                      persistent_workers=cfg.workers > 0, generator=torch.Generator().manual_seed(cfg.seed))


def _trainer(run: Path, cfg: TrainConfig, callbacks: list, progress: ProgressArg, **distributed) -> L.Trainer:
    """Lightning's loop: the run's callbacks, early stopping, checkpoints/last.ckpt every epoch.

    ``progress`` True: Lightning's bar on a terminal, else log lines per epoch (``EpochProgress``)."""
    bar = progress is True and sys.stderr.isatty()
    callbacks = [*callbacks,
                 EarlyStopping(monitor="loss", min_delta=cfg.min_delta, patience=cfg.patience, mode="min",
                               check_on_train_epoch_end=True, verbose=False),
                 ModelCheckpoint(dirpath=run / "checkpoints", filename="last", save_top_k=1, monitor=None,
                                 every_n_epochs=1, save_on_train_epoch_end=True, enable_version_counter=False)]
    callbacks.append(TQDMProgressBar(refresh_rate=1) if bar else EpochProgress(progress))
    return L.Trainer(max_epochs=cfg.epochs, callbacks=callbacks, logger=MetricsCSV(run / "metrics.csv"),
                     default_root_dir=run, enable_progress_bar=bar, enable_model_summary=False,
                     log_every_n_steps=1, deterministic=False, **distributed)


def _end_of_run(trainer: L.Trainer, run: Path, keep_checkpoints: bool) -> bool:
    """After ``fit`` returned: delete ``run/checkpoints`` if the run finished (its last epoch or
    early stopping) and they are not to be kept; True if they are still there."""
    from lightning.pytorch.trainer.states import TrainerStatus

    folder = run / "checkpoints"
    if trainer.state.status == TrainerStatus.FINISHED and not keep_checkpoints:
        trainer.strategy.barrier()  # DDP: every rank done with them before rank 0 deletes
        if trainer.is_global_zero:
            shutil.rmtree(folder, ignore_errors=True)
    return folder.is_dir()


def train_encoder(images, run, cfg: TrainConfig | None = None, *, probe=None, resume: bool = False,
                  accelerator: str = "cpu", devices="auto", strategy: str = "auto", num_nodes: int = 1,
                  progress: ProgressArg = True, callbacks: list | None = None, keep_checkpoints: bool = False,
                  layout: str | None = None, strict: bool = False, probe_layout: str | None = None) -> dict:
    """Train an encoder on the images under ``images``; outputs in ``run`` (see module doc).

    ``layout``/``strict``: as for ``scan_images`` (``strict`` also for the probe's scan,
    ``probe_layout`` its layout). ``callbacks``: extra Lightning callbacks. ``keep_checkpoints``:
    keep ``run/checkpoints`` when the run ends normally (to ``resume`` it later with more epochs);
    an interrupted run keeps them anyway. Returns a summary (epochs run, best epoch and loss,
    seconds, images, the skipped ``bad_files``, whether early stopping ended it, whether
    checkpoints were kept, the probe's note if any)."""
    run = Path(run)
    cfg = _run_config(run, cfg or TrainConfig(), resume)
    paths, bad = _image_paths(images, cfg.max_images, layout=layout, strict=strict)
    probe_cb = _probe_callback(probe, cfg, layout=probe_layout, strict=strict)
    run.mkdir(parents=True, exist_ok=True)
    write_json(run / "config.json", {"train": asdict(cfg), "images": str(images), "n_images": len(paths),
                                     "bad_files": bad, "probe": None if probe is None else str(probe)})

    L.seed_everything(cfg.seed, workers=True, verbose=False)
    module = ContrastiveModule(replace(cfg, weights=None) if resume else cfg)
    loader = _loader(paths, cfg)
    best = BestEncoder(run / "encoder.pt", cfg.geometry, {"training": training_record(cfg, len(paths)),
                                                          "weights": weights_record(cfg.backbone, cfg.weights)})
    ours = [cb for cb in (probe_cb, EpochStats(len(paths)), best) if cb is not None]
    trainer = _trainer(run, cfg, ours + list(callbacks or []), progress, accelerator=accelerator,
                       devices=devices, strategy=strategy, num_nodes=num_nodes)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Checkpoint directory .* exists and is not empty.*")
        warnings.filterwarnings("ignore", message=".*isinstance\\(treespec, LeafSpec\\).*")
        trainer.fit(module, loader, ckpt_path=run / "checkpoints" / "last.ckpt" if resume else None,
                    weights_only=True if resume else None)
    kept = _end_of_run(trainer, run, keep_checkpoints)
    if not (run / "encoder.pt").is_file():
        raise InputError("training finished without a finite loss: no encoder.pt written", run)
    return {"checkpoints_kept": kept, "run": str(run), "epochs_run": trainer.current_epoch, "best_epoch": best.best_epoch,
            "best_loss": best.best, "seconds": round(time.perf_counter() - t0, 1), "images": len(paths),
            "bad_files": bad,
            "is_global_zero": bool(trainer.is_global_zero),
            "stopped_early": bool(trainer.early_stopping_callback and trainer.early_stopping_callback.stopped_epoch),
            "probe_note": probe_cb.note if probe_cb else None}
