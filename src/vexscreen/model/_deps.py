"""Every vexscreen API the reference model and screening depend on, imported in this one place.

The encoder, evaluation and scanner modules are being refactored in parallel;
when they move, only these lines change. Nothing else in ``vexscreen.model``
or ``vexscreen.screen`` imports from those packages.
"""
from __future__ import annotations

from .. import __version__ as VEXSCREEN_VERSION  # noqa: F401
from ..aggregation import BootstrapMedianAggregator  # noqa: F401
from ..data import file_sha256, load_encodings  # noqa: F401
from ..data.atomic import atomic_path  # noqa: F401
from ..data.scan import IMAGE_SUFFIXES, BadFile, ImageRecord, ScanResult  # noqa: F401
from ..evaluation.classifier import platt_svc  # noqa: F401
from ..evaluation.metrics import auc_permutation_p, binary_metrics  # noqa: F401
from ..evaluation.phenotype import patient_aggregates  # noqa: F401
from ..exceptions import InputError  # noqa: F401
from ..study import CELL_TYPE_NAMES, CELL_TYPES  # noqa: F401


def check_images(paths) -> list:
    """Decode every file as the scanner does: per path ``(w, h, mode, note)`` or the reason it is bad.

    The scanner's own checks (full decode, lossless RGB conversion policy; docs/scan.md),
    reached through one function so a patient folder's images pass exactly the same test.
    """
    from ..data.scan import _check_all

    return _check_all(list(paths), progress=False)


def encode_scan(encoder_path, scan, out_dir, **kwargs) -> dict:
    """``vexscreen.encoder.inference.encode_scan`` (torch is imported only when encoding)."""
    from ..encoder.inference import encode_scan as _encode_scan

    return _encode_scan(encoder_path, scan, out_dir, **kwargs)


def default_measure_fn():
    """The morphology package's measuring function ``(scan, out_dir) -> folder``, or None.

    ``vexscreen.morphology`` is built in parallel; until it lands, a model that uses
    measurements needs ``measure_fn`` passed explicitly.
    """
    try:
        from .. import morphology  # type: ignore[attr-defined]
    except ImportError:
        return None
    return getattr(morphology, "measure_scan", None)
