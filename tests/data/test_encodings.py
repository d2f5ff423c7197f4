"""Encoding-set loader: every bad input gives a clear error naming the file."""
import json
import os
import shutil
from importlib import resources

import numpy as np
import pandas as pd
import pytest

from vexscreen.cli import main
from vexscreen.exceptions import InputError
from vexscreen.data import EncodingSet, load_encodings, save_encodings, write_json


@pytest.fixture(scope="module")
def bundled_paper():
    """The study's published encoder-test encodings, as bundled in the package."""
    with resources.as_file(resources.files("vexscreen") / "resources" / "paper") as path:
        yield path


def _write(folder, X, meta, encoder_test=False):
    folder.mkdir(parents=True, exist_ok=True)
    prefix = "encoder_test_" if encoder_test else ""
    np.save(folder / f"{prefix}encodings.npy", X)
    meta.to_csv(folder / f"{prefix}metadata.csv", index=False)
    return folder


def _meta(n, groups=("A", "B")):
    return pd.DataFrame({"PATIENT": [f"P{i % 4}" for i in range(n)], "SAMPLE": [f"S{i % 8}" for i in range(n)],
                         "GROUP": [groups[(i % 4) % len(groups)] for i in range(n)]})


def test_roundtrip_study_layout(tmp_path):
    X = np.random.default_rng(0).normal(size=(8, 3)).astype(np.float32)
    save_encodings(tmp_path, X, _meta(8))
    enc = load_encodings(tmp_path)
    assert enc.X.dtype == np.float32 and np.array_equal(enc.X, X)
    assert list(enc.meta.columns) == ["PATIENT", "SAMPLE", "GROUP"]
    assert enc.label_order() == ["A", "B"]
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".")], "temporary files left behind"


def test_reads_published_encoder_test_layout(bundled_paper):
    enc = load_encodings(bundled_paper / "PN")
    assert enc.X.shape == (216, 512) and list(enc.meta.columns) == ["GROUP"]


def test_explicit_files(tmp_path):
    _write(tmp_path, np.ones((4, 2), np.float32), _meta(4))
    enc = load_encodings(encodings=tmp_path / "encodings.npy", metadata=tmp_path / "metadata.csv")
    assert len(enc) == 4 and list(enc.patients) == ["P0", "P1", "P2", "P3"]


@pytest.mark.parametrize("make_bad, fragment, culprit", [
    (lambda d: _write(d, np.ones((5, 2), np.float32), _meta(4)), "row-count mismatch", "metadata.csv"),
    (lambda d: _write(d, np.array([[1, np.nan], [0, 1], [1, 1], [1, 2]], np.float32), _meta(4)), "NaN/inf", "encodings.npy"),
    (lambda d: _write(d, np.array([[1, np.inf], [0, 1], [1, 1], [1, 2]], np.float32), _meta(4)), "NaN/inf", "encodings.npy"),
    (lambda d: _write(d, np.ones(4, np.float32), _meta(4)), "2-D matrix", "encodings.npy"),
    (lambda d: _write(d, np.ones((4, 2, 2), np.float32), _meta(4)), "2-D matrix", "encodings.npy"),
    (lambda d: _write(d, np.ones((4, 2), np.int64), _meta(4)), "dtype int64", "encodings.npy"),
    (lambda d: _write(d, np.array([["a", "b"]] * 4), _meta(4)), "dtype <U1", "encodings.npy"),
    (lambda d: _write(d, np.ones((4, 2), np.float32), _meta(4).drop(columns="SAMPLE")), "missing column(s) ['SAMPLE']", "metadata.csv"),
    (lambda d: _write(d, np.ones((0, 2), np.float32), _meta(0)), "empty matrix", "encodings.npy"),
    (lambda d: _write(d, np.ones((4, 2), np.float32), _meta(4).assign(PATIENT=["P0", "", "P1", "P1"])), "empty PATIENT", "metadata.csv"),
])
def test_bad_inputs_name_file_and_problem(tmp_path, make_bad, fragment, culprit):
    make_bad(tmp_path)
    with pytest.raises(InputError) as err:
        load_encodings(tmp_path)
    assert fragment in str(err.value)
    assert culprit in str(err.value)


def test_zero_size_and_object_arrays(tmp_path):
    _write(tmp_path, np.ones((4, 2), np.float32), _meta(4))
    (tmp_path / "encodings.npy").write_bytes(b"")
    with pytest.raises(InputError, match="encodings file is empty"):
        load_encodings(tmp_path)
    np.save(tmp_path / "encodings.npy", np.array([{"a": 1}] * 4, dtype=object), allow_pickle=True)
    with pytest.raises(InputError, match="not a plain numeric"):
        load_encodings(tmp_path)


def test_header_only_metadata(tmp_path):
    _write(tmp_path, np.ones((4, 2), np.float32), _meta(4))
    (tmp_path / "metadata.csv").write_text("PATIENT,SAMPLE,GROUP\n")
    with pytest.raises(InputError, match="no rows"):
        load_encodings(tmp_path)


def test_folder_without_a_layout(tmp_path, bundled_paper):
    with pytest.raises(InputError, match="no encodings.npy"):
        load_encodings(tmp_path)
    # the published cohort folder has metadata.csv but not its (unpublished) encodings:
    # the encoder-test pair there is still found
    mo = shutil.copytree(bundled_paper / "MO", tmp_path / "MO")
    _meta(4).to_csv(mo / "metadata.csv", index=False)
    assert load_encodings(mo).X.shape == (60, 2048)
    _write(tmp_path / "half", np.ones((4, 2), np.float32), _meta(4))
    os.remove(tmp_path / "half" / "encodings.npy")
    with pytest.raises(InputError, match="metadata.csv without encodings.npy"):
        load_encodings(tmp_path / "half")


