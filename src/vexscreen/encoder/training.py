"""``train_encoder``: images -> RUN/ (encoder.pt, metrics.csv, config.json, checkpoints/).

Lightning does the loop, so ``devices``/``accelerator``/``strategy``/``num_nodes``
pass straight through (one CPU here, several GPUs or nodes with DDP elsewhere).

RUN/ holds:
* ``encoder.pt``: the encoder of the epoch with the best (lowest) contrastive
  loss, written atomically when the loss improves; plain tensors + config
  (``vexscreen.encoder.load_encoder``; ``torch.load(weights_only=True)``).
* ``metrics.csv``: one row per finished epoch (loss, lr, probe accuracy, time,
  images/s), rewritten atomically each epoch.
* ``config.json``: the run's settings; ``--resume`` reads them back.
* ``checkpoints/last.ckpt``: Lightning's full state (weights, Adam, LR
  scheduler, early-stopping and callback state, the NNCLR queue), saved at
  every epoch end; ``--resume`` passes it to ``Trainer.fit(ckpt_path=...,
  weights_only=True)``: it holds only tensors and plain values, so torch's
  safe loader reads it and no pickled code is ever run.
"""
from __future__ import annotations

import math
import time
import warnings
from dataclasses import asdict
from pathlib import Path

import lightning as L
import numpy as np
import pandas as pd
import torch
from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint, TQDMProgressBar
from torch.utils.data import DataLoader

from .. import __version__
from ..data.atomic import write_csv, write_json
from ..exceptions import InputError
from .backbones import get_spec, IMAGENET_MEAN, IMAGENET_STD
from .inference import FullSizeImages, encode_dataset, encode_geometry, save_encoder
from .config import TrainConfig
from .module import ContrastiveModule
from .probe import probe_accuracy
from .transforms import ViewPairDataset

METRICS_COLUMNS = ["epoch", "loss", "lr", "probe_accuracy", "best_loss", "seconds", "images_per_second", "note"]


class ProbeCallback(Callback):
    """Per epoch: the study's probe on the labeled images (rank 0 only)."""

    def __init__(self, scan, full_size: int, scale: float, batch_size: int = 32, workers: int = 0,
                 field: int | None = None):
        self.meta = scan.metadata()
        size, oversize = encode_geometry({"full_size": full_size, "field": field})
        self.dataset = FullSizeImages([r.path for r in scan.images], [(r.width, r.height) for r in scan.images],
                                      size, oversize, scale)
        self.batch_size, self.workers = batch_size, workers
        self.last = (float("nan"), "")

    def on_train_epoch_end(self, trainer, pl_module):
        if not trainer.is_global_zero:
            return
        X = encode_dataset(pl_module.encoder, self.dataset, batch_size=self.batch_size, workers=self.workers,
                           progress=False, device=pl_module.device)
        self.last = probe_accuracy(X, self.meta)
        pl_module.log("probe_acc", self.last[0], rank_zero_only=True, prog_bar=True)


class RunRecorder(Callback):
    """metrics.csv each epoch, and encoder.pt whenever the epoch loss is the best so far."""

    def __init__(self, run: Path, config: dict, n_images: int, probe: ProbeCallback | None):
        self.run, self.config, self.n_images, self.probe = run, config, n_images, probe
        self.rows: list[dict] = []
        self.best = math.inf
        self.best_epoch = -1
        self.t0 = None

    def state_dict(self):
        return {"rows": [dict(r) for r in self.rows], "best": float(self.best), "best_epoch": int(self.best_epoch)}

    def load_state_dict(self, state):
        self.rows = [dict(r) for r in state.get("rows", [])]
        self.best = float(state.get("best", math.inf))
        self.best_epoch = int(state.get("best_epoch", -1))

    def on_train_epoch_start(self, trainer, pl_module):
        self.t0 = time.perf_counter()

    def on_train_epoch_end(self, trainer, pl_module):
        loss = trainer.callback_metrics.get("loss")
        loss = float(loss) if loss is not None else float("nan")
        seconds = time.perf_counter() - (self.t0 or time.perf_counter())
        epoch = trainer.current_epoch
        improved = loss < self.best
        if improved:
            self.best, self.best_epoch = loss, epoch
        if not trainer.is_global_zero:
            return
        lr = trainer.optimizers[0].param_groups[0]["lr"]
        acc, note = self.probe.last if self.probe is not None else (float("nan"), "")
        self.rows = [r for r in self.rows if r["epoch"] < epoch]
        self.rows.append({"epoch": epoch, "loss": loss, "lr": lr, "probe_accuracy": acc, "best_loss": self.best,
                          "seconds": round(seconds, 3),
                          "images_per_second": round(self.n_images / seconds, 2) if seconds > 0 else float("nan"),
                          "note": note})
        write_csv(self.run / "metrics.csv", pd.DataFrame(self.rows, columns=METRICS_COLUMNS))
        if improved:
            cfg = dict(self.config)
            cfg.update(best_epoch=epoch, best_loss=loss, epochs_run=epoch + 1, probe_accuracy=None if
                       math.isnan(acc) else acc)
            save_encoder(self.run / "encoder.pt", pl_module.encoder, cfg)


