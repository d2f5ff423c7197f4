"""Shared fixtures: paths to the shared data (CI has ../shared), small synthetic cohorts."""
from __future__ import annotations

from pathlib import Path

import pytest

import vexscreen  # noqa: F401  (first: sets OMP_WAIT_POLICY before any test loads torch)

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
PAPER = SHARED / "data" / "paper"
WBC = SHARED / "data" / "wbc"


@pytest.fixture(scope="session")
def paper_dir() -> Path:
    if not PAPER.exists():
        pytest.skip(f"{PAPER} not available")
    return PAPER


@pytest.fixture(scope="session")
def wbc_dir() -> Path:
    if not WBC.exists():
        pytest.skip(f"{WBC} not available")
    return WBC
