"""Training settings and image geometry: typed, validated in one place, importable without torch.

``TrainConfig`` holds every setting of ``train-encoder``; the study's (METHOD.md
Step 1) are the defaults, except the backbone. A field whose metadata has a
``help`` text is also a ``train-encoder`` option, ``--name-with-dashes``
(``option_fields``; the CLI is built from them). ``TrainConfig.validate`` (run
on construction and again by ``train_encoder``, as the dataclass is mutable)
checks every range and combination and raises ``InputError`` naming the flags.

``Geometry`` is how an encoder sees cells, from the training views to full-size
encoding: training writes it into encoder.pt, ``encode`` reads it back.
"""
from __future__ import annotations

import typing
from dataclasses import asdict, dataclass, field, fields

from ..exceptions import InputError
from .names import BACKBONE_NAMES, DEFAULT_BACKBONE, DEFAULT_FULL_SIZE, METHODS, POOLINGS
from .registry import check_weights, get_backbone_info

GEOMETRY_FIELDS = ("full_size", "field", "crop", "scale", "input_size")


@dataclass(frozen=True)
class Bounds:
    """The range of a numeric setting: ``low`` (excluded if ``low_open``) to ``high`` (None: no end).

    ``TrainConfig.validate`` checks every field against its bounds, and the ``train-encoder``
    option types are built from them, so a bad number is refused where it is parsed.
    """
    low: float
    high: float | None = None
    low_open: bool = False

    def contains(self, value) -> bool:
        return (value > self.low if self.low_open else value >= self.low) and (self.high is None or value <= self.high)

    def __str__(self) -> str:
        low, high = (int(x) if float(x).is_integer() else x for x in (self.low, self.high or 0))
        if self.high is not None:
            return f"between {low} and {high}"
        return f"> {low}" if self.low_open else f"at least {low}"


def _option(default, help: str, bounds: Bounds | None = None, **cli):
    """A dataclass field that is also a ``train-encoder`` option; ``bounds``: its range;
    ``cli``: extra argparse keywords."""
    return field(default=default, metadata={"help": help, "bounds": bounds, **cli})


def _setting(default, bounds: Bounds):
    """A dataclass field that is not a ``train-encoder`` option, with its range."""
    return field(default=default, metadata={"bounds": bounds})


AT_LEAST_0, AT_LEAST_1, ABOVE_0 = Bounds(0), Bounds(1), Bounds(0, low_open=True)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def check_views(crop: int, field: int | None = None, local_crop: int | None = None, n_local: int = 0,
                min_side: int = 1, backbone: str = "the backbone") -> None:
    """The view settings, alone and together (``min_side``: the backbone's smallest input side)."""
    if crop < min_side:
        raise InputError(f"--crop {crop} is below {backbone}'s minimum input side {min_side}")
    if field is not None and field < crop:
        raise InputError(f"--field {field} is smaller than --crop {crop}: views are cut from the field")
    if local_crop is not None and not min_side <= local_crop <= crop:
        raise InputError(f"--local-crop {local_crop} must be between {backbone}'s minimum input side "
                         f"{min_side} and --crop {crop}")
    if n_local < 0:
        raise InputError(f"--n-local {n_local} must be >= 0")
    if n_local and local_crop is None:
        raise InputError("--n-local needs --local-crop (the side of the local patches)")


