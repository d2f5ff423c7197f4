"""What a user gets with the repository: a licence matching pyproject, and the research-tool notice."""
from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_license_file_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT" and project["license-files"] == ["LICENSE"]
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")


def test_readme_says_research_tool_not_diagnostic_device():
    text = " ".join((ROOT / "README.md").read_text().split())
    assert "vexscreen is a research tool, not a diagnostic device" in text.replace("**", "")
