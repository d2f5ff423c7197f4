"""Full-size inference: encoder.pt (``encoder_file``) -> encodings of every scanned image.

Full size (METHOD.md Step 1): each image zero-padded, centred, to
``full_size`` x ``full_size`` (272 in the study; no crop). Images larger than
``full_size`` (CellaVision crops are 360 x 363) are handled by ``oversize``:

* ``pad`` (default): pad every image of the set to the set's largest side
  instead (369 x 369 for the CellaVision set): nothing is cut, nothing is
  rescaled, cells keep their pixel size; costs (369/272)^2 = 1.8x the compute.
* ``resize``: shrink only the oversize images (aspect kept) to fit, then pad:
  the cell is whole but smaller than in the other images.
* ``crop``: centre-crop oversize images to ``full_size``: cheapest, but cuts
  the border of the frame (the cell is centred in CellaVision crops, but a
  large cell can lose its edge).

An encoder trained with a ``field`` (views cut from the centred field x field
square) encodes that same centred square by default: ``full_size`` = field,
oversize ``crop``; the image is otherwise treated alike (padded if smaller).
The encoder's ``Geometry`` (written by training into encoder.pt) says which.

The summary (and ``encode.json``) says what was done to how many images.
"""
from __future__ import annotations

import contextlib
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms.v2 import functional as TF

from ..data.atomic import atomic_path, file_sha256, write_csv, write_json
from ..data.encodings import nonfinite
from ..exceptions import InputError
from ..progress import Progress, ProgressArg
from .config import Geometry
from .encoder_file import read_encoder_file
from .names import DEFAULT_FULL_SIZE, OVERSIZE  # noqa: F401  (re-exported)
from .transforms import center_pad, read_image_tensor


# ---------------------------------------------------------------- full-size images
class FullSizeImages(Dataset):
    """Images -> (float 3 x S x S tensor in [0, 1], index): zero-padded, centred.

    ``sizes``: (width, height) of each image as scanned (before ``scale``).
    """

    def __init__(self, paths, sizes, full_size: int = DEFAULT_FULL_SIZE, oversize: str = "pad",
                 scale: float = 1.0, uint8: bool = False):
        if oversize not in OVERSIZE:
            raise InputError(f"unknown --oversize {oversize!r}; choose one of {', '.join(OVERSIZE)}")
        self.paths = [str(p) for p in paths]
        self.scale = float(scale)
        self.full_size = int(full_size)
        self.oversize = oversize
        self.uint8 = uint8  # hand uint8 to the DataLoader (4x less to pass between processes)
        sides = [max(round(w * self.scale), round(h * self.scale)) for w, h in sizes]
        self.oversize_count = sum(s > self.full_size for s in sides)
        largest = max(sides, default=self.full_size)
        self.output_size = max(self.full_size, largest) if oversize == "pad" else self.full_size

    @classmethod
    def for_encoder(cls, paths, sizes, geometry: Geometry, full_size: int | None = None,
                    oversize: str | None = None, uint8: bool = False) -> FullSizeImages:
        """The images as an encoder of ``geometry`` sees them (``Geometry.for_encoding``:
        the caller's side/oversize, else the encoder's)."""
        side, oversize = geometry.for_encoding(full_size, oversize)
        return cls(paths, sizes, side, oversize, geometry.scale, uint8)

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        img = read_image_tensor(self.paths[i], self.scale)
        h, w = img.shape[-2:]
        S = self.output_size
        if max(h, w) > S:
            if self.oversize == "crop":
                img = TF.center_crop(img, [min(h, S), min(w, S)])
            else:  # resize (or pad when the scan under-reported a size): fit whole, aspect kept
                f = S / max(h, w)
                img = TF.resize(img, [max(1, min(S, round(h * f))), max(1, min(S, round(w * f)))],
                                antialias=True)
        img = center_pad(img, S)
        return (img if self.uint8 else img.float().div_(255.0)), i

    def describe(self) -> str:
        n = self.oversize_count
        if n == 0:
            return f"all {len(self)} images fit in {self.full_size} x {self.full_size}: zero-padded, centred"
        what = {"pad": f"padded to the set's largest side, {self.output_size} x {self.output_size} "
                       f"(all {len(self)} images are encoded at that size; nothing cut or resized)",
                "resize": f"resized (aspect kept) to fit {self.full_size} x {self.full_size}",
                "crop": f"centre-cropped to {self.full_size} x {self.full_size} (frame border cut)"}[self.oversize]
        return f"{n} of {len(self)} images larger than {self.full_size} px: {what}"