@dataclass(frozen=True)
class Geometry:
    """How an encoder sees cells (pixels, before the backbone's own normalisation).

    * ``full_size``: the side every image is zero-padded to, centred, for the probe and
      ``encode`` (METHOD.md Step 1: 272);
    * ``field``: None = the whole image (the study); N = the views are cut from the centred
      N x N square, and ``encode`` sees that square;
    * ``crop``: the side of the training views (METHOD.md Step 1: 128);
    * ``scale``: every image is resized by this factor first, in training and in ``encode``;
    * ``input_size``: None = the backbone takes any side (the torchvision ones); N = it takes
      exactly N x N images (DinoBloom: 224), so ``full_size`` (and ``field``, if any) is N.

    What ``encode`` derives: ``side`` and ``oversize`` (see ``for_encoding``).
    """
    full_size: int = DEFAULT_FULL_SIZE
    field: int | None = None
    crop: int = 128
    scale: float = 1.0
    input_size: int | None = None

    def __post_init__(self):
        optional = tuple(n for n in ("field", "input_size") if getattr(self, n) is not None)
        for name in ("full_size", "crop") + optional:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InputError(f"{_flag(name)} must be a whole number >= 1, got {value!r}")
        if not isinstance(self.scale, (int, float)) or isinstance(self.scale, bool) or not self.scale > 0:
            raise InputError(f"--scale must be > 0, got {self.scale!r}")
        object.__setattr__(self, "scale", float(self.scale))  # 1 and 1.0 are one geometry
        check_views(self.crop, self.field)
        if self.input_size and (self.full_size != self.input_size or self.field not in (None, self.input_size)):
            raise InputError(f"--full-size {self.full_size}" + (f", --field {self.field}" if self.field else "")
                             + f": the backbone takes exactly {self.input_size} x {self.input_size} images, so "
                               f"the full size (and the field, if any) must be {self.input_size}")

    @property
    def side(self) -> int:
        """The side ``encode`` brings images to by default: the field, if trained on one, else full size."""
        return self.field if self.field else self.full_size

    @property
    def oversize(self) -> str:
        """What ``encode`` does by default to larger images: centre-crop to the field (or to a fixed
        input size), else pad all."""
        return "crop" if self.field or self.input_size else "pad"

    def for_encoding(self, full_size: int | None = None, oversize: str | None = None) -> tuple[int, str]:
        """(side, oversize) images are encoded at: the caller's choice, else ``side``/``oversize``
        (``FullSizeImages`` checks the oversize name). A fixed ``input_size`` allows that side only,
        and no ``pad`` (it would enlarge the input to the set's largest side)."""
        side, oversize = (self.side if full_size is None else int(full_size)), (oversize or self.oversize)
        if self.input_size and side != self.input_size:
            raise InputError(f"--full-size {side}: this encoder takes exactly {self.input_size} x "
                             f"{self.input_size} images")
        if self.input_size and oversize == "pad":
            raise InputError(f"--oversize pad: this encoder takes exactly {self.input_size} x {self.input_size} "
                             "images, and pad would enlarge the input to the set's largest side; use crop "
                             "(its default) or resize")
        return side, oversize

    def to_dict(self) -> dict:
        """Plain values; ``input_size`` only when set (files of backbones taking any side keep their keys)."""
        values = asdict(self)
        if values["input_size"] is None:
            del values["input_size"]
        return values

    @classmethod
    def for_backbone(cls, backbone: str, **values) -> Geometry:
        """The geometry of ``backbone`` (registry defaults: full size 272 or its fixed input side,
        its crop, its ``input_size``), with ``values`` over them."""
        info = get_backbone_info(backbone)
        return cls(**{"full_size": info.default_full_size, "crop": info.default_crop,
                      "input_size": info.input_size, **values})

    @classmethod
    def from_dict(cls, values: dict) -> Geometry:
        """The geometry recorded in an encoder file; InputError if a key is unknown or a value bad."""
        unknown = sorted(set(values) - set(GEOMETRY_FIELDS))
        if unknown:
            raise InputError(f"unknown geometry key(s) {unknown}")
        return cls(**values)


