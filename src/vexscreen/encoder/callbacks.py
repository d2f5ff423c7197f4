"""What a training run records, as Lightning callbacks and a logger (one job each).

* ``ProbeCallback``: the study's per-epoch probe (METHOD.md Step 1), logged as
  ``probe_accuracy``;
* ``EpochStats``: the epoch's learning rate, seconds and images/s, logged;
* ``BestEncoder``: encoder.pt, written atomically whenever the epoch loss is the
  best so far (its best loss and epoch are checkpointed, so ``--resume`` goes on
  comparing with them); logs ``best_loss``;
* ``MetricsCSV``: the logger that writes everything logged at epoch end to
  metrics.csv, one row per epoch;
* ``EpochProgress``: finished epochs reported as :mod:`vexscreen.progress` does
  (log lines in a file or pipe, where Lightning's bar would write hundreds of updates).

Values are logged as float64 tensors: Lightning keeps their dtype, so the
learning rate reads 1e-05 in metrics.csv, not float32's 9.99999974e-06.
"""
from __future__ import annotations

import logging
import math
import time
from pathlib import Path

import pandas as pd
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.loggers import Logger
from lightning.pytorch.utilities import rank_zero_only

from ..data.atomic import write_csv
from .config import Geometry
from .encoder_file import save_encoder
from .inference import FullSizeImages, encode_dataset
from .probe import probe_accuracy

log = logging.getLogger(__name__)

METRICS_COLUMNS = ("epoch", "loss", "lr", "probe_accuracy", "best_loss", "seconds", "images_per_second")


def _log(pl_module, name: str, value: float, prog_bar: bool = False) -> None:
    pl_module.log(name, torch.tensor(float(value), dtype=torch.float64), rank_zero_only=True, prog_bar=prog_bar)


class ProbeCallback(Callback):
    """Per epoch: the study's probe on the labeled images of ``scan``, at full size as an encoder of
    ``geometry`` sees them (rank 0 only). Its ``note`` (a fallback of the split, METHOD.md Step 1
    being impossible on these images) depends on the images only: logged once as a warning."""

    def __init__(self, scan, geometry: Geometry, batch_size: int = 32, workers: int = 0):
        self.meta = scan.metadata()
        self.dataset = FullSizeImages.for_encoder([r.path for r in scan.images],
                                                  [(r.width, r.height) for r in scan.images], geometry)
        self.batch_size, self.workers = batch_size, workers
        self.note = ""

    def on_train_epoch_end(self, trainer, pl_module):
        if not trainer.is_global_zero:
            return
        X = encode_dataset(pl_module.encoder, self.dataset, batch_size=self.batch_size, workers=self.workers,
                           progress=False, device=pl_module.device)
        accuracy, note = probe_accuracy(X, self.meta)
        if note and note != self.note:
            log.warning("probe: %s", note)
        self.note = note
        _log(pl_module, "probe_accuracy", accuracy, prog_bar=True)


class EpochStats(Callback):
    """Per epoch: the learning rate it ran at, its seconds and images/s (``n_images`` per epoch)."""

    def __init__(self, n_images: int):
        self.n_images = n_images
        self.t0 = None

    def on_train_epoch_start(self, trainer, pl_module):
        self.t0 = time.perf_counter()

    def on_train_epoch_end(self, trainer, pl_module):
        seconds = time.perf_counter() - (self.t0 or time.perf_counter())
        _log(pl_module, "lr", trainer.optimizers[0].param_groups[0]["lr"])  # before the plateau step
        _log(pl_module, "seconds", round(seconds, 3))
        _log(pl_module, "images_per_second", round(self.n_images / seconds, 2) if seconds > 0 else math.nan)


class EpochProgress(Callback):
    """Finished epochs to ``progress`` (a ``vexscreen.progress`` argument), on rank 0."""

    def __init__(self, progress):
        self.progress, self.bar = progress, None

    def on_train_start(self, trainer, pl_module):
        from ..progress import Progress

        if trainer.is_global_zero:
            self.bar = Progress(self.progress, trainer.max_epochs, "train-encoder", unit="epoch")
            self.bar.done = trainer.current_epoch  # a resumed run goes on counting

    def on_train_epoch_end(self, trainer, pl_module):
        if self.bar is not None:
            self.bar.update()

    def on_train_end(self, trainer, pl_module):
        if self.bar is not None:
            self.bar.close()


