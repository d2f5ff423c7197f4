"""How the phantom draws a normal cell: the original drawing, or one calibrated on real cells.

``drawn`` (the default) is the phantom every result of docs/experiments.md sections 1-6
was obtained on. Measured beside the real normal cells of the PBC dataset
(experiments/phantom_fidelity.py, docs/experiments.md section 7) its cells are too small,
their nuclei smallest of all; segmented lobes hang on filaments thinner than real necks;
chromatin is darker; cytoplasm colour varies less than in real smears and drawn monocytes
lack the real ones' blue absorbance and granule texture.

``calibrated`` changes exactly those parameters, each towards the real cells' median as
that experiment measures it (the values beside each field); the phenotypes (vacuoles,
lobes, granulation) and the smear nuisance are the same. It is opt-in (``vexscreen
phantom --style calibrated``): the default stays the phantom the results were obtained on.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np


@dataclass(frozen=True)
class Style:
    """Parameters of a normal cell's drawing (sizes in pixels at 0.1 µm per pixel)."""

    name: str
    pn_radius: tuple = (60.0, 3.5)          # neutrophil radius, px: (mean, sd)
    pn_nucleus_scale: tuple = (1.22, 0.05)  # neutrophil nucleus size relative to the renderer's usual
    band_nucleus_gain: float = 1.0          # band nuclei on top of that
    mo_radius: tuple = (72.0, 5.0)
    mo_nucleus_scale: tuple = (1.0, 0.05)
    filament_width: float = 1.0             # x the lobe filament's half-width (0.8-1.3 px drawn)
    filament_density: float = 1.0           # x its stain density (0.45-0.6 of a lobe's drawn)
    chromatin: dict = field(default_factory=lambda: {"PN": 1.0, "MO": 1.0, "LY": 1.0})
    band_chromatin: float = 1.0             # bands on top of the neutrophil gain
    cytoplasm_od: dict = field(default_factory=dict)   # cell type -> RGB optical density of the cytoplasm
    cytoplasm_cell_sd: float = 0.0          # per-cell log-normal sd of the cytoplasm stain (0: none drawn)
    granules: dict = field(default_factory=lambda: {"PN": 1.0, "MO": 1.0, "LY": 1.0})  # x granule density
    granule_amplitude: dict = field(default_factory=lambda: {"PN": 1.0, "MO": 1.0, "LY": 1.0})  # x their stain
    granule_size: dict = field(default_factory=lambda: {"PN": 1.0, "MO": 1.0, "LY": 1.0})  # x their size

    def to_dict(self) -> dict:
        """The parameters as JSON has them (lists, floats): phantom.json compares them on resume."""
        d = {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}
        d["cytoplasm_od"] = {k: [round(float(x), 4) for x in v] for k, v in self.cytoplasm_od.items()}
        return d


DRAWN = Style("drawn")

#: Calibrated on the real normal cells of ../shared/data/wbc (docs/experiments.md section 7).
CALIBRATED = Style(
    "calibrated",
    pn_radius=(73.0, 4.5),            # real segmented neutrophils 166 µm², drawn 112: radius x 1.22
    pn_nucleus_scale=(1.18, 0.06),    # their nucleus follows the cell (N:C ratio already real, 0.36)
    band_nucleus_gain=1.14,           # real band nuclei 57 µm², drawn 35 (the cell grew x 1.33)
    mo_radius=(80.0, 6.0),            # real monocytes 201 µm², drawn 162: radius x 1.11
    mo_nucleus_scale=(1.17, 0.06),    # real monocyte nuclei 110 µm², drawn 65 (N:C 0.54 / 0.41)
    filament_width=6.0,               # real thinnest lobe bridge 1.3 µm; drawn filaments vanish
    filament_density=1.6,
    chromatin={"PN": 0.86, "MO": 0.93, "LY": 1.0},   # nucleus OD real / drawn 1.90 / 2.20 (MO 1.54 / 1.66)
    band_chromatin=0.94,                             # bands 1.87 / 2.31
    # cytoplasm colour (r, g, b optical density) under its granules; with them it measures as real
    # cytoplasm: PN .23 .35 .15, MO .39 .48 .13 (drawn PN .18 .31 .11, MO .28 .31 .03)
    cytoplasm_od={"PN": np.array([0.14, 0.20, 0.095], np.float32),
                  "MO": np.array([0.30, 0.31, 0.06], np.float32)},
    cytoplasm_cell_sd=0.25,           # real cytoplasm colour spreads 1.5-3.5 x the drawn
    # granularity (texture energy) real 0.20 PN / 0.19 MO, drawn 0.18 / 0.10. Monocytes: fewer,
    # larger, darker granules (the drawn ones overlap into an even tint) reach it. Neutrophils keep
    # fine granules, darker (0.15): coarse ones over a paler cytoplasm reach the real texture but
    # open pale gaps that join a vacuole into an irregular spot (VEXAS-sized vacuoles found in 43%
    # of cells, against 96% planted in real cells) or pass for one (19% of normal cells called)
    granules={"PN": 1.0, "MO": 1.2, "LY": 1.0},
    granule_amplitude={"PN": 2.0, "MO": 5.0, "LY": 1.0},
    granule_size={"PN": 1.0, "MO": 1.6, "LY": 1.0},
)


STYLES = {s.name: s for s in (DRAWN, CALIBRATED)}


def get_style(name) -> Style:
    """The style of this name (a :class:`Style` passes through)."""
    if isinstance(name, Style):
        return name
    try:
        return STYLES[name]
    except KeyError:
        raise ValueError(f"unknown phantom style {name!r}; choose one of {', '.join(STYLES)}") from None