def _image_paths(images_dir, max_images):
    from ..data.scan import scan_images
    images_dir = Path(images_dir)
    if not images_dir.is_dir():
        raise InputError("images folder not found", images_dir)
    scan = scan_images(images_dir, progress=False)
    paths = [r.path for r in scan.images]
    if len(paths) < 2:
        raise InputError(f"{len(paths)} usable image(s); contrastive training needs at least 2", images_dir)
    if max_images and len(paths) > max_images:
        keep = np.linspace(0, len(paths) - 1, max_images).round().astype(int)
        paths = [paths[i] for i in keep]
    return paths, scan


def encoder_config(cfg: TrainConfig, n_images: int) -> dict:
    spec = get_spec(cfg.backbone)
    return {
        "backbone": cfg.backbone, "pooling": cfg.pooling, "dim": spec.dim,
        "full_size": cfg.full_size, "scale": cfg.scale, "field": cfg.field,
        "normalisation": {"mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD), "input": "RGB in [0, 1]"},
        "training": {"method": cfg.method, "queue_size": cfg.queue_size, "temperature": cfg.temperature,
                     "lr": cfg.lr, "batch_size": cfg.batch_size, "max_epochs": cfg.epochs, "seed": cfg.seed,
                     "crop": cfg.crop, "local_crop": cfg.local_crop, "n_local": cfg.n_local, "dense": cfg.dense,
                     "color_jitter": cfg.color_jitter, "head": [cfg.head_hidden, cfg.head_out], "images": n_images,
                     "initial_weights": Path(cfg.weights).name if cfg.weights else None},
        "vexscreen_version": __version__,
    }


def save_untrained_encoder(path, cfg: TrainConfig) -> Path:
    """encoder.pt of the initialisation train-encoder starts from (``cfg``'s backbone at seed
    ``cfg.seed``, or ``cfg.weights`` if set), never trained on cells: the baseline a training
    run has to beat."""
    L.seed_everything(cfg.seed, verbose=False)
    module = ContrastiveModule(cfg.backbone, cfg.pooling, cfg.weights)  # same construction order: same weights
    config = encoder_config(cfg, 0)
    config["training"] = None
    return save_encoder(path, module.encoder, config)


def train_encoder(images, run, cfg: TrainConfig | None = None, *, probe=None, resume: bool = False,
                  accelerator: str = "cpu", devices="auto", strategy: str = "auto", num_nodes: int = 1,
                  progress: bool = True, callbacks: list | None = None) -> dict:
    """Train an encoder on the images under ``images``; outputs in ``run`` (see module doc)."""
    run = Path(run)
    ckpt = run / "checkpoints" / "last.ckpt"
    cfg = cfg or TrainConfig()
    if resume:
        if not ckpt.is_file():
            raise InputError("nothing to resume: no checkpoints/last.ckpt in the run folder", run)
        saved = (run / "config.json")
        if saved.is_file():
            import json
            old = json.loads(saved.read_text())["train"]
            old["epochs"] = max(int(old["epochs"]), int(cfg.epochs)) if cfg.epochs else old["epochs"]
            cfg = TrainConfig(**{k: v for k, v in old.items() if k in TrainConfig.__dataclass_fields__})
    get_spec(cfg.backbone)
    if cfg.field is not None and cfg.field < cfg.crop:
        raise InputError(f"--field {cfg.field} is smaller than --crop {cfg.crop}: views are cut from the field")
    if cfg.local_crop is not None and not get_spec(cfg.backbone).min_size <= cfg.local_crop <= cfg.crop:
        raise InputError(f"--local-crop {cfg.local_crop} must be between {cfg.backbone}'s minimum input side "
                         f"{get_spec(cfg.backbone).min_size} and --crop {cfg.crop}")
    if cfg.n_local and (cfg.local_crop is None or cfg.queue_size > 0):
        raise InputError("--n-local needs --local-crop, and works with --queue-size 0 only (the queue would be "
                         "updated once per pair)")
    if not 0 <= cfg.dense <= 1:
        raise InputError(f"--dense {cfg.dense} must be between 0 (off) and 1 (dense term only)")
    if cfg.dense and cfg.local_crop is not None:
        raise InputError("--dense pairs locations of two views of the same size: not with --local-crop")
    if cfg.crop < get_spec(cfg.backbone).min_size:
        raise InputError(f"--crop {cfg.crop} is below {cfg.backbone}'s minimum input side "
                         f"{get_spec(cfg.backbone).min_size}")
    paths, _ = _image_paths(images, cfg.max_images)
    probe_cb = None
    if probe is not None:
        from ..data.scan import scan_images
        probe_scan = scan_images(probe, progress=False)
        if not probe_scan.images:
            raise InputError("no usable images for the probe", probe)
        probe_cb = ProbeCallback(probe_scan, cfg.full_size, cfg.scale, field=cfg.field)
    run.mkdir(parents=True, exist_ok=True)
    write_json(run / "config.json", {"train": asdict(cfg), "images": str(images), "n_images": len(paths),
                                     "probe": None if probe is None else str(probe)})

    L.seed_everything(cfg.seed, workers=True, verbose=False)
    module = ContrastiveModule(cfg.backbone, cfg.pooling, None if resume else cfg.weights, cfg.method,
                               cfg.queue_size, cfg.temperature, cfg.lr, cfg.head_hidden, cfg.head_out, cfg.seed,
                               cfg.lr_patience, cfg.lr_floor, cfg.min_delta, cfg.dense)
    dataset = ViewPairDataset(paths, cfg.crop, cfg.scale, cfg.color_jitter, cfg.field, cfg.local_crop, cfg.n_local)
    loader = DataLoader(dataset, batch_size=cfg.batch_size, shuffle=True, num_workers=cfg.workers,
                        drop_last=len(paths) > cfg.batch_size, persistent_workers=cfg.workers > 0,
                        generator=torch.Generator().manual_seed(cfg.seed))
    recorder = RunRecorder(run, encoder_config(cfg, len(paths)), len(paths), probe_cb)
    extra_callbacks = callbacks
    callbacks = ([probe_cb] if probe_cb else []) + [
        recorder,
        EarlyStopping(monitor="loss", min_delta=cfg.min_delta, patience=cfg.patience, mode="min",
                      check_on_train_epoch_end=True, verbose=False),
        ModelCheckpoint(dirpath=run / "checkpoints", filename="last", save_top_k=1, monitor=None,
                        every_n_epochs=1, save_on_train_epoch_end=True, enable_version_counter=False),
    ]
    if progress:
        callbacks.append(TQDMProgressBar(refresh_rate=1))
    callbacks += list(extra_callbacks or [])
    trainer = L.Trainer(max_epochs=cfg.epochs, accelerator=accelerator, devices=devices, strategy=strategy,
                        num_nodes=num_nodes, callbacks=callbacks, logger=False, default_root_dir=run,
                        enable_progress_bar=progress, enable_model_summary=False, log_every_n_steps=1,
                        deterministic=False)
    t0 = time.perf_counter()
    warnings.filterwarnings("ignore", message=".*Checkpoint directory .* exists and is not empty.*")
    warnings.filterwarnings("ignore", message=".*isinstance\\(treespec, LeafSpec\\).*")
    trainer.fit(module, loader, ckpt_path=ckpt if resume else None, weights_only=True if resume else None)
    seconds = time.perf_counter() - t0
    if not (run / "encoder.pt").is_file():
        raise InputError("training finished without a finite loss: no encoder.pt written", run)
    return {"run": str(run), "epochs_run": trainer.current_epoch, "best_epoch": recorder.best_epoch,
            "best_loss": recorder.best, "seconds": round(seconds, 1), "images": len(paths),
            "is_global_zero": bool(trainer.is_global_zero),
            "stopped_early": bool(trainer.early_stopping_callback and trainer.early_stopping_callback.stopped_epoch)}
