"""Encoding on several devices or nodes: Lightning's ``Trainer.predict`` writing into one memory map.

Each process (one per device, ``--devices N`` x ``--num-nodes M``) encodes its
share of the images (Lightning's unrepeated distributed sampler for
prediction: no image twice, none left out) and :class:`MemmapPredictionWriter`
writes every batch into the rows of those images in one shared ``.npy`` memory
map, by dataset index. Rows are therefore in the scan's order whatever the
number of processes, and a process holds one batch at a time. Global rank 0
creates the file (beside the target, under a temporary name) and, once every
rank has written its rows, checks it and renames it over the target. Several
nodes need the output folder on a filesystem they share.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
import warnings
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import BasePredictionWriter, Callback

from ..data.atomic import current_umask
from ..progress import Progress, ProgressArg
from .inference import NpyRows, check_finite


class EncoderPredictor(L.LightningModule):
    """An encoder as a LightningModule for ``Trainer.predict``: ``(images, index)`` batches in,
    float32 encodings out (uint8 images are scaled to [0, 1] on the device)."""

    def __init__(self, encoder: torch.nn.Module):
        super().__init__()
        self.encoder = encoder

    def predict_step(self, batch, batch_idx):
        x, _ = batch
        if x.dtype == torch.uint8:
            x = x.float().div_(255.0)
        return self.encoder(x).float()


class MemmapPredictionWriter(BasePredictionWriter):
    """Write each predicted batch into rows ``index`` of ``path`` (a float32 ``.npy`` of ``shape``).

    ``setup``: rank 0 creates the temporary ``.npy``, every rank opens it
    (:class:`~.inference.NpyRows`). ``write_on_batch_end``: the batch's rows.
    ``on_predict_end``: wait for all ranks; rank 0 checks every value is finite
    (in blocks) and renames the file over ``path``. A failed run leaves no
    temporary file behind.
    """

    def __init__(self, path, shape: tuple[int, int], source=None):
        super().__init__(write_interval="batch")
        self.path = Path(path)
        self.shape = tuple(int(s) for s in shape)
        self.source = source
        self.tmp: Path | None = None
        self.rows = None

    def setup(self, trainer, pl_module, stage: str) -> None:
        tmp = None
        if trainer.is_global_zero:
            tmp = _temporary_beside(self.path)
            NpyRows.create(tmp, self.shape)
        self.tmp = Path(trainer.strategy.broadcast(str(tmp) if tmp else None, src=0))
        trainer.strategy.barrier("memmap created")
        self.rows = NpyRows(self.tmp)

    def write_on_batch_end(self, trainer, pl_module, prediction, batch_indices, batch, batch_idx,
                           dataloader_idx=0) -> None:
        index = batch[1].cpu().numpy()
        self.rows[index] = prediction.detach().cpu().numpy()

    def on_predict_end(self, trainer, pl_module) -> None:
        self.rows = None
        trainer.strategy.barrier("rows written")
        if trainer.is_global_zero:
            check_finite(self.tmp, self.source)
            os.replace(self.tmp, self.path)
            self.tmp = None

    def teardown(self, trainer, pl_module, stage: str) -> None:
        self.rows = None
        if trainer.is_global_zero and self.tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.tmp)


class _ProgressCallback(Callback):
    """vexscreen's progress convention on rank 0 (images done after each batch)."""

    def __init__(self, progress: ProgressArg, total: int, desc: str):
        self.progress, self.total, self.desc = progress, total, desc
        self.bar = None

    def on_predict_start(self, trainer, pl_module):
        if trainer.is_global_zero:
            self.bar = Progress(self.progress, self.total, self.desc, unit="img")

    def on_predict_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0):
        if self.bar is not None:  # rank 0 counts its own batches times the number of processes
            self.bar.update(min(len(batch[1]) * trainer.world_size, self.total - self.bar.done))

    def on_predict_end(self, trainer, pl_module):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _temporary_beside(path: Path) -> Path:
    """An empty file next to ``path``, named as ``atomic_path`` names them, with an ordinary mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".npy", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~current_umask())
    finally:
        os.close(fd)
    return Path(tmp)


def encode_with_lightning(encoder: torch.nn.Module, dataset, path, *, batch_size: int = 32, workers: int = 0,
                          accelerator: str = "cpu", devices="auto", num_nodes: int = 1, strategy: str = "auto",
                          progress: ProgressArg = False, desc: str = "encode", source=None) -> bool:
    """Encode ``dataset`` (items ``(image, index)``) into ``path`` through ``Trainer.predict``.

    Rows by dataset index, identical to one process up to float rounding of the
    device. Returns whether this process is global rank 0 (the one that writes
    the rest of the output).
    """
    from torch.utils.data import DataLoader

    writer = MemmapPredictionWriter(path, (len(dataset), int(encoder.dim)), source)
    callbacks = [writer] + ([_ProgressCallback(progress, len(dataset), desc)] if progress else [])
    trainer = L.Trainer(accelerator=accelerator, devices=devices, num_nodes=num_nodes, strategy=strategy,
                        logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, callbacks=callbacks, inference_mode=True)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=workers)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*isinstance\\(treespec, LeafSpec\\).*")
        trainer.predict(EncoderPredictor(encoder), dataloaders=loader, return_predictions=False)
    return bool(trainer.is_global_zero)