def test_unknown_group_and_duplicate(tmp_path):
    enc = load_encodings(_write(tmp_path, np.ones((4, 2), np.float32), _meta(4)))
    with pytest.raises(InputError, match=r"\['VEXAS'\] not in the data"):
        enc.check_classes(["A", "VEXAS"])
    with pytest.raises(InputError, match="named twice"):
        enc.check_classes(["A", "A"])
    with pytest.raises(InputError, match="not in the data"):
        enc.select_classes(["B", "C"])


def test_select_classes_keeps_cell_order():
    X = np.arange(16, dtype=np.float32).reshape(8, 2)
    enc = EncodingSet(X, _meta(8, groups=("A", "B", "C")))
    sub = enc.select_classes(["C", "A"])
    keep = np.isin(enc.labels, ["A", "C"])
    assert np.array_equal(sub.X, X[keep]) and list(sub.labels) == list(enc.labels[keep])
    assert list(sub.patients) == list(enc.patients[keep]) and sub.label_order() == ["A", "C"]


def test_cli_reports_error_and_exit_code(tmp_path, capsys):
    _write(tmp_path, np.ones((5, 2), np.float32), _meta(4))
    code = main(["evaluate", str(tmp_path), "--groups", "A,B", "--out", str(tmp_path / "o")])
    assert code == 2
    err = capsys.readouterr().err
    assert "metadata.csv" in err and "row-count mismatch" in err
    assert not (tmp_path / "o" / "evaluation.json").exists()


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    target = tmp_path / "out.json"
    write_json(target, {"a": 1})
    with pytest.raises(ValueError):
        write_json(target, {"a": float("nan")})  # NaN is refused by allow_nan=False
    assert json.loads(target.read_text()) == {"a": 1}
    assert os.listdir(tmp_path) == ["out.json"]


# --------------------------------------------------------------------------- several blocks (issue 11.3)

def _block(X, n, images=None, groups=("A", "B")):
    meta = _meta(n, groups)
    meta["IMAGE"] = images if images is not None else [f"img_{i:03d}.png" for i in range(n)]
    return EncodingSet(np.asarray(X, np.float32), meta, source="block")


def test_combine_blocks_normalises_each_block_then_concatenates():
    from vexscreen.data import combine_blocks

    rng = np.random.default_rng(1)
    A = rng.normal(size=(8, 5)) * 100          # a large-norm block
    B = rng.normal(size=(8, 2))
    B[3] = 0                                    # an unmeasured cell: all zeros
    joint = combine_blocks([_block(A, 8), _block(B, 8)])
    assert joint.X.shape == (8, 7) and joint.X.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(joint.X[:, :5], axis=1), 1, rtol=1e-5)
    norms_b = np.linalg.norm(joint.X[:, 5:], axis=1)
    np.testing.assert_allclose(np.delete(norms_b, 3), 1, rtol=1e-5)
    assert np.all(joint.X[3, 5:] == 0)
    np.testing.assert_allclose(joint.X[:, :5], A / np.linalg.norm(A, axis=1, keepdims=True), rtol=1e-5)
    assert list(joint.meta["IMAGE"]) == [f"img_{i:03d}.png" for i in range(8)]
    one = _block(A, 8)
    assert combine_blocks([one]) is one     # one block: unchanged, as evaluate had it


def test_combine_blocks_mismatch_names_the_first_differing_row():
    from vexscreen.data import combine_blocks

    images = [f"img_{i:03d}.png" for i in range(8)]
    other = list(images)
    other[5], other[6] = other[6], other[5]
    with pytest.raises(InputError, match=r"data row 6 is 'img_006.png' here but 'img_005.png'"):
        combine_blocks([_block(np.ones((8, 2)), 8, images), _block(np.ones((8, 3)), 8, other)])
    with pytest.raises(InputError, match=r"data row 8 .*\(no row\).*7 vs 8 rows"):
        combine_blocks([_block(np.ones((8, 2)), 8, images), _block(np.ones((7, 3)), 7, images[:7])])
    with pytest.raises(InputError, match="GROUP differs .* data row 1"):
        combine_blocks([_block(np.ones((8, 2)), 8, images), _block(np.ones((8, 3)), 8, images, groups=("B", "A"))])
    no_image = EncodingSet(np.ones((8, 2), np.float32), _meta(8), source="x")
    with pytest.raises(InputError, match="IMAGE column"):
        combine_blocks([no_image, _block(np.ones((8, 3)), 8, images)])


def test_cli_consistency_on_two_folders(tmp_path, capsys):
    rng = np.random.default_rng(2)
    n = 40
    meta = _meta(n)
    meta["IMAGE"] = [f"c{i}.png" for i in range(n)]
    y = (meta["GROUP"] == "B").to_numpy()
    _write(tmp_path / "enc", rng.normal(size=(n, 6)).astype(np.float32), meta)          # noise
    _write(tmp_path / "meas", (rng.normal(size=(n, 3)) + 3 * y[:, None]).astype(np.float32), meta)  # signal
    assert main(["consistency", str(tmp_path / "enc"), str(tmp_path / "meas"), "--out", str(tmp_path / "o"),
                 "--no-plots", "--no-ci"]) == 0
    table = pd.read_csv(tmp_path / "o" / "consistency.csv", index_col=0)
    assert table.loc["A", "B"] > 0.9           # the measurement block's signal survives the join
    bad = meta.copy()
    bad.loc[10, "IMAGE"] = "other.png"
    _write(tmp_path / "bad", np.ones((n, 2), np.float32), bad)
    assert main(["consistency", str(tmp_path / "enc"), str(tmp_path / "bad"), "--out", str(tmp_path / "o2")]) == 2
    assert "data row 11 is 'other.png'" in capsys.readouterr().err
