"""Which real normal cells (../shared/data/wbc) a rule was chosen on, in one place.

The vacuole operating point was chosen on every 2nd neutrophil image by file name, from
the first (`vacuole_rules.py`); the lobe rules on every 2nd band or segmented neutrophil
the same way (docs/morphology.md). The other half is held out, and its rate is the honest
one. `measure_validation.py` and `vacuole_rules.py` both split by these functions.
"""
from __future__ import annotations

from pathlib import Path

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def image_names(folder: Path) -> list[str]:
    """The image file names of ``folder``, sorted: the order the halves are taken in."""
    return sorted(p.name for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def rule_half(names) -> set:
    """The names a rule was chosen on: every 2nd in sorted order, from the first."""
    return set(sorted(names)[::2])
