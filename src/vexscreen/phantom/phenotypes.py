"""Group phenotypes: how a patient's group shapes the morphology of its cells.

Three levels of randomness, each from its own generator so that a cell is a
pure function of (seed, cell type, patient, sample, cell index):

* **patient** (:func:`patient_phenotype`): the fractions of affected cells,
  drawn once per patient from its group's ranges (VEXAS: vacuoles in 20-60% of
  neutrophils and monocytes; MDS: pseudo-Pelger and hypogranular neutrophils;
  UBA1-WT: toxic granulation, no vacuoles). Every group, and the ``null``
  cohort, shares the same *baseline*: the odd small vacuole, band or toxic cell
  seen in any smear, so no single vacuole gives the answer away.
* **smear** (:func:`smear_nuisance`): stain shift, background tint and red-cell
  density, shared by every cell of a sample (a smear is stained once) and
  independent of the group.
* **cell** (:func:`cell_spec`): the cell's own morphology and nuisance.

Lymphocytes carry no disease signal in any group (the study's negative control).
"""
from __future__ import annotations

import zlib
from dataclasses import asdict, dataclass

import numpy as np

from ..study import DIAGNOSIS_GROUPS, ENCODER_TEST_GROUPS  # noqa: F401  (ENCODER_TEST_GROUPS re-exported)
from .render import CellSpec
from .style import DRAWN, Style, get_style

GROUPS = DIAGNOSIS_GROUPS
TYPE_IDS = {"PN": 1, "MO": 2, "LY": 3}

# stream ids: each use of randomness gets its own generator
_PATIENT, _SMEAR, _CELL, _RENDER, _ENC = 11, 12, 13, 14, 15


def stable_id(text: str) -> int:
    """A stable (process- and run-independent) integer for a name: CRC-32 of its UTF-8 bytes."""
    return zlib.crc32(str(text).encode("utf-8"))


def generator(*key: int) -> np.random.Generator:
    return np.random.default_rng([int(k) for k in key])


@dataclass(frozen=True)
class PatientPhenotype:
    """Fractions of a patient's cells with each feature (recorded as ``pheno_*`` in truth.csv)."""

    vacuole_fraction: float = 0.02       # PN cells with >= 1 vacuole
    mo_vacuole_fraction: float = 0.12    # MO cells with >= 1 vacuole (normal monocytes have a few)
    vacuole_count_mean: float = 0.0      # extra vacuoles per vacuolated cell (Poisson mean), beyond 1
    vacuole_radius: float = 2.8          # mean vacuole radius, px
    hyposeg_fraction: float = 0.03       # PN pseudo-Pelger (1-2 round lobes)
    hypogran_fraction: float = 0.03      # PN granulation none/low
    toxic_fraction: float = 0.03         # PN granulation high (toxic)
    inclusion_fraction: float = 0.05     # MO phagocytic inclusions

    def to_dict(self, prefix="pheno_") -> dict:
        return {prefix + k: round(v, 4) for k, v in asdict(self).items()}


BASELINE = PatientPhenotype()


def patient_phenotype(group: str, patient: str, seed: int, null: bool = False) -> PatientPhenotype:
    """The patient's phenotype: baseline for ``null`` and unknown groups, else drawn from the group's ranges."""
    if null:
        return BASELINE
    rng = generator(seed, _PATIENT, stable_id(patient))
    b = BASELINE
    if group == "VEXAS":
        f = rng.uniform(0.2, 0.6)
        return PatientPhenotype(
            vacuole_fraction=f, mo_vacuole_fraction=min(0.9, f * rng.uniform(0.9, 1.3)),
            vacuole_count_mean=rng.uniform(0.5, 2.0), vacuole_radius=rng.uniform(4.0, 6.2),
            hyposeg_fraction=rng.uniform(b.hyposeg_fraction, 0.12),
            hypogran_fraction=rng.uniform(b.hypogran_fraction, 0.1),
            toxic_fraction=b.toxic_fraction, inclusion_fraction=b.inclusion_fraction)
    if group == "MDS":
        return PatientPhenotype(
            hyposeg_fraction=rng.uniform(0.15, 0.5), hypogran_fraction=rng.uniform(0.15, 0.5))
    if group == "UBA1-WT":
        return PatientPhenotype(
            toxic_fraction=rng.uniform(0.2, 0.6), inclusion_fraction=rng.uniform(0.08, 0.2))
    return BASELINE


