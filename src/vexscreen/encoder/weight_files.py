"""Reading weight files safely: ``torch.load(weights_only=True)``, bad files as ``InputError``.

Shared by the ImageNet (pretrained.py) and DinoBloom (dinobloom.py) loaders, so
every checkpoint a user hands vexscreen is read the same way: tensors and plain
containers only, never arbitrary pickled objects.
"""
from __future__ import annotations

from pathlib import Path

import torch

from ..exceptions import InputError


def read_weights(path) -> object:
    """The object saved in ``path`` (on the CPU), read with ``weights_only=True``."""
    path = Path(path)
    if not path.is_file():
        raise InputError("weights file not found", path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types (pickle, zip, runtime) for a bad file
        raise InputError(f"cannot read as a torch weights file ({type(exc).__name__}: {str(exc)[:200]})",
                         path) from None


def check_tensors(state: dict, path, what: str = "state dict") -> dict:
    """``state`` itself, once every value is known to be a tensor (else an ``InputError``)."""
    bad = [k for k, v in state.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise InputError(f"not a {what}: {len(bad)} value(s) are not tensors (e.g. {bad[0]!r})", path)
    return state
