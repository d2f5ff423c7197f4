"""ImageNet weights by name for the five torchvision backbones (issue 13, METHOD.md Step 1).

The study starts every encoder from ImageNet weights. vexscreen takes them from
torchvision's own weights API (``torchvision.models.get_model_weights``): the
URL, file name and preprocessing below are read from it, not copied by hand.

Variant: ``IMAGENET1K_V1`` for every backbone, the classic supervised ImageNet
training, the nearest to the Keras ``weights="imagenet"`` networks of the study.
For resnet50 torchvision's *default* is ``IMAGENET1K_V2`` (``resnet50-11ad3fa6.pth``,
80.9 % top-1 against V1's 76.1 %), trained with torchvision's newer recipe (long
schedule, heavy augmentation, label smoothing, EMA) and evaluated at resize 232.
It is a better classifier but not the network the study started from, so
vexscreen keeps V1 (``resnet50-0676ba61.pth``). (vgg16 also has
``IMAGENET1K_FEATURES``, Caffe weights with 0-255 BGR-mean input; not used.)

Preprocessing: torchvision's ImageNet mean/std, ``(0.485, 0.456, 0.406)`` /
``(0.229, 0.224, 0.225)``, for all but inception_v3, whose V1 weights are
Google's original port: torchvision builds it with ``transform_input=True``,
which turns the ImageNet-normalised input back into ``(x - 0.5) / 0.5``. The
spec states that effective preprocessing, mean = std = 0.5, so a model built
with ``transform_input=False`` (as vexscreen's is) and normalised with the spec
sees exactly what torchvision's would.

Input size: torchvision evaluates at 224 (resize 256, crop 224), inception_v3 at
299 and efficientnet_b4 at 380 (``native_size``). vexscreen does not resize
cells to those sizes: all five networks are convolutional with global pooling,
so they take any input of at least ``min_size``, and vexscreen feeds its own
images as the study did: 128 x 128 training crops and full-size images
zero-padded to 272 x 272 (METHOD.md Step 1). Resizing would change the apparent
size of a cell (1.1x for 299, 1.4x for 380) and the compute, for a match with
ImageNet's object scale that blood cells do not have anyway. ``native_size`` is
kept for reference and for benchmarks.

Files: torchvision's cache, ``torch.hub.get_dir()/checkpoints/<file>`` (i.e.
``$TORCH_HOME/hub/checkpoints``). A file there is used; otherwise it is
downloaded (torch.hub's downloader, as ``Weights.get_state_dict`` does) when the
host answers within ``CONNECT_TIMEOUT`` seconds; otherwise an ``InputError``
names the file and the folder to put it in, so an offline machine fails in
seconds instead of hanging. The file name ends in the first hex digits of its
SHA-256 (``resnet18-f37072fd.pth``); vexscreen checks them on every load (torch
only checks at download time) and refuses a file that does not match.
"""
from __future__ import annotations

import logging
import os
import re
import socket
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import getproxies

import torch
from torchvision.models import get_model_weights

from ..data.atomic import file_sha256
from ..exceptions import InputError
from .registry import HALF, REGISTRY, list_backbones
from .weight_files import check_tensors, read_weights

logger = logging.getLogger(__name__)

VARIANT = "IMAGENET1K_V1"
CONNECT_TIMEOUT = 3.0           # seconds to wait for the download host before calling the machine offline
HASH_REGEX = re.compile(r"-([a-f0-9]*)\.")   # torch.hub's: the hash prefix in ``name-<sha256 prefix>.ext``
INCEPTION_MEAN = INCEPTION_STD = HALF


@dataclass(frozen=True)
class PretrainedSpec:
    """Registry data for one torchvision backbone with ImageNet weights."""
    name: str                 # vexscreen's backbone name (= torchvision's model name)
    weights: str              # torchvision's enum member, e.g. "ResNet50_Weights.IMAGENET1K_V1"
    url: str                  # where torchvision downloads the file from
    dim: int                  # encoding size after global pooling
    min_size: int             # smallest input side the network accepts
    native_size: int          # torchvision's evaluation crop (224, 299 or 380); vexscreen does not resize to it
    resize_size: int          # torchvision's evaluation resize before that crop
    interpolation: str
    mean: tuple
    std: tuple
    top1: float               # ImageNet-1K top-1 accuracy torchvision reports for these weights
    source: str = "ImageNet-1K (torchvision weights API; $TORCH_HOME/hub/checkpoints, downloaded if online)"

    @property
    def file(self) -> str:
        """The file name torchvision gives the weights, e.g. ``resnet18-f37072fd.pth``."""
        return os.path.basename(urlparse(self.url).path)

    @property
    def sha256_prefix(self) -> str:
        """The hex digits after the last-but-extension dash: the start of the file's SHA-256."""
        match = HASH_REGEX.search(self.file)
        return match.group(1) if match else ""

    def as_dict(self) -> dict:
        return {**asdict(self), "file": self.file, "sha256_prefix": self.sha256_prefix}


