"""vexscreen: screen for VEXAS syndrome from single-leukocyte blood-smear images.

Pipeline (each stage importable on its own):
data -> encoder -> encodings -> aggregation -> evaluation/diagnosis -> report.
Method: Chabrun, Lacombe et al., Clin Chem Lab Med 2023 (doi:10.1515/cclm-2022-1283).
"""
__version__ = "0.1.0"

import os as _os

# Before torch (and its OpenMP) is loaded by any stage: with the default spinning wait policy, two
# torch threads on a 2-core machine where another process is busy run ~20x slower (measured: resnet18
# forward 1.2 s vs 0.06 s); passive waiting removes that and costs little on an idle machine.
# Set here, once, so the CLI, notebooks, tests and benchmarks all get it by importing vexscreen.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .data import EncodingSet, load_encodings, save_encodings  # noqa: E402
from .exceptions import InputError  # noqa: E402

__all__ = ["EncodingSet", "InputError", "load_encodings", "save_encodings", "__version__"]
