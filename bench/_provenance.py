"""Provenance of a results JSON: the command, the vexscreen version, the git commit; no machine path.

Shared by the speed benchmarks (bench/) and the experiments (experiments/, which put
this folder on sys.path). It sits here, not in the vexscreen package: an installed
vexscreen has no git tree and no business knowing how its benchmarks are run.

    from _provenance import write_results
    write_results("experiments/results/x.json", {"auc": ...})

adds ``command`` (the command line as typed, paths relative to the repository),
``vexscreen_version``, ``git_commit`` and ``git_dirty``, and replaces every absolute
path in the data by one relative to the repository root (``experiments/out/x``,
``../shared/data/wbc``) or, anywhere else, by its name only.
"""
from __future__ import annotations

import math
import os
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


SHARED = ROOT.parent / "shared"  # the data folder beside the repository (README, data layout)


def portable(path) -> str:
    """``path`` without the machine: relative to the repository root when it lies in the
    repository (``experiments/out/x``) or in the shared data beside it (``../shared/data/wbc``),
    else its name only (a temporary folder, another checkout: where it lay says nothing)."""
    p = os.path.abspath(os.fspath(path))
    inside = any(p == str(base) or p.startswith(str(base) + os.sep) for base in (ROOT, SHARED))
    return os.path.relpath(p, ROOT) if inside else os.path.basename(p)


def _arg(a: str) -> str:
    """One command-line word with any absolute path in it (``/x``, ``--opt=/x``) made portable."""
    key, eq, value = a.partition("=") if a.startswith("--") else ("", "", a)
    return key + eq + portable(value) if os.path.isabs(value) else a


def command(argv=None, executable=None) -> str:
    """The command line as typed, relative to the repository: ``.venv/bin/python
    experiments/real_images.py --out experiments/out/real`` (the interpreter by its
    repository path when it lives there, else ``python``)."""
    argv = list(sys.argv if argv is None else argv)
    exe = os.path.abspath(executable or sys.executable)
    python = os.path.relpath(exe, ROOT) if exe.startswith(str(ROOT) + os.sep) else "python"
    script = portable(argv[0]) if argv and argv[0] not in ("", "-c", "-m") else (argv[0] if argv else "")
    return shlex.join([python, script] + [_arg(a) for a in argv[1:]])


def git_state(root: Path = ROOT) -> tuple[str | None, bool | None]:
    """(HEAD commit, whether tracked files differ from it); (None, None) outside a git tree."""
    def git(*args):
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                              check=True).stdout.strip()
    try:
        return git("rev-parse", "HEAD"), bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.CalledProcessError):
        return None, None


#: the tree when this run started (this module is imported first thing): a script that writes
#: tracked files (docs/img contact sheets) before its results JSON would otherwise record its own
#: outputs as uncommitted changes to the code that ran
AT_START = git_state()


def provenance(argv=None) -> dict:
    """``{"command", "vexscreen_version", "git_commit", "git_dirty"}`` of this run, the commit
    and tree state as they were when it started."""
    import vexscreen

    commit, dirty = AT_START
    return {"command": command(argv), "vexscreen_version": vexscreen.__version__,
            "git_commit": commit, "git_dirty": dirty}


def scrub(obj):
    """A JSON-ready copy of ``obj``: absolute paths made portable (also inside longer strings,
    e.g. a table title), Paths and numpy scalars to plain values, NaN/inf to None."""
    if isinstance(obj, dict):
        return {str(k): scrub(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [scrub(v) for v in obj]
    if isinstance(obj, os.PathLike):
        obj = os.fspath(obj)
    if isinstance(obj, str):
        if os.path.isabs(obj):
            return portable(obj)
        return obj.replace(str(ROOT) + os.sep, "").replace(str(ROOT.parent) + os.sep, "../")
    if hasattr(obj, "item") and not isinstance(obj, (bool, int, float)):  # numpy scalar
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def write_results(path, data: dict, argv=None) -> Path:
    """Write ``data`` as JSON to ``path`` (atomically), provenance first, no absolute path."""
    from vexscreen.data.atomic import write_json

    prov = provenance(argv)
    return write_json(path, {**prov, **{k: v for k, v in scrub(data).items() if k not in prov}})
