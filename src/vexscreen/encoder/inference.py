"""Full-size inference: encoder.pt -> encodings of every scanned image.

``encoder.pt`` is a plain dict (``format``, ``version``, ``config`` of plain
values, ``state_dict`` of tensors), so ``torch.load(path, weights_only=True)``
reads it and a tampered file cannot run code; anything that does not have
this exact shape is refused with an ``InputError`` naming the file.

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
from ..exceptions import InputError
from .backbones import build_backbone, BACKBONES, POOLINGS
from .names import DEFAULT_FULL_SIZE, OVERSIZE  # noqa: F401  (re-exported)
from .transforms import center_pad, read_image_tensor

FORMAT = "vexscreen-encoder"
VERSION = 1


# ---------------------------------------------------------------- encoder.pt
def save_encoder(path, encoder: torch.nn.Module, config: dict) -> Path:
    """Write encoder.pt atomically: plain tensors + plain config."""
    state = {k: v.detach().cpu().clone().contiguous() for k, v in encoder.state_dict().items()}
    payload = {"format": FORMAT, "version": VERSION, "config": dict(config), "state_dict": state}
    with atomic_path(path, suffix=".pt") as tmp:
        torch.save(payload, tmp)
    return Path(path)


def _check_plain(obj, where: str, path) -> None:
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return
    if isinstance(obj, (list, tuple)):
        for v in obj:
            _check_plain(v, where, path)
        return
    if isinstance(obj, dict):
        for k, v in obj.items():
            if not isinstance(k, str):
                raise InputError(f"{where} has a non-string key {k!r}", path)
            _check_plain(v, where, path)
        return
    raise InputError(f"{where} holds a {type(obj).__name__}, expected plain values", path)


def read_encoder_file(path) -> dict:
    """Read and validate encoder.pt (no model built); InputError on anything unexpected."""
    path = Path(path)
    if not path.is_file():
        raise InputError("encoder file not found", path)
    if path.stat().st_size == 0:
        raise InputError("encoder file is empty", path)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise InputError(f"not a vexscreen encoder file, or damaged ({type(exc).__name__}: "
                         f"{str(exc).splitlines()[0][:200] if str(exc) else ''})", path) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise InputError(f"not a vexscreen encoder file (no format={FORMAT!r} field)", path)
    if payload.get("version") != VERSION:
        raise InputError(f"encoder file version {payload.get('version')!r}; this vexscreen reads {VERSION}", path)
    config, state = payload.get("config"), payload.get("state_dict")
    if not isinstance(config, dict) or not isinstance(state, dict):
        raise InputError("encoder file lacks its config or state_dict", path)
    _check_plain(config, "config", path)
    if config.get("backbone") not in BACKBONES or config.get("pooling") not in POOLINGS:
        raise InputError(f"unknown backbone/pooling {config.get('backbone')!r}/{config.get('pooling')!r}", path)
    for key, value in state.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise InputError("state_dict is not a mapping of names to tensors", path)
        if value.is_floating_point() and not torch.isfinite(value).all():
            raise InputError(f"tensor {key} holds NaN/inf values", path)
    return payload


def load_encoder(path) -> tuple[torch.nn.Module, dict]:
    """(encoder in eval mode, config) from encoder.pt; InputError naming the file if it is not one."""
    payload = read_encoder_file(path)
    config = payload["config"]
    encoder = build_backbone(config["backbone"], config["pooling"])
    try:
        encoder.load_state_dict(payload["state_dict"], strict=True)
    except RuntimeError as exc:
        raise InputError(f"weights do not fit backbone {config['backbone']}: "
                         f"{str(exc).splitlines()[0][:300]}", path) from None
    encoder.eval()
    return encoder, config


def encode_geometry(config: dict, full_size: int | None = None, oversize: str | None = None) -> tuple[int, str]:
    """(side, oversize) an encoder's images are encoded at: the caller's choice, else the
    encoder's field (centre crop) when it was trained on one, else its full size, padded."""
    field = config.get("field")
    if full_size is None:
        full_size = field if field else config.get("full_size", DEFAULT_FULL_SIZE)
    if oversize is None:
        oversize = "crop" if field else "pad"
    return int(full_size), oversize


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
                   batch_size: int = 32, workers: int = 0, progress: bool = True,
                   device: str | torch.device = "cpu", desc: str = "encode") -> np.ndarray:
    """Encode every item of ``dataset`` into ``out`` (rows by dataset index); returns ``out``.

    ``out`` may be a memory-mapped array: only one batch is ever held in memory.
    """
    n = len(dataset)
    if out is None:
        out = np.empty((n, encoder.dim), dtype=np.float32)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=workers,
                        persistent_workers=False, pin_memory=False)
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=n, desc=desc, unit="img", dynamic_ncols=True, leave=True)
    try:
        with _eval_mode(encoder), torch.inference_mode():
            for x, idx in loader:
                x = x.to(device)
                if x.dtype == torch.uint8:
                    x = x.float().div_(255.0)
                y = encoder(x).float().cpu().numpy()
                out[idx.numpy()] = y
                if bar is not None:
                    bar.update(len(idx))
    finally:
        if bar is not None:
            bar.close()
    return out


