"""Cell measurements a haematologist reads: masks, lobes, granularity, vacuoles (issue 11).

One building block per module:

* :mod:`.stain`: glass colour and optical density;
* :mod:`.binary`: fast disc morphology;
* :mod:`.segment`: masks of the centred leukocyte, nucleus and cytoplasm, red cells
  removed, and the quality flag; :data:`DEFAULT_PIXEL_SIZE_UM` for CellaVision DM96;
* :mod:`.calibration`: the red-cell diameters the default pixel size comes from;
* :mod:`.nucleus`: lobes, bridges, pseudo-Pelger, spikes;
* :mod:`.vacuoles`: the vacuole detector and its operating point;
* :mod:`.measure`: the fixed measurement vector of one cell;
* :mod:`.run`: a whole scan -> measurements.csv + a standardised encoding set.
"""
from .measure import COLUMNS, MEASUREMENTS, measure_cell, measure_masks
from .run import measure_file, measure_scan, standardise
from .segment import DEFAULT_PIXEL_SIZE_UM, QUALITY_FLAGS, CellMasks, segment_cell
from .vacuoles import DEFAULT_PARAMS, Vacuole, VacuoleParams, detect_vacuoles

__all__ = ["COLUMNS", "MEASUREMENTS", "measure_cell", "measure_masks", "measure_file", "measure_scan",
           "standardise", "DEFAULT_PIXEL_SIZE_UM", "QUALITY_FLAGS", "CellMasks", "segment_cell",
           "DEFAULT_PARAMS", "Vacuole", "VacuoleParams", "detect_vacuoles"]
