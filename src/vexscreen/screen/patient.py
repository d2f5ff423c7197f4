"""A patient folder: one patient's export, cell images in sub-folders by cell class.

Layouts (the folder's name is the patient's pseudonym)::

    PATIENT/<class>/<image>             e.g. PATIENT/neutrophil/SNE_123.jpg
    PATIENT/<sample>/<class>/<image>    one level of sample (smear) folders above

as CellaVision-style exports and ``../shared/data/wbc`` have them. Class folder
names are sent to the study's cell types PN / MO / LY by :data:`DEFAULT_CLASS_MAP`
(case-insensitive; spaces, underscores, hyphens and plurals tolerated), which a
``--class-map FILE`` extends or overrides. Classes mapped to ``ignore`` and names
the map does not know are counted and listed, never used. Every image of a used
class is fully decoded with the scanner's own checks; a file that cannot be used
is listed with the reason, never dropped silently.
"""
from __future__ import annotations

import csv
import json
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..data.scan import IMAGE_SUFFIXES, BadFile, ImageRecord, ScanResult, check_images
from ..exceptions import InputError

TARGETS = ("PN", "MO", "LY", "ignore")
NO_SAMPLE = "-"  # SAMPLE of images in a folder without a sample level

#: class folder name (normalised, see :func:`normalise_class`) -> PN | MO | LY | ignore
DEFAULT_CLASS_MAP = {
    **dict.fromkeys(["neutrophil", "band neutrophil", "segmented neutrophil", "neutrophil band",
                     "neutrophil segmented", "bne", "sne", "band", "segmented", "pn", "pmn",
                     "polynuclear neutrophil", "polymorphonuclear neutrophil", "seg neutrophil",
                     "neutrophile"], "PN"),
    **dict.fromkeys(["monocyte", "mo", "mono"], "MO"),
    **dict.fromkeys(["lymphocyte", "ly", "lympho"], "LY"),
    **dict.fromkeys(["eosinophil", "eo", "basophil", "ba", "ig", "immature granulocyte", "metamyelocyte",
                     "myelocyte", "promyelocyte", "blast", "erythroblast", "nrbc", "platelet",
                     "giant platelet", "giant thrombocyte", "platelet aggregate", "smudge", "smudge cell",
                     "artefact", "artifact", "unidentified", "reactive lymphocyte", "variant lymphocyte",
                     "large granular lymphocyte", "plasma cell", "atypical lymphocyte"], "ignore"),
}

#: files at the top of a patient folder that travel with exports (skipped silently)
TOP_LEVEL_NOTES = frozenset({"labels.csv", "truth.csv", "metadata.csv", "source.md", "readme.md",
                             "readme.txt", "report.pdf"})


def normalise_class(name: str) -> str:
    """Lower case, ``_``/``-`` as spaces, single spaces, each word singular ("Band_Neutrophils" -> "band neutrophil")."""
    words = re.sub(r"[_\-\s]+", " ", str(name)).strip().lower().split(" ")
    return " ".join(w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w for w in words)


def read_class_map(path) -> dict:
    """The default map updated with a CSV (``folder,cell_type`` rows) or JSON (``{folder: type}``) file."""
    path = Path(path)
    if not path.is_file():
        raise InputError("class map file not found", path)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the class map ({exc})", path) from None
    if path.suffix.lower() == ".json":
        try:
            pairs = json.loads(text)
        except ValueError as exc:
            raise InputError(f"not valid JSON ({exc})", path) from None
        if not isinstance(pairs, dict):
            raise InputError("a JSON class map is an object {folder: PN|MO|LY|ignore}", path)
        rows = list(pairs.items())
    else:
        rows = [r for r in csv.reader(text.splitlines()) if any(c.strip() for c in r)]
        if rows and normalise_class(rows[0][-1]) in ("cell type", "celltype", "type", "target"):
            rows = rows[1:]  # a header row (folder,cell_type)
    out = dict(DEFAULT_CLASS_MAP)
    for i, row in enumerate(rows, 1):
        if len(row) != 2 or _target(row[1]) is None:
            raise InputError(f"entry {i} ({', '.join(map(str, row))}): expected folder -> one of "
                             f"{', '.join(TARGETS)}", path)
        out[normalise_class(row[0])] = _target(row[1])
    return out


def _target(value) -> str | None:
    v = str(value).strip()
    return "ignore" if v.lower() == "ignore" else v.upper() if v.upper() in TARGETS[:3] else None


@dataclass
class PatientScan:
    """One patient's images by cell type, the class folders found, and the files not usable."""

    name: str
    root: Path
    images: dict = field(default_factory=dict)     # cell type -> [ImageRecord], sorted by rel
    folders: dict = field(default_factory=dict)    # class folder name -> (PN|MO|LY|ignore|None, files)
    bad: list = field(default_factory=list)        # [BadFile]
    samples: list = field(default_factory=list)    # sample folder names ([] without a sample level)

    def n_cells(self, cell_type: str) -> int:
        return len(self.images.get(cell_type, []))

    def scan_result(self, cell_type: str) -> ScanResult:
        """The images of one cell type as a ScanResult (what ``encode_scan`` takes).

        In the labeled layout, so the encoding set's metadata is the usual PATIENT (this
        patient), SAMPLE (``-`` without a sample level), GROUP (the cell type), IMAGE
        (path relative to the patient folder): any vexscreen tool reads it.
        """
        return ScanResult(self.root, "labeled", list(self.images.get(cell_type, [])), [])

    def ignored(self, used=("PN", "MO", "LY")) -> dict:
        """``{folder: images}`` of class folders not used: ignore, unknown, or a type not in ``used``."""
        return {f: n for f, (t, n) in sorted(self.folders.items()) if t not in used}

    def unknown(self) -> list[str]:
        return sorted(f for f, (t, _) in self.folders.items() if t is None)