def encode_scan(encoder_path, scan, out_dir, *, full_size: int | None = None, oversize: str | None = None,
                batch_size: int = 32, workers: int = 2, progress: bool = True, device: str = "cpu") -> dict:
    """Encode every image of a ``ScanResult`` and write the encoding set atomically.

    Writes ``encodings.npy`` + ``metadata.csv`` (labeled or flat layout) or the
    ``encoder_test_*`` pair (encoder-test layout), plus ``encode.json`` (what was
    done). Rows follow the scan's sorted order. Returns the summary dict.
    """
    encoder, config = load_encoder(encoder_path)
    encoder.to(device)
    records = list(scan.images)
    if not records:
        raise InputError("no usable images to encode", getattr(scan, "root", None))
    full_size, oversize = encode_geometry(config, full_size, oversize)
    scale = float(config.get("scale", 1.0))
    dataset = FullSizeImages([r.path for r in records], [(r.width, r.height) for r in records],
                             full_size, oversize, scale, uint8=True)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    prefix = "encoder_test_" if scan.layout == "encoder_test" else ""
    meta = scan.metadata()
    if len(meta) != len(records):
        raise InputError(f"scan metadata has {len(meta)} rows for {len(records)} images")
    t0 = time.perf_counter()
    with atomic_path(out_dir / f"{prefix}encodings.npy", suffix=".npy") as tmp:
        mm = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(len(records), encoder.dim))
        encode_dataset(encoder, dataset, mm, batch_size=batch_size, workers=workers, progress=progress,
                       device=device)
        if not np.isfinite(mm).all():
            raise InputError("the encoder produced NaN/inf encodings", encoder_path)
        mm.flush()
        del mm
    seconds = time.perf_counter() - t0
    write_csv(out_dir / f"{prefix}metadata.csv", meta)
    treatment = dataset.describe()
    if config.get("field") and (full_size, oversize) == (int(config["field"]), "crop"):
        treatment = (f"the encoder's centred {full_size} x {full_size} field, as it was trained: "
                     f"{dataset.oversize_count} of {len(records)} images centre-cropped to it, "
                     f"the others padded")
    summary = {
        "images": len(records), "layout": scan.layout, "dim": int(encoder.dim),
        "encoder": str(encoder_path), "encoder_sha256": file_sha256(encoder_path), "backbone": config["backbone"], "pooling": config["pooling"],
        "scale": scale, "field": config.get("field"), "full_size": full_size, "oversize": oversize,
        "oversize_images": int(dataset.oversize_count), "input_size": int(dataset.output_size),
        "treatment": treatment, "seconds": round(seconds, 3),
        "images_per_second": round(len(records) / seconds, 2) if seconds > 0 else None,
        "files": [f"{prefix}encodings.npy", f"{prefix}metadata.csv"],
    }
    write_json(out_dir / "encode.json", summary)
    return summary