@contextlib.contextmanager
def _eval_mode(module: torch.nn.Module):
    was = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(was)


def encode_dataset(encoder: torch.nn.Module, dataset: Dataset, out: np.ndarray | None = None, *,
                   batch_size: int = 32, workers: int = 0, progress: ProgressArg = False,
                   device: str | torch.device = "cpu", desc: str = "encode") -> np.ndarray:
    """Encode every item of ``dataset`` into ``out`` (rows by dataset index); returns ``out``.

    ``out`` may be a memory-mapped array or :class:`NpyRows`: only one batch is ever held in memory.
    ``progress``: as :mod:`vexscreen.progress` (False, True, or ``progress(desc, done, total)``).
    """
    n = len(dataset)
    if out is None:
        out = np.empty((n, encoder.dim), dtype=np.float32)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=workers,
                        persistent_workers=False, pin_memory=False)
    with Progress(progress, n, desc, unit="img") as bar, _eval_mode(encoder), torch.inference_mode():
        for x, idx in loader:
            x = x.to(device)
            if x.dtype == torch.uint8:
                x = x.float().div_(255.0)
            out[idx.numpy()] = encoder(x).float().cpu().numpy()
            bar.update(len(idx))
    return out


def encode_scan(encoder_path, scan, out_dir, *, full_size: int | None = None, oversize: str | None = None,
                batch_size: int = 32, workers: int = 2, progress: ProgressArg = False,
                device: str = "cpu", accelerator: str | None = None, devices=None, num_nodes: int = 1,
                strategy: str = "auto") -> dict:
    """Encode every image of a ``ScanResult`` and write the encoding set atomically.

    Writes ``encodings.npy`` + ``metadata.csv`` (labeled or flat layout) or the
    ``encoder_test_*`` pair (encoder-test layout), plus ``encode.json`` (what was
    done, and in ``bad_files`` every file the scan skipped, with the reason). Rows
    follow the scan's sorted order; the encoder's ``Geometry`` gives the side and
    oversize policy unless ``full_size``/``oversize`` are given.
    Returns the summary dict (``progress``: as for ``encode_dataset``).

    By default one process encodes on ``device``. ``accelerator``/``devices``/
    ``num_nodes``/``strategy`` (any of them given) hand the work to Lightning's
    ``Trainer.predict`` instead (:mod:`.prediction`): one process per device,
    each writing its images' rows into the same memory-mapped output, rows as
    with one process. Only global rank 0 writes the metadata and ``encode.json``;
    the other ranks return ``{"is_global_zero": False}``.
    """
    file = read_encoder_file(encoder_path)
    encoder = file.build()
    records = list(scan.images)
    if not records:
        raise InputError("no usable images to encode", getattr(scan, "root", None))
    dataset = FullSizeImages.for_encoder([r.path for r in records], [(r.width, r.height) for r in records],
                                         file.geometry, full_size, oversize, uint8=True)
    meta = scan.metadata()
    if len(meta) != len(records):
        raise InputError(f"scan metadata has {len(meta)} rows for {len(records)} images")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    prefix = "encoder_test_" if scan.layout == "encoder_test" else ""
    target = out_dir / f"{prefix}encodings.npy"
    distributed = accelerator is not None or devices is not None or num_nodes != 1
    t0 = time.perf_counter()
    if distributed:
        from .prediction import encode_with_lightning

        if not encode_with_lightning(encoder, dataset, target, batch_size=batch_size, workers=workers,
                                     accelerator=accelerator or "cpu", devices=devices or "auto",
                                     num_nodes=num_nodes, strategy=strategy, progress=progress,
                                     source=encoder_path):
            return {"is_global_zero": False}
    else:
        _encode_into(encoder.to(device), dataset, target, batch_size=batch_size, workers=workers,
                     progress=progress, device=device, source=encoder_path)
    seconds = time.perf_counter() - t0
    write_csv(out_dir / f"{prefix}metadata.csv", meta)
    summary = {
        "images": len(records), "layout": scan.layout, "dim": int(encoder.dim),
        "encoder": str(encoder_path), "encoder_sha256": file_sha256(encoder_path),
        "backbone": file.config["backbone"], "pooling": file.config["pooling"],
        "scale": file.geometry.scale, "field": file.geometry.field, "full_size": dataset.full_size,
        "oversize": dataset.oversize, "oversize_images": int(dataset.oversize_count),
        "input_size": int(dataset.output_size), "treatment": _treatment(dataset, file.geometry),
        "seconds": round(seconds, 3), "images_per_second": round(len(records) / seconds, 2) if seconds > 0 else None,
        "devices": ({"accelerator": accelerator or "cpu", "devices": devices or "auto", "num_nodes": num_nodes,
                     "strategy": strategy} if distributed else {"device": str(device)}),
        "files": [f"{prefix}encodings.npy", f"{prefix}metadata.csv"], "is_global_zero": True,
        "bad_files": scan.bad_files(),  # skipped by the scan, each with the reason
    }
    write_json(out_dir / "encode.json", summary)
    return summary