@dataclass
class TrainConfig:
    """Every setting of ``train-encoder``; the study's (METHOD.md Step 1) are the defaults, except
    the backbone (ResNet18: the study's VGG16 and larger nets are slow on a CPU).

    ``pooling``, ``crop`` and ``full_size`` left None take the backbone's defaults from the
    registry (avg, 128, 272; DinoBloom: cls, 126, 224), filled in by ``validate``."""
    backbone: str = _option(DEFAULT_BACKBONE, "backbone by name (`vexscreen backbones` lists them): torchvision "
                                              "CNNs without their top, or DinoBloom ViTs", choices=BACKBONE_NAMES)
    pooling: str | None = _option(None, "embedding from the last feature map: avg or max pooling (torchvision "
                                        "backbones; default avg) or cls, the CLS token (DinoBloom's only)",
                                  choices=POOLINGS)
    method: str = _option("nnclr", "nnclr: the study's loss (SimCLR-like at queue 0); simclr: lightly's NT-Xent",
                          choices=METHODS)
    queue_size: int = _option(0, "NNCLR queue, >= 0 (0: the study's; > 0: nearest-neighbour positives)",
                              AT_LEAST_0, metavar="N")
    temperature: float = _option(0.07, "softmax temperature of the loss, > 0", ABOVE_0, metavar="T")
    lr: float = _option(1e-5, "Adam learning rate, > 0", ABOVE_0)
    batch_size: int = _option(8, "images per batch, at least 2 (contrastive negatives: the rest of the batch)",
                              Bounds(2), metavar="N")
    epochs: int = _option(100, "maximum epochs, at least 1; early stopping may end sooner", AT_LEAST_1,
                          metavar="N")
    seed: int = _option(43, "seed of the initialisation, the views and the batches", Bounds(0, 2 ** 32 - 1),
                        metavar="N")
    crop: int | None = _option(None, "view crop side (px; default 128, DinoBloom 126: a multiple of its patch, 14)",
                               AT_LEAST_1, metavar="PX")
    color_jitter: float = _option(0.0, "SimCLR colour distortion of strength S >= 0 in the views (0: the study's "
                                       "views)", AT_LEAST_0, metavar="S")
    scale: float = _option(1.0, "resize every image by this factor > 0 first (also applied by encode)", ABOVE_0,
                           metavar="F")
    local_crop: int | None = _option(None, "make the second view a smaller N x N patch (local-to-global pairs; "
                                           "by default both views are --crop)", AT_LEAST_1, metavar="N")
    n_local: int = _option(0, "keep both views whole and add K >= 0 --local-crop patches per cell (multi-crop)",
                           AT_LEAST_0, metavar="K")
    dense: float = _option(0.0, "weight W in [0, 1] of a DenseCL-style term on the feature maps: every region "
                                "of the cell described, not only the whole (0: off, as in the study)",
                           Bounds(0, 1), metavar="W")
    field: int | None = _option(None, "cut the views from the centred N x N square, where the analyser puts the "
                                      "cell, and encode that square (by default the whole image, as in the "
                                      "study)", AT_LEAST_1, metavar="N")
    full_size: int | None = _option(None, f"full-size side (px) for the probe and encode (default "
                                          f"{DEFAULT_FULL_SIZE}; DinoBloom: its input side, 224)", AT_LEAST_1,
                                    metavar="PX")
    head_hidden: int = _setting(128, AT_LEAST_1)
    head_out: int = _setting(128, AT_LEAST_1)
    patience: int = _option(5, "early-stopping patience (epochs), >= 0", AT_LEAST_0, metavar="N")
    lr_patience: int = _setting(3, AT_LEAST_0)
    lr_floor: float = _option(1e-5, "LR halving stops here, >= 0", AT_LEAST_0, metavar="LR")
    min_delta: float = _setting(1e-3, AT_LEAST_0)
    workers: int = _option(2, "DataLoader worker processes (0: load in the main process)", AT_LEAST_0,
                           metavar="N")
    max_images: int | None = _option(None, "train on at most N >= 2 images (sorted order, evenly spaced)",
                                     Bounds(2), metavar="N")
    weights: str | None = _option(None, "start from: imagenet (torchvision's ImageNet weights by name, from "
                                        "$TORCH_HOME/hub/checkpoints or downloaded if online), a local torchvision "
                                        "state dict, or the DinoBloom checkpoint for dinobloom-*; none: random; "
                                        "not needed on --resume", metavar="imagenet|FILE")

    def __post_init__(self):
        self.validate()

    @property
    def geometry(self) -> Geometry:
        return Geometry(self.full_size, self.field, self.crop, self.scale, get_backbone_info(self.backbone).input_size)

    def validate(self) -> TrainConfig:
        """Fill the backbone's defaults where None; check every setting; InputError naming the
        ``train-encoder`` flag. Returns self."""
        for name, choices in (("backbone", BACKBONE_NAMES), ("method", METHODS)):
            if getattr(self, name) not in choices:
                raise InputError(f"unknown {_flag(name)} {getattr(self, name)!r}; choose one of {', '.join(choices)}")
        self._fill_defaults()
        for f in fields(self):  # the ranges (batch size >= 2: the loss needs negatives)
            bounds, value = f.metadata.get("bounds"), getattr(self, f.name)
            if bounds is not None and value is not None and not bounds.contains(value):
                raise InputError(f"{_flag(f.name)} must be {bounds}, got {value}")
        self._validate_views()
        return self

    def _fill_defaults(self) -> None:
        """None -> the backbone's default (registry): pooling, crop, full size."""
        info = get_backbone_info(self.backbone)
        for name, default in (("pooling", info.default_pooling), ("crop", info.default_crop),
                              ("full_size", info.default_full_size)):
            if getattr(self, name) is None:
                setattr(self, name, default)

    def _validate_backbone(self) -> None:
        """Pooling, weights and view sides the backbone can take."""
        info = get_backbone_info(self.backbone)
        if self.pooling not in info.poolings:
            raise InputError(f"--pooling {self.pooling!r} does not apply to {self.backbone}: it takes "
                             f"{' or '.join(info.poolings)}")
        check_weights(self.backbone, self.weights)
        side = info.input_size
        if side and (self.full_size != side or self.field not in (None, side)):
            raise InputError(f"{self.backbone} takes exactly {side} x {side} images: --full-size (and --field, if "
                             f"given) must be {side}, got {self.full_size}" + (f" and {self.field}" if self.field else ""))
        step = info.size_multiple
        for name in ("crop", "local_crop"):
            value = getattr(self, name)
            if step > 1 and isinstance(value, int) and value % step:
                raise InputError(f"{_flag(name)} {value} is not a multiple of {step}, {self.backbone}'s patch size "
                                 f"(e.g. {max(step, value // step * step)})")

    def _validate_views(self) -> None:
        self._validate_backbone()
        min_side = get_backbone_info(self.backbone).min_size
        geometry = self.geometry  # full size, scale, field >= crop, a fixed input size
        check_views(self.crop, self.field, self.local_crop, self.n_local, min_side, self.backbone)
        if geometry.full_size < min_side:
            raise InputError(f"--full-size {self.full_size} is below {self.backbone}'s minimum input side {min_side}")
        if self.n_local and self.queue_size > 0:
            raise InputError("--n-local works with --queue-size 0 only (the queue would be updated once per pair)")
        if self.dense and self.local_crop is not None:
            raise InputError("--dense pairs locations of two views of the same size: not with --local-crop")


def option_fields() -> list:
    """The ``TrainConfig`` fields that are ``train-encoder`` options, with their resolved types:
    [(field, type)], type int, float or str (None allowed where the default is None); a
    field's ``metadata``: ``help``, ``bounds`` (its range, or None) and argparse keywords."""
    hints = typing.get_type_hints(TrainConfig)
    out = []
    for f in fields(TrainConfig):
        if "help" in f.metadata:
            kind = [t for t in typing.get_args(hints[f.name]) if t is not type(None)] or [hints[f.name]]
            out.append((f, kind[0]))
    return out
