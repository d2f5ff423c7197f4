"""Patient folders: class folders mapped to cell types, a sample level, a class map, bad files."""
from __future__ import annotations

import json

import pytest

from vexscreen.exceptions import InputError
from vexscreen.screen import DEFAULT_CLASS_MAP, normalise_class, read_class_map, scan_patient


@pytest.mark.parametrize("name, expected", [
    ("neutrophil", "PN"), ("Band_Neutrophils", "PN"), ("segmented neutrophil", "PN"), ("SNE", "PN"),
    ("BNE", "PN"), ("MONOCYTES", "MO"), ("lymphocyte", "LY"), ("Lymphocytes", "LY"),
    ("eosinophil", "ignore"), ("basophils", "ignore"), ("Smudge-cells", "ignore"),
])
def test_default_class_map(name, expected):
    assert DEFAULT_CLASS_MAP.get(normalise_class(name)) == expected


def test_default_map_knows_the_wbc_folders(wbc_dir):
    folders = sorted(p.name for p in wbc_dir.iterdir() if p.is_dir())
    assert {f: DEFAULT_CLASS_MAP.get(normalise_class(f)) for f in folders} == {
        "basophil": "ignore", "eosinophil": "ignore", "lymphocyte": "LY", "monocyte": "MO",
        "neutrophil": "PN"}


def test_class_folders_and_ignored(patients):
    scan = scan_patient(patients["pos"])
    assert scan.name == "P-pos"
    assert (scan.n_cells("PN"), scan.n_cells("MO"), scan.n_cells("LY")) == (12, 10, 0)
    assert scan.ignored() == {"eosinophil": 3}
    assert scan.samples == [] and scan.bad == []
    assert [r.rel for r in scan.images["PN"]][:2] == ["neutrophil/c000.png", "neutrophil/c001.png"]
    meta = scan.scan_result("PN").metadata()
    assert list(meta.columns) == ["PATIENT", "SAMPLE", "GROUP", "IMAGE"]
    assert set(meta["PATIENT"]) == {"P-pos"} and set(meta["GROUP"]) == {"PN"} and set(meta["SAMPLE"]) == {"-"}


def test_sample_level(patients):
    scan = scan_patient(patients["neg"])
    assert scan.samples == ["s1", "s2"]
    assert scan.n_cells("PN") == 12 and scan.n_cells("MO") == 10
    assert {r.sample for r in scan.images["PN"]} == {"s1", "s2"}
    assert scan.images["PN"][0].rel == "s1/segmented_neutrophils/c000.png"
    assert scan.ignored(used=("PN",)) == {"monocyte": 10}  # a type the model does not use


def test_class_map_files_override_and_extend(tmp_path, draw):
    folder = tmp_path / "P1"
    draw(folder / "neutrophil", 3, False, 1)
    draw(folder / "Mono cells", 2, False, 2)
    draw(folder / "lymphocyte", 2, False, 3)
    scan = scan_patient(folder)
    assert scan.n_cells("MO") == 0 and scan.unknown() == ["Mono cells"]
    assert scan.ignored() == {"Mono cells": 2}
    csv_map = tmp_path / "map.csv"
    csv_map.write_text("folder,cell_type\nMono_cells,mo\nlymphocytes,ignore\n")
    scan = scan_patient(folder, read_class_map(csv_map))
    assert (scan.n_cells("PN"), scan.n_cells("MO"), scan.n_cells("LY")) == (3, 2, 0)
    assert scan.ignored() == {"lymphocyte": 2} and scan.unknown() == []
    json_map = tmp_path / "map.json"
    json_map.write_text(json.dumps({"mono cells": "MO", "neutrophil": "ignore"}))
    scan = scan_patient(folder, read_class_map(json_map))
    assert (scan.n_cells("PN"), scan.n_cells("MO"), scan.n_cells("LY")) == (0, 2, 2)


@pytest.mark.parametrize("text, suffix", [("mono,XX\n", ".csv"), ('["MO"]', ".json"), ("{bad", ".json"),
                                          ("a,b,c\n", ".csv")])
def test_bad_class_map(tmp_path, text, suffix):
    path = tmp_path / f"map{suffix}"
    path.write_text(text)
    with pytest.raises(InputError, match=str(path)):
        read_class_map(path)


def test_bad_files_are_listed_not_used(tmp_path, draw):
    folder = tmp_path / "P2"
    paths = draw(folder / "neutrophil", 4, False, 4)
    paths[1].write_bytes(paths[1].read_bytes()[:200])  # truncated
    (folder / "neutrophil" / "notes.txt").write_text("hello")
    (folder / "neutrophil" / "empty.png").write_bytes(b"")
    (folder / "stray.png").write_bytes(paths[0].read_bytes())  # not in a class folder
    (folder / "labels.csv").write_text("x\n")  # a manifest: skipped silently
    scan = scan_patient(folder)
    assert scan.n_cells("PN") == 3
    reasons = {b.path.relative_to(scan.root).as_posix(): b.reason for b in scan.bad}
    assert set(reasons) == {"neutrophil/c001.png", "neutrophil/notes.txt", "neutrophil/empty.png", "stray.png"}
    assert "truncated" in reasons["neutrophil/c001.png"] or "corrupt" in reasons["neutrophil/c001.png"]
    assert "empty" in reasons["neutrophil/empty.png"]
    assert "depth" in reasons["stray.png"]


def test_no_usable_image(tmp_path, draw):
    folder = tmp_path / "P3"
    draw(folder / "eosinophil", 2, False, 5)
    with pytest.raises(InputError, match=r"P3: no usable cell image.*eosinophil \(2\)"):
        scan_patient(folder)
    with pytest.raises(InputError, match="no such patient folder"):
        scan_patient(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="empty patient folder"):
        scan_patient(tmp_path / "empty")


def test_images_without_class_folders(tmp_path, draw):
    draw(tmp_path / "P4", 3, False, 6)
    with pytest.raises(InputError, match="sub-folders by cell class"):
        scan_patient(tmp_path / "P4")


def test_check_images_public_and_in_order(tmp_path, draw):
    """vexscreen.data.scan.check_images: the scanner's decode check, per path, in the order given."""
    from vexscreen.data.scan import check_images

    good = draw(tmp_path / "cells", 2, False, 7)
    bad = tmp_path / "cells" / "broken.png"
    bad.write_bytes(good[0].read_bytes()[:60])  # truncated
    res = check_images([good[1], bad, str(good[0])])
    from PIL import Image

    assert res[0][:3] == (*Image.open(good[1]).size, "RGB") and res[2][:3] == (*Image.open(good[0]).size, "RGB")
    assert isinstance(res[1], str) and "truncated" in res[1]