def smear_nuisance(sample: str, seed: int) -> dict:
    """Stain and smear parameters shared by every cell of one sample (independent of the group)."""
    rng = generator(seed, _SMEAR, stable_id(sample))
    return smear_from_rng(rng)


def smear_from_rng(rng: np.random.Generator) -> dict:
    bluish = rng.random() < 0.15
    return dict(
        stain_hue=round(float(rng.normal(0, 4.0)), 3),
        stain_saturation=round(float(np.clip(rng.normal(1.0, 0.08), 0.75, 1.25)), 4),
        stain_brightness=round(float(np.clip(rng.normal(1.0, 0.025), 0.93, 1.06)), 4),
        stain_nucleus=round(float(np.clip(rng.normal(1.0, 0.08), 0.8, 1.2)), 4),
        stain_cytoplasm=round(float(np.clip(rng.normal(1.0, 0.1), 0.75, 1.25)), 4),
        background_tint=round(float(rng.uniform(0.3, 0.8) if bluish else rng.uniform(0.0, 0.1)), 4),
        rbc_density=round(float(rng.uniform(0.3, 0.55)), 4),
    )


def _cell_nuisance(rng) -> dict:
    return dict(
        angle=round(float(rng.uniform(0, 360)), 2),
        size_jitter=round(float(np.clip(rng.normal(1.0, 0.05), 0.85, 1.15)), 4),
        blur_sigma=round(float(rng.uniform(0.3, 1.1)), 3),
        noise_sigma=round(float(rng.uniform(1.0, 2.5)), 3),
        jpeg_quality=int(rng.integers(85, 96)),
    )


def _pn_lobes(rng) -> tuple[str, int]:
    """Normal neutrophil segmentation: some bands, mostly 2-4 lobes."""
    if rng.random() < 0.08:
        return "band", 1
    return "segmented", int(rng.choice([2, 3, 4, 5, 6], p=[0.22, 0.45, 0.24, 0.07, 0.02]))


def _vacuoles(rng, fraction, pheno: PatientPhenotype, vexas_like: bool) -> tuple[int, float]:
    if rng.random() >= fraction:
        return 0, 0.0
    if vexas_like:
        return 1 + int(rng.poisson(pheno.vacuole_count_mean)), round(float(pheno.vacuole_radius), 3)
    return 1 + int(rng.random() < 0.3), round(float(rng.uniform(2.3, 3.3)), 3)


def _sizes(rng, cell_type: str, style: Style | str) -> dict:
    """A neutrophil's or monocyte's radius and nucleus scale, as the style draws them."""
    style = get_style(style)
    (r, rsd), (n, nsd) = ((style.pn_radius, style.pn_nucleus_scale) if cell_type == "PN"
                          else (style.mo_radius, style.mo_nucleus_scale))
    return dict(cell_radius=round(float(rng.normal(r, rsd)), 2),
                nucleus_scale=round(float(rng.normal(n, nsd)), 3))


def is_normal_cell(spec: CellSpec, nucleus_shape: str | None = None) -> bool:
    """A cell as a normal donor's of its kind: no vacuole, no inclusion, and for neutrophils normal
    granulation and (if given) this nucleus shape; what the phantom's drawing is compared to real
    normal cells on (experiments/phantom_fidelity.py, style_calibration.py)."""
    if spec.n_vacuoles or spec.n_inclusions:
        return False
    return spec.cell_type != "PN" or (spec.granulation == "normal"
                                      and nucleus_shape in (None, spec.nucleus_shape))