class BestEncoder(Callback):
    """encoder.pt at ``path`` whenever the epoch loss is below every earlier one (``geometry`` and
    ``info`` recorded with it, plus best epoch, best loss, epochs run and that epoch's probe
    accuracy). A NaN loss never counts as an improvement."""

    def __init__(self, path, geometry: Geometry, info: dict):
        self.path, self.geometry, self.info = Path(path), geometry, dict(info)
        self.best = math.inf
        self.best_epoch = -1

    def state_dict(self):
        return {"best": float(self.best), "best_epoch": int(self.best_epoch)}

    def load_state_dict(self, state):
        self.best = float(state.get("best", math.inf))
        self.best_epoch = int(state.get("best_epoch", -1))

    def on_load_checkpoint(self, trainer, pl_module, checkpoint):
        """A run checkpointed by vexscreen before this callback existed kept its best loss under
        ``RunRecorder``: resumed, it still compares with it."""
        states = checkpoint.get("callbacks") or {}
        if self.state_key not in states and "RunRecorder" in states:
            self.load_state_dict(states["RunRecorder"])

    def on_train_epoch_end(self, trainer, pl_module):
        loss = trainer.callback_metrics.get("loss")
        loss = float(loss) if loss is not None else math.nan
        epoch = trainer.current_epoch
        improved = loss < self.best
        if improved:
            self.best, self.best_epoch = loss, epoch
        _log(pl_module, "best_loss", self.best)
        if improved and trainer.is_global_zero:
            accuracy = trainer.callback_metrics.get("probe_accuracy")
            accuracy = None if accuracy is None or math.isnan(float(accuracy)) else float(accuracy)
            save_encoder(self.path, pl_module.encoder, self.geometry,
                         {**self.info, "best_epoch": epoch, "best_loss": loss, "epochs_run": epoch + 1,
                          "probe_accuracy": accuracy})


class MetricsCSV(Logger):
    """metrics.csv: one row per epoch (``METRICS_COLUMNS``, then anything else logged), rewritten
    atomically each epoch. A resumed run keeps the rows of the epochs before the one it resumes at.

    Why not Lightning's ``CSVLogger`` (2.6): it deletes an existing metrics.csv when it starts
    (a ``--resume`` would lose the epochs before the interruption), writes in place (a run
    killed mid-write leaves a torn file), and writes a row per ``log_metrics`` call."""

    def __init__(self, path):
        super().__init__()
        self.path = Path(path)
        self.rows: list[dict] | None = None

    @property
    def name(self) -> str:
        return "metrics"

    @property
    def version(self) -> None:
        return None

    def log_hyperparams(self, params, *args, **kwargs) -> None:
        """Nothing: the run's settings are in config.json."""

    @rank_zero_only
    def log_metrics(self, metrics: dict, step: int | None = None) -> None:
        if "epoch" not in metrics:
            return
        epoch = int(metrics["epoch"])
        if self.rows is None:
            self.rows = self._earlier_rows(epoch)
        self.rows = [r for r in self.rows if r["epoch"] < epoch] + [{**metrics, "epoch": epoch}]
        frame = pd.DataFrame(self.rows)
        extra = sorted(set(frame.columns) - set(METRICS_COLUMNS))
        write_csv(self.path, frame.reindex(columns=[*METRICS_COLUMNS, *extra]))

    def _earlier_rows(self, epoch: int) -> list[dict]:
        if epoch == 0 or not self.path.is_file():
            return []
        try:
            rows = pd.read_csv(self.path).to_dict("records")
        except (OSError, ValueError) as exc:
            log.warning("%s unreadable (%s): earlier epochs not kept", self.path, exc)
            return []
        return [r for r in rows if r.get("epoch", math.inf) < epoch]
