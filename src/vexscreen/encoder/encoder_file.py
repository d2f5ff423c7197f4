"""The encoder file (encoder.pt): format, version, integrity; save, read, load.

encoder.pt is a plain dict, so ``torch.load(path, weights_only=True)`` reads it
and a tampered file cannot run code:

* ``format``: ``FORMAT``; ``version``: ``VERSION`` (2: geometry as its own
  record, a SHA-256 of the content; version-1 files are refused, with the
  version this vexscreen reads);
* ``config``: plain values: ``backbone`` (a registry name), ``pooling`` (avg, max;
  cls for DinoBloom), ``dim``, ``geometry`` (``Geometry.to_dict``: full_size,
  field, crop, scale, and input_size for a backbone that takes one size only),
  ``normalisation`` (the mean/std inside the encoder, as its tensors hold them),
  ``weights`` (where the weights started: ``backbones.weights_record``, e.g.
  ``{"source": "imagenet", "file": "resnet18-f37072fd.pth", ...}``),
  ``vexscreen_version`` and what the writer adds (``training``: the settings,
  or None for an untrained baseline; ``best_epoch``, ``best_loss``, ...);
* ``state_dict``: the encoder's tensors (the normalisation's ``mean``/``std``
  included, so the rebuilt encoder normalises exactly as the saved one);
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
from .backbones import Encoder, build_backbone
from .config import Geometry
from .registry import REGISTRY

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


def _floats(values: torch.Tensor) -> list:
    """A float32 tensor as short plain floats that turn back into exactly the same float32 values."""
    out = []
    for v in values.detach().cpu().flatten().tolist():
        short = round(v, 6)
        out.append(short if torch.tensor(short, dtype=torch.float32).item() == v else v)
    return out


def normalisation(encoder) -> dict:
    """The preprocessing inside ``encoder``, as plain values: ``(x - mean) / std`` on RGB in [0, 1]."""
    return {"mean": _floats(encoder.mean), "std": _floats(encoder.std), "input": "RGB in [0, 1]"}


def save_encoder(path, encoder: Encoder, geometry: Geometry, info: dict | None = None) -> Path:
    """Write encoder.pt atomically: the encoder's tensors, its geometry, normalisation and
    initial weights (``encoder.weights``), plain ``info`` (e.g. ``training``, ``best_epoch``;
    it may override ``weights``) and the content's SHA-256."""
    if encoder.backbone not in REGISTRY:
        raise ValueError(f"the encoder does not say its backbone ({encoder.backbone!r}); use build_backbone")
    _check_geometry(encoder.backbone, geometry, path)
    config = {"backbone": encoder.backbone, "pooling": encoder.pooling, "dim": int(encoder.dim),
              "geometry": geometry.to_dict(), "normalisation": normalisation(encoder),
              "weights": getattr(encoder, "weights", None), "vexscreen_version": __version__, **(info or {})}
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
        """The encoder, weights loaded, in eval mode (a DinoBloom one: the timm ViT at its input size)."""
        encoder = build_backbone(self.config["backbone"], self.config["pooling"])
        try:
            encoder.load_state_dict(self.state_dict, strict=True)
        except RuntimeError as exc:
            raise InputError(f"weights do not fit backbone {self.config['backbone']}: "
                             f"{str(exc).splitlines()[0][:300]}", self.path) from None
        if self.config.get("weights") is not None:
            encoder.weights = self.config["weights"]
        return encoder.eval()


def _check_geometry(backbone: str, geometry: Geometry, path) -> None:
    """A backbone that takes one input size only is saved (and read) with that size as its geometry's."""
    size = REGISTRY[backbone].input_size
    if geometry.input_size != size:
        raise InputError(f"geometry input size {geometry.input_size} for {backbone}, which takes "
                         + (f"exactly {size} x {size} images" if size else "any size")
                         + f" (Geometry.for_backbone({backbone!r}) gives its geometry)", path)


def _check_normalisation(config: dict, state: dict, path) -> None:
    """The recorded normalisation is the one the tensors hold (so the rebuilt encoder uses it)."""
    recorded = config.get("normalisation")
    if not isinstance(recorded, dict) or "mean" not in state or "std" not in state:
        raise InputError("encoder file lacks its normalisation (mean/std)", path)
    for key in ("mean", "std"):
        try:
            same = torch.equal(torch.tensor(recorded.get(key), dtype=torch.float32).view_as(state[key]), state[key])
        except (TypeError, ValueError, RuntimeError):
            same = False
        if not same:
            raise InputError(f"normalisation {key} {recorded.get(key)} does not match the encoder's tensors", path)


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
    backbone = REGISTRY.get(config["backbone"]) if isinstance(config.get("backbone"), str) else None
    if backbone is None or config.get("pooling") not in backbone.poolings:
        raise InputError(f"unknown backbone/pooling {config.get('backbone')!r}/{config.get('pooling')!r}", path)
    if not isinstance(config.get("geometry"), dict):
        raise InputError("encoder file lacks its geometry", path)
    try:
        geometry = Geometry.from_dict(config["geometry"])
    except InputError as exc:
        raise InputError(f"bad geometry ({exc})", path) from None
    _check_geometry(backbone.name, geometry, path)
    _check_normalisation(config, state, path)
    for key, value in state.items():
        if value.is_floating_point() and not torch.isfinite(value).all():
            raise InputError(f"tensor {key} holds NaN/inf values", path)
    return EncoderFile(path, config, state, geometry)


def load_encoder(path) -> tuple[Encoder, dict]:
    """(encoder in eval mode, config) from encoder.pt; InputError naming the file if it is not one."""
    file = read_encoder_file(path)
    return file.build(), file.config