def scan_patient(folder, class_map: dict | None = None) -> PatientScan:
    """Scan one patient folder (layouts in the module doc); InputError if no cell image is usable."""
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise InputError("no such patient folder" if not root.exists() else "not a folder", root)
    root = root.resolve()
    cmap = DEFAULT_CLASS_MAP if class_map is None else class_map
    files, bad = _walk(root)
    if not files:
        raise InputError("empty patient folder: no files", root)
    depth = _class_depth(root, files)
    scan = PatientScan(root.name, root, bad=bad)
    counts, used = Counter(), []
    for rel in files:
        is_image = rel.suffix.lower() in IMAGE_SUFFIXES
        if len(rel.parts) == 1 and (rel.name.lower() in TOP_LEVEL_NOTES or rel.suffix.lower() == ".json"):
            continue
        if len(rel.parts) != depth:
            bad.append(BadFile(root / rel, f"at folder depth {len(rel.parts)}; a patient folder holds "
                                           f"{'SAMPLE/CLASS/<image>' if depth == 3 else 'CLASS/<image>'}"))
            continue
        target = cmap.get(normalise_class(rel.parts[-2]))
        counts[rel.parts[-2]] += is_image
        scan.folders[rel.parts[-2]] = (target, counts[rel.parts[-2]])
        if target not in ("PN", "MO", "LY"):
            continue
        if not is_image:
            bad.append(BadFile(root / rel, f"not an image suffix ({rel.suffix or 'no suffix'})"))
            continue
        used.append((rel, target))
    scan.samples = sorted({rel.parts[0] for rel, _ in used}) if depth == 3 else []
    _decode(scan, used)
    scan.bad.sort(key=lambda b: b.path.as_posix())
    if not any(scan.images.values()):
        found = ", ".join(f"{f} ({n})" for f, (_, n) in sorted(scan.folders.items())) or "none"
        raise InputError(f"no usable cell image: no readable image in a neutrophil, monocyte or lymphocyte "
                         f"folder (class folders found: {found}; {len(scan.bad)} bad file(s))", root)
    return scan


def _decode(scan: PatientScan, used: list) -> None:
    """Decode every used image once (scanner's checks); usable ones become ImageRecords by type."""
    results = check_images([scan.root / rel for rel, _ in used])
    for (rel, ct), res in zip(used, results):
        if isinstance(res, str):
            scan.bad.append(BadFile(scan.root / rel, res))
            continue
        w, h, mode, note = res
        sample = rel.parts[0] if len(rel.parts) == 3 else NO_SAMPLE
        scan.images.setdefault(ct, []).append(
            ImageRecord(scan.root / rel, rel.as_posix(), ct, scan.name, sample, w, h, mode, note))
    for records in scan.images.values():
        records.sort(key=lambda r: r.rel)


def _walk(root: Path) -> tuple[list[Path], list]:
    """Relative paths of every file (sorted); folders that cannot be listed are bad files."""
    found, bad, seen = [], [], set()

    def onerror(exc: OSError) -> None:
        bad.append(BadFile(Path(exc.filename or root), f"cannot list folder: {exc.strerror or exc}"))

    for dirpath, dirnames, filenames in os.walk(root, onerror=onerror, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen:  # a symlink cycle or a second link to the same folder
            bad.append(BadFile(Path(dirpath), f"folder links to {real}, already scanned"))
            dirnames[:] = []
            continue
        seen.add(real)
        dirnames.sort()
        found += [(Path(dirpath) / n).relative_to(root) for n in filenames]
    return sorted(found, key=lambda p: p.as_posix()), bad


def _class_depth(root: Path, files: list[Path]) -> int:
    """2 (CLASS/<image>) or 3 (SAMPLE/CLASS/<image>): the depth most image files are at."""
    depths = Counter(len(p.parts) for p in files if p.suffix.lower() in IMAGE_SUFFIXES)
    if not depths:
        raise InputError(f"no image files ({len(files)} other files, e.g. {files[0].as_posix()})", root)
    depth = max(depths, key=lambda d: (depths[d], -d))
    if depth == 1:
        raise InputError("images lie directly in the patient folder; put them in sub-folders by cell "
                         "class (neutrophil/, monocyte/, lymphocyte/, ...)", root / next(
                             p for p in files if len(p.parts) == 1 and p.suffix.lower() in IMAGE_SUFFIXES))
    if depth > 3:
        example = next(p for p in files if len(p.parts) == depth)
        raise InputError(f"images {depth - 1} folders deep; a patient folder holds CLASS/<image> or "
                         "SAMPLE/CLASS/<image>", root / example)
    return depth