def _encode_into(encoder, dataset, target: Path, *, batch_size, workers, progress, device, source) -> None:
    """One process: ``encode_dataset`` into a ``.npy`` beside ``target``, renamed over it when complete."""
    with atomic_path(target, suffix=".npy") as tmp:
        rows = NpyRows.create(tmp, (len(dataset), encoder.dim))
        encode_dataset(encoder, dataset, rows, batch_size=batch_size, workers=workers, progress=progress,
                       device=device)
        check_finite(tmp, source)


class NpyRows:
    """A float32 ``.npy`` on disk written row by row, in place: ``rows[index] = values``.

    Each write maps the file, writes the rows and unmaps it, so the process never
    holds more than one batch, however large the file (1,000,000 x 512 float32 is
    2 GB; a memory map kept open would count every page written in its memory).
    """

    def __init__(self, path):
        self.path = Path(path)
        self.shape = np.load(self.path, mmap_mode="r").shape

    @classmethod
    def create(cls, path, shape) -> "NpyRows":
        """A new ``.npy`` of ``shape`` (float32, zeros: a sparse file) at ``path``."""
        np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=tuple(int(s) for s in shape)).flush()
        return cls(path)

    def __len__(self) -> int:
        return self.shape[0]

    def __setitem__(self, index, values) -> None:
        rows = np.load(self.path, mmap_mode="r+")
        rows[index] = values
        del rows  # unmapped: the pages stay in the page cache, not in this process


def check_finite(path, source=None) -> None:
    """InputError unless every value of the ``.npy`` at ``path`` is finite (read block by block)."""
    if nonfinite(path):
        raise InputError("the encoder produced NaN/inf encodings", source)


def _treatment(dataset: FullSizeImages, geometry: Geometry) -> str:
    """What was done to the images, in words (the encoder's field said as such)."""
    if geometry.field and (dataset.full_size, dataset.oversize) == (geometry.field, "crop"):
        return (f"the encoder's centred {dataset.full_size} x {dataset.full_size} field, as it was trained: "
                f"{dataset.oversize_count} of {len(dataset)} images centre-cropped to it, the others padded")
    return dataset.describe()
