"""The encoder file (encoder.pt): format, version, integrity; save, read, load.

encoder.pt is a plain dict, so ``torch.load(path, weights_only=True)`` reads it
and a tampered file cannot run code:

* ``format``: ``FORMAT``; ``version``: ``VERSION`` (2: geometry as its own
  record, a SHA-256 of the content; version-1 files are refused, with the
  version this vexscreen reads);
* ``config``: plain values: ``backbone``, ``pooling``, ``dim``, ``geometry``
  (``Geometry.to_dict``: full_size, field, crop, scale), ``normalisation``,
  ``vexscreen_version`` and what the writer adds (``training``: the settings,
  or None for an untrained baseline; ``best_epoch``, ``best_loss``, ...);
* ``state_dict``: the encoder's tensors;
* ``sha256``: SHA-256 of config (canonical JSON) and tensors (name, dtype,
  shape, bytes, in name order): a file damaged after it was written is
  refused ("damaged: checksum mismatch"). It is not a signature: anyone can
  write a new file with a matching sum, and ``weights_only`` is what keeps
  code out.

Anything that does not have this exact shape is an ``InputError`` naming the
file, in one line.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import torch

from .. import __version__
from ..data.atomic import atomic_path
from ..exceptions import InputError
from .backbones import BACKBONES, IMAGENET_MEAN, IMAGENET_STD, POOLINGS, Encoder, build_backbone
from .config import Geometry

FORMAT = "vexscreen-encoder"
VERSION = 2


def content_sha256(config: dict, state_dict: dict) -> str:
    """Hex SHA-256 of an encoder file's content: config (canonical JSON), then each tensor's name,
    dtype, shape and bytes, in name order."""
    h = hashlib.sha256(json.dumps(config, sort_keys=True, separators=(",", ":")).encode())
    for name in sorted(state_dict):
        t = state_dict[name].detach().cpu().contiguous()
        h.update(json.dumps([name, str(t.dtype), list(t.shape)]).encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def save_encoder(path, encoder: Encoder, geometry: Geometry, info: dict | None = None) -> Path:
    """Write encoder.pt atomically: the encoder's tensors, its geometry, plain ``info`` (e.g.
    ``training``, ``best_epoch``) and the content's SHA-256."""
    if encoder.backbone not in BACKBONES:
        raise ValueError(f"the encoder does not say its backbone ({encoder.backbone!r}); use build_backbone")
    config = {"backbone": encoder.backbone, "pooling": encoder.pooling, "dim": int(encoder.dim),
              "geometry": geometry.to_dict(),
              "normalisation": {"mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD), "input": "RGB in [0, 1]"},
              "vexscreen_version": __version__, **(info or {})}
    _check_plain(config, "config", path)
    state = {k: v.detach().cpu().clone().contiguous() for k, v in encoder.state_dict().items()}
    payload = {"format": FORMAT, "version": VERSION, "config": config, "state_dict": state,
               "sha256": content_sha256(config, state)}
    with atomic_path(path, suffix=".pt") as tmp:
        torch.save(payload, tmp)
    return Path(path)


@dataclass(frozen=True)
class EncoderFile:
    """A read and checked encoder.pt (no model built yet: ``build``)."""
    path: Path
    config: dict
    state_dict: dict
    geometry: Geometry

    def build(self) -> Encoder:
        """The encoder, weights loaded, in eval mode."""
        encoder = build_backbone(self.config["backbone"], self.config["pooling"])
        try:
            encoder.load_state_dict(self.state_dict, strict=True)
        except RuntimeError as exc:
            raise InputError(f"weights do not fit backbone {self.config['backbone']}: "
                             f"{str(exc).splitlines()[0][:300]}", self.path) from None
        return encoder.eval()


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


def _read_payload(path: Path) -> dict:
    if not path.is_file():
        raise InputError("encoder file not found", path)
    if path.stat().st_size == 0:
        raise InputError("encoder file is empty", path)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        raise InputError("not a vexscreen encoder file, or damaged (torch cannot read it)", path) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise InputError(f"not a vexscreen encoder file (no format={FORMAT!r} field)", path)
    if payload.get("version") != VERSION:
        raise InputError(f"encoder file version {payload.get('version')!r}; this vexscreen reads version "
                         f"{VERSION} (train the encoder again)", path)
    return payload


def read_encoder_file(path) -> EncoderFile:
    """Read and check encoder.pt (no model built); InputError naming the file on anything unexpected."""
    path = Path(path)
    payload = _read_payload(path)
    config, state = payload.get("config"), payload.get("state_dict")
    if not isinstance(config, dict) or not isinstance(state, dict):
        raise InputError("encoder file lacks its config or state_dict", path)
    _check_plain(config, "config", path)
    if not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise InputError("state_dict is not a mapping of names to tensors", path)
    if payload.get("sha256") != content_sha256(config, state):
        raise InputError("damaged: checksum mismatch (the content is not what was written)", path)
    if config.get("backbone") not in BACKBONES or config.get("pooling") not in POOLINGS:
        raise InputError(f"unknown backbone/pooling {config.get('backbone')!r}/{config.get('pooling')!r}", path)
    if not isinstance(config.get("geometry"), dict):
        raise InputError("encoder file lacks its geometry", path)
    try:
        geometry = Geometry.from_dict(config["geometry"])
    except InputError as exc:
        raise InputError(f"bad geometry ({exc})", path) from None
    for key, value in state.items():
        if value.is_floating_point() and not torch.isfinite(value).all():
            raise InputError(f"tensor {key} holds NaN/inf values", path)
    return EncoderFile(path, config, state, geometry)


def load_encoder(path) -> tuple[Encoder, dict]:
    """(encoder in eval mode, config) from encoder.pt; InputError naming the file if it is not one."""
    file = read_encoder_file(path)
    return file.build(), file.config
