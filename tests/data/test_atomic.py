"""Atomic writes: all or nothing, and files as readable as an ordinary open() makes them."""
from __future__ import annotations

import os
import stat

import numpy as np
import pandas as pd
import pytest

from vexscreen.data.atomic import atomic_path, write_csv, write_json, write_npy, write_text


@pytest.fixture
def umask():
    """Set a umask for one test, restore the old one after."""
    old = os.umask(0o022)
    yield lambda mask: os.umask(mask)
    os.umask(old)


@pytest.mark.parametrize("mask", [0o022, 0o027, 0o077])
def test_atomic_files_get_the_mode_open_gives(tmp_path, umask, mask):
    umask(mask)
    with open(tmp_path / "plain.txt", "w") as fh:
        fh.write("x")
    expected = stat.S_IMODE(os.stat(tmp_path / "plain.txt").st_mode)
    assert expected == 0o666 & ~mask
    outs = [write_text(tmp_path / "a.txt", "x"), write_json(tmp_path / "a.json", {"a": 1}),
            write_npy(tmp_path / "a.npy", np.zeros(3)), write_csv(tmp_path / "a.csv", pd.DataFrame({"a": [1]}))]
    for out in outs:
        assert stat.S_IMODE(os.stat(out).st_mode) == expected, out


def test_failed_write_leaves_old_file_and_no_temporary(tmp_path):
    target = write_text(tmp_path / "out.txt", "old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]