def cell_spec(cell_type: str, pheno: PatientPhenotype, smear: dict, rng: np.random.Generator,
              style: Style | str = DRAWN) -> CellSpec:
    """Draw one cell's spec from its patient's phenotype, its smear and its own generator."""
    vexas_like = pheno.vacuole_count_mean > 0
    common = dict(cell_type=cell_type, **smear, **_cell_nuisance(rng))
    if cell_type == "PN":
        if rng.random() < pheno.hyposeg_fraction:
            shape, lobes = "pelger", int(rng.choice([1, 2], p=[0.3, 0.7]))
        else:
            shape, lobes = _pn_lobes(rng)
        u = rng.random()
        if u < pheno.hypogran_fraction:
            gran = str(rng.choice(["none", "low"]))
        elif u < pheno.hypogran_fraction + pheno.toxic_fraction:
            gran = "high"
        else:
            gran = "normal"
        nv, vr = _vacuoles(rng, pheno.vacuole_fraction, pheno, vexas_like)
        return CellSpec(**_sizes(rng, "PN", style), nucleus_shape=shape, n_lobes=lobes, granulation=gran,
                        n_vacuoles=nv, vacuole_radius=vr, **common)
    if cell_type == "MO":
        nv, vr = _vacuoles(rng, pheno.mo_vacuole_fraction, pheno, vexas_like)
        ni = int(rng.integers(1, 3)) if rng.random() < pheno.inclusion_fraction else 0
        return CellSpec(**_sizes(rng, "MO", style),
                        nucleus_shape=str(rng.choice(["kidney", "folded"], p=[0.6, 0.4])), n_lobes=1,
                        granulation=str(rng.choice(["low", "normal"], p=[0.3, 0.7])),
                        n_vacuoles=nv, vacuole_radius=vr, n_inclusions=ni, **common)
    if cell_type == "LY":
        return _ly_spec(rng, common, large=rng.random() < 0.25, grains=None,
                        blebs=int(rng.integers(1, 4)) if rng.random() < 0.08 else 0)
    raise ValueError(f"unknown cell type {cell_type!r}")


def _ly_spec(rng, common, large: bool, grains, blebs: int) -> CellSpec:
    if grains is None:
        grains = large and rng.random() < 0.3
    return CellSpec(cell_radius=round(float(rng.normal(55, 3.0) if large else rng.normal(45, 2.5)), 2),
                    nucleus_scale=round(float(rng.normal(1.0, 0.04)), 3), nucleus_shape="round",
                    n_lobes=1, granulation="high" if grains else "none", large=bool(large),
                    blebs=blebs, **common)


def encoder_test_spec(cell_type: str, group: str, rng: np.random.Generator,
                      style: Style | str = DRAWN) -> CellSpec:
    """A cell of known morphology for the encoder test set (METHOD.md Step 2a groups)."""
    common = dict(cell_type=cell_type, **smear_from_rng(rng), **_cell_nuisance(rng))
    if cell_type == "PN":
        seg, gr = group.split("-")
        if seg == "LS":
            shape, lobes = [("pelger", 1), ("pelger", 2), ("band", 1), ("segmented", 2)][int(rng.integers(4))]
        elif seg == "NS":
            shape, lobes = "segmented", int(rng.integers(3, 5))
        else:
            shape, lobes = "segmented", int(rng.integers(5, 7))
        gran = {"LG": str(rng.choice(["none", "low"])), "NG": "normal", "HG": "high"}[gr]
        return CellSpec(**_sizes(rng, "PN", style), nucleus_shape=shape, n_lobes=lobes, granulation=gran,
                        **common)
    if cell_type == "MO":
        ni = int(rng.integers(1, 4)) if group == "INCLUSIONS" else 0
        return CellSpec(**_sizes(rng, "MO", style),
                        nucleus_shape=str(rng.choice(["kidney", "folded"], p=[0.6, 0.4])), n_lobes=1,
                        granulation=str(rng.choice(["low", "normal"], p=[0.3, 0.7])),
                        n_inclusions=ni, **common)
    if cell_type == "LY":
        if group == "SMALLMAT":
            return _ly_spec(rng, common, large=False, grains=False, blebs=0)
        if group == "BLEBS":
            return _ly_spec(rng, common, large=rng.random() < 0.3, grains=False, blebs=int(rng.integers(2, 5)))
        return _ly_spec(rng, common, large=True, grains=group == "LARGEGRAINS", blebs=0)
    raise ValueError(f"unknown cell type {cell_type!r}")
