"""Encodings read memory-mapped: the same set, not read into memory, and still checked for NaN/inf."""
import numpy as np
import pytest

from vexscreen.data import load_encodings, save_encodings
from vexscreen.data.encodings import nonfinite
from vexscreen.data.synthetic import simple_structure, synthetic_encodings
from vexscreen.exceptions import InputError


def test_mmap_gives_the_same_set_without_reading_it(tmp_path):
    enc = synthetic_encodings(simple_structure({"MDS": 2, "VEXAS": 2}, cells_per_sample=5), dim=8)
    save_encodings(tmp_path, enc.X, enc.meta)
    mapped = load_encodings(tmp_path, mmap=True)
    assert isinstance(mapped.X, np.memmap) and not mapped.X.flags.writeable
    np.testing.assert_array_equal(mapped.X, load_encodings(tmp_path).X)
    assert list(mapped.patients) == list(enc.patients)


@pytest.mark.parametrize("mmap", [False, True])
def test_nan_rows_are_named_in_blocks_too(tmp_path, mmap):
    X = np.ones((10, 3), np.float32)
    X[4, 1] = np.nan
    X[7] = np.inf
    np.save(tmp_path / "e.npy", X)
    (tmp_path / "m.csv").write_text("GROUP\n" + "a\n" * 10)
    assert nonfinite(tmp_path / "e.npy", block=3) == (4, 2, 4)  # rows 4 and 7 sit in different blocks
    with pytest.raises(InputError, match=r"4 NaN/inf value\(s\), in 2 row\(s\), first at row 4"):
        load_encodings(encodings=tmp_path / "e.npy", metadata=tmp_path / "m.csv", mmap=mmap)
