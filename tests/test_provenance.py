"""Every committed results JSON says how it was made (command, version, commit) and holds no
path of the machine it ran on; bench/_provenance.py writes such files."""
from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RESULT_DIRS = ("bench/results", "experiments/results")
MACHINE_PATHS = ("/work/", "/home/", "/tmp/", "/root/")
KEYS = ("command", "vexscreen_version", "git_commit", "git_dirty")
RESULTS = sorted(p for d in RESULT_DIRS for p in (ROOT / d).glob("*.json"))


def _load_provenance():
    spec = importlib.util.spec_from_file_location("_provenance", ROOT / "bench" / "_provenance.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check_record(text: str) -> dict:
    """The checks a results file must pass; returns the parsed record."""
    for prefix in MACHINE_PATHS:
        assert prefix not in text, f"absolute machine path {prefix!r} in the file"
    record = json.loads(text)
    missing = [k for k in KEYS if k not in record]
    assert not missing, f"provenance keys missing: {missing}"
    assert isinstance(record["command"], str) and re.search(r"\S+\.py\b", record["command"]), record["command"]
    assert not record["command"].startswith("/"), record["command"]
    assert re.fullmatch(r"\d+\.\d+(\.\d+)?\S*", record["vexscreen_version"]), record["vexscreen_version"]
    assert record["git_dirty"] in (True, False, None)
    return record


@pytest.mark.parametrize("result_dir", RESULT_DIRS)
def test_result_folders_hold_results(result_dir):
    assert list((ROOT / result_dir).glob("*.json")), f"no results JSON under {result_dir}"


@pytest.mark.parametrize("path", RESULTS, ids=[str(p.relative_to(ROOT)) for p in RESULTS])
def test_results_json_has_provenance_and_no_machine_path(path):
    record = check_record(path.read_text())
    assert re.fullmatch(r"[0-9a-f]{40}", record["git_commit"] or ""), "git_commit must be a full commit hash"


def test_check_record_catches_bad_files():
    good = {"command": "python bench/x.py", "vexscreen_version": "0.1.0", "git_commit": "a" * 40,
            "git_dirty": False}
    check_record(json.dumps(good))
    bads = [{k: v for k, v in good.items() if k != "git_commit"},
            {**good, "command": "/usr/bin/python3 bench/x.py"}]  # an absolute interpreter
    bads += [{**good, "settings": {"out": prefix + "run1"}} for prefix in MACHINE_PATHS]  # each machine prefix
    for bad in bads:
        with pytest.raises(AssertionError):
            check_record(json.dumps(bad))


def test_write_results_records_command_and_strips_machine_paths(tmp_path):
    prov = _load_provenance()
    argv = [str(ROOT / "experiments" / "real_images.py"), "--out", str(tmp_path / "run"),
            f"--wbc={ROOT.parent / 'shared' / 'data' / 'wbc'}", "--epochs", "6"]
    data = {"settings": {"out": tmp_path / "run", "images": str(ROOT / "experiments" / "out" / "pool"),
                         "cache": str(ROOT.parent / "another-checkout" / "cache")},  # a sibling: name only
            "title": f"trained on {ROOT}/experiments/out/pool", "loss": float("nan")}
    path = prov.write_results(tmp_path / "results.json", data, argv=argv)
    record = check_record(path.read_text())
    assert record["command"].endswith(
        "experiments/real_images.py --out run --wbc=../shared/data/wbc --epochs 6"), record["command"]
    assert record["settings"] == {"out": "run", "images": "experiments/out/pool", "cache": "cache"}
    assert record["title"] == "trained on experiments/out/pool"
    assert record["loss"] is None
    assert record["git_commit"] is None or re.fullmatch(r"[0-9a-f]{40}", record["git_commit"])
    assert list(record)[:4] == list(KEYS)


def test_provenance_records_the_tree_as_the_run_started(tmp_path):
    """Files the run itself writes (contact sheets in docs/img) do not make its record dirty."""
    prov = _load_provenance()
    assert prov.AT_START == prov.git_state()
    prov.AT_START = ("b" * 40, False)  # as if the tree changed since the run started
    record = json.loads(prov.write_results(tmp_path / "r.json", {}, argv=["bench/x.py"]).read_text())
    assert (record["git_commit"], record["git_dirty"]) == ("b" * 40, False)


DOC_FILES = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md"), *(ROOT / "experiments").glob("*.py"),
                    *(ROOT / "bench").glob("*.py"), *(ROOT / "src").rglob("*.py")])


def test_docs_scripts_and_code_name_no_machine_path():
    """Paths of this machine (/work/..., /root/...) mean nothing elsewhere: data is named relative
    to the repository (../shared/data/...), outputs by placeholders (OUT, PH)."""
    found = [f"{p.relative_to(ROOT)}:{i}" for p in DOC_FILES
             for i, line in enumerate(p.read_text().splitlines(), 1)
             if any(prefix in line for prefix in ("/work/", "/root/", "/tmp/"))]
    assert not found, found