def _spec(name: str) -> PretrainedSpec:
    weights = get_model_weights(name)[VARIANT]
    tf = weights.transforms()
    mean, std = tuple(tf.mean), tuple(tf.std)
    if name == "inception_v3":  # torchvision's transform_input=True for these weights (see module docstring)
        mean, std = INCEPTION_MEAN, INCEPTION_STD
    dim, min_size = REGISTRY[name].dim, REGISTRY[name].min_size   # encoding size, smallest input side
    return PretrainedSpec(
        name=name, weights=f"{type(weights).__name__}.{VARIANT}", url=weights.url, dim=dim, min_size=min_size,
        native_size=int(tf.crop_size[0]), resize_size=int(tf.resize_size[0]),
        interpolation=tf.interpolation.value, mean=mean, std=std,
        top1=float(weights.meta["_metrics"]["ImageNet-1K"]["acc@1"]))


PRETRAINED_SPECS: dict[str, PretrainedSpec] = {name: _spec(name) for name in list_backbones("torchvision")}


def get_pretrained_spec(backbone: str) -> PretrainedSpec:
    try:
        return PRETRAINED_SPECS[backbone]
    except KeyError:
        raise InputError(f"no ImageNet weights for backbone {backbone!r}; "
                         f"they exist for {', '.join(PRETRAINED_SPECS)}") from None


def weights_dir() -> Path:
    """torchvision's cache folder: ``torch.hub.get_dir()/checkpoints`` (``$TORCH_HOME/hub/checkpoints``)."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def weights_path(backbone: str) -> Path:
    """Where the ImageNet weights of ``backbone`` are (or will be) in torchvision's cache."""
    return weights_dir() / get_pretrained_spec(backbone).file


def check_sha256_prefix(path, prefix: str, url: str = "") -> None:
    """Refuse ``path`` unless its SHA-256 starts with ``prefix`` (torch.hub's ``check_hash`` rule)."""
    if not prefix:
        return
    digest = file_sha256(path)
    if not digest.startswith(prefix):
        again = f" from {url}" if url else ""
        raise InputError(f"SHA-256 {digest[:16]}... does not start with {prefix} as the file name says: a damaged "
                         f"or different file; delete it and download it again{again}", path)


def _connect_target(url: str) -> tuple[str, int]:
    """The host a download of ``url`` first connects to: the HTTPS proxy if one is set, else the URL's host."""
    proxy = getproxies().get(urlparse(url).scheme)
    if proxy and "://" not in proxy:
        proxy = f"http://{proxy}"
    parts = urlparse(proxy or url)
    return parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)


def reachable(url: str, timeout: float | None = None) -> bool:
    """Whether the host serving ``url`` accepts a TCP connection within ``timeout`` seconds.

    Name resolution has no timeout of its own, so the attempt runs in a daemon
    thread and is abandoned after ``timeout``: the answer comes in bounded time
    even on a machine whose DNS hangs.
    """
    timeout = CONNECT_TIMEOUT if timeout is None else timeout
    host, port = _connect_target(url)
    result = []

    def attempt():
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            result.append(True)
        except OSError as exc:
            logger.debug("cannot reach %s:%s (%s)", host, port, exc)

    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(result)


def _missing(spec: PretrainedSpec, folder: Path, why: str) -> InputError:
    return InputError(f"ImageNet weights for {spec.name} not available ({why}): put the file {spec.file} "
                      f"(from {spec.url}) in the folder {folder}")


def download(spec: PretrainedSpec, folder: Path) -> Path:
    """Download ``spec``'s file into ``folder`` (hash-checked by torch.hub), or raise an ``InputError``."""
    if not reachable(spec.url):
        raise _missing(spec, folder, f"not in the cache and {urlparse(spec.url).hostname} cannot be reached: "
                                     "offline?")
    path = folder / spec.file
    try:
        folder.mkdir(parents=True, exist_ok=True)
        logger.info("downloading %s to %s", spec.url, path)
        torch.hub.download_url_to_file(spec.url, str(path), hash_prefix=spec.sha256_prefix or None,
                                       progress=False)
    except (OSError, RuntimeError) as exc:  # URLError/HTTPError are OSErrors; a hash mismatch is a RuntimeError
        raise _missing(spec, folder, f"download failed: {type(exc).__name__}: {str(exc)[:200]}") from None
    return path


def imagenet_state_dict(backbone: str, download_if_missing: bool = True) -> dict:
    """The ImageNet state dict of torchvision's ``backbone`` (top included, as torchvision ships it).

    From torchvision's cache, else downloaded there (when ``download_if_missing``
    and the machine is online); the SHA-256 prefix in the file name is checked
    and the file read with ``weights_only=True``.
    """
    spec = get_pretrained_spec(backbone)
    folder = weights_dir()
    path = folder / spec.file
    if not path.is_file():
        if not download_if_missing:
            raise _missing(spec, folder, "not in the cache")
        path = download(spec, folder)
    check_sha256_prefix(path, spec.sha256_prefix, spec.url)
    state = read_weights(path)
    if not isinstance(state, dict):
        raise InputError("not a state dict (a mapping of parameter names to tensors)", path)
    return check_tensors(state, path)
