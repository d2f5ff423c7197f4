"""Image scanner: find every cell image under a root, check it, and describe the set.

Three layouts (METHOD.md, "Data layout"), told apart by the depth of the image
files below the root:

* ``labeled``      ``ROOT/GROUP/PATIENT/SAMPLE/<image>``  (depth 4)
* ``encoder_test`` ``ROOT/GROUP/<image>``                 (depth 2)
* ``flat``         ``ROOT/<image>``                       (depth 1, unlabeled)

Every image is fully decoded once (a header check misses truncated files) and
converted to 8-bit RGB only where that is lossless or otherwise safe
(:func:`load_rgb`). A file that cannot be used is never dropped silently: it is
a :class:`BadFile` with the reason, listed by :meth:`ScanResult.summary`, and
``strict=True`` turns any bad file into an :class:`InputError`.
"""
from __future__ import annotations

import os
import statistics
import warnings
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageFile, UnidentifiedImageError

from ..exceptions import InputError
from ..progress import Progress, ProgressArg
from ..study import FULL_SIZE

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")  # case-insensitive

#: Files skipped silently when they sit directly in the root: manifests and notes
#: that travel with image sets (e.g. ../shared/data/wbc has labels.csv + SOURCE.md).
ROOT_METADATA_NAMES = frozenset({"truth.csv", "labels.csv", "metadata.csv", "source.md",
                                 "readme.md", "readme.txt"})
ROOT_METADATA_SUFFIXES = (".json",)

LAYOUT_DEPTHS = {"flat": 1, "encoder_test": 2, "labeled": 4}
LAYOUT_PATTERNS = {"flat": "ROOT/<image>", "encoder_test": "ROOT/GROUP/<image>",
                   "labeled": "ROOT/GROUP/PATIENT/SAMPLE/<image>"}
METADATA_COLUMNS = {"labeled": ["PATIENT", "SAMPLE", "GROUP", "IMAGE"],
                    "encoder_test": ["GROUP", "IMAGE"], "flat": ["IMAGE"]}

PROGRESS_MIN_FILES = 200
MAX_WORKERS = 2


@dataclass(frozen=True)
class ImageRecord:
    """One usable image: where it is, its labels from the folders, and its size."""

    path: Path          # absolute
    rel: str            # path relative to root, posix
    group: str | None
    patient: str | None
    sample: str | None
    width: int
    height: int
    mode: str           # PIL mode as found on disk (e.g. "RGB", "L", "RGBA", "I;16")
    note: str = ""      # e.g. "converted from RGBA (fully opaque)"


@dataclass(frozen=True)
class BadFile:
    """A file that cannot be used, and why."""

    path: Path
    reason: str


# --------------------------------------------------------------------------- decoding

_SIXTEEN_BIT_GRAY = ("I;16", "I;16B", "I;16L", "I;16N", "I")


def _rawmode(im: Image.Image) -> str:
    """The raw (on-disk) pixel layout of the first tile, e.g. ``RGB;16B``; '' if unknown."""
    try:
        args = im.tile[0].args if hasattr(im.tile[0], "args") else im.tile[0][3]
    except (IndexError, AttributeError, TypeError):
        return ""
    if isinstance(args, tuple):
        args = args[0] if args else ""
    return args if isinstance(args, str) else ""


def _opaque(alpha: Image.Image) -> tuple[bool, float]:
    """(all pixels opaque?, fraction of pixels not fully opaque)."""
    lo, _ = alpha.getextrema()
    if lo == 255:
        return True, 0.0
    a = np.asarray(alpha)
    return False, float(np.mean(a < 255))


def _decode(path: Path) -> tuple[Image.Image, str, str]:
    """Open, fully decode and convert to 8-bit RGB: (rgb image, mode on disk, note).

    Raises InputError(reason, path) for anything unusable. Policy (see docs/scan.md):
    L/P/CMYK/YCbCr -> RGB (lossless or standard); LA/RGBA/P with alpha -> RGB only if
    every pixel is fully opaque, refused otherwise (compositing would invent pixels);
    16-bit grayscale -> 8 bit only when lossless (all values <= 255, or all multiples of
    257), refused otherwise; 16-bit-per-channel RGB(A), float, 1-bit and multi-frame
    images are refused.
    """
    try:
        size = path.stat().st_size
    except PermissionError:
        raise InputError("cannot read: permission denied", path) from None
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", path) from None
    if size == 0:
        raise InputError("empty file (0 bytes)", path)
    try:
        im = Image.open(path)
    except PermissionError:
        raise InputError("cannot read: permission denied", path) from None
    except UnidentifiedImageError:
        raise InputError("not an image (no known image format in the file content)", path) from None
    except Image.DecompressionBombError as exc:
        raise InputError(f"refused: image too large ({exc})", path) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise InputError(f"not a readable image ({exc})", path) from None
    with im:
        mode, raw = im.mode, _rawmode(im)
        n_frames = getattr(im, "n_frames", 1)
        if n_frames > 1:
            raise InputError(f"refused: multi-frame image ({n_frames} frames), which frame is the cell "
                             "is ambiguous", path)
        if mode in ("RGB", "RGBA") and ";16" in raw:
            raise InputError(f"refused: 16 bits per channel ({raw}); no lossless 8-bit conversion "
                             "(convert to 8-bit RGB first)", path)
        try:
            im.load()  # full decode: a truncated or corrupt file fails here, not at encode time
        except Image.DecompressionBombError as exc:
            raise InputError(f"refused: image too large ({exc})", path) from None
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            text = str(exc)
            reason = "truncated" if "truncat" in text.lower() else "corrupt"
            raise InputError(f"{reason} image data ({text})", path) from None
        if im.width == 0 or im.height == 0:
            raise InputError(f"image has no pixels ({im.width}x{im.height})", path)
        return _to_rgb(im, mode, path)


def _to_rgb(im: Image.Image, mode: str, path: Path) -> tuple[Image.Image, str, str]:
    if mode == "RGB":
        return im.copy(), mode, ""  # copy: closing the file would destroy the decoded pixels
    if mode == "L":
        return im.convert("RGB"), mode, "converted from L (grayscale, replicated to 3 channels)"
    if mode in ("CMYK", "YCbCr"):
        return im.convert("RGB"), mode, f"converted from {mode}"
    if mode in ("P", "PA"):
        has_alpha = mode == "PA" or "transparency" in im.info
        if not has_alpha:
            return im.convert("RGB"), mode, "converted from P (palette)"
        im = im.convert("RGBA")
        ok, frac = _opaque(im.getchannel("A"))
        if not ok:
            raise InputError(f"refused: palette image with transparency ({frac:.1%} of pixels not "
                             "opaque); compositing would invent pixel values", path)
        return im.convert("RGB"), mode, f"converted from {mode} (palette, fully opaque)"
    if mode in ("LA", "RGBA"):
        ok, frac = _opaque(im.getchannel("A"))
        if not ok:
            raise InputError(f"refused: {mode} with real transparency ({frac:.1%} of pixels not "
                             "opaque); compositing on a background would invent pixel values", path)
        base = im.convert("L" if mode == "LA" else "RGB")
        return base.convert("RGB"), mode, f"converted from {mode} (fully opaque)"
    if mode in _SIXTEEN_BIT_GRAY:
        a = np.asarray(im)
        if a.size and a.min() < 0:
            raise InputError(f"refused: {mode} with negative values (min {a.min()})", path)
        hi = int(a.max()) if a.size else 0
        if hi <= 255:
            g = a.astype(np.uint8)
            note = f"converted from {mode} (all values <= 255, cast to 8 bit: lossless)"
        elif not np.any(a % 257):
            g = (a // 257).astype(np.uint8)
            note = f"converted from {mode} (8-bit values stored as v*257, divided: lossless)"
        else:
            raise InputError(f"refused: {mode} with values up to {hi}; no lossless 8-bit mapping "
                             "(the intended white level is unknown; convert to 8-bit first)", path)
        return Image.fromarray(np.repeat(g[..., None], 3, axis=2), "RGB"), mode, note
    if mode == "1":
        raise InputError("refused: 1-bit black-and-white image, not a stained smear", path)
    raise InputError(f"refused: unsupported pixel mode {mode} (need 8-bit RGB, L, P, LA/RGBA opaque, "
                     "CMYK, or lossless 16-bit gray)", path)


def load_rgb(path) -> Image.Image:
    """Open and fully decode ``path`` as 8-bit RGB (conversion policy in :func:`_decode`).

    Raises InputError(reason, path) for a file that is unreadable, empty, not an image,
    truncated, or whose pixels cannot be converted to RGB without inventing values.
    """
    return _decode(Path(path))[0]


def _check(path: Path) -> tuple[int, int, str, str] | str:
    """(width, height, mode, note) for a usable file, else the reason it is bad."""
    try:
        rgb, mode, note = _decode(path)
    except InputError as exc:
        return str(exc)[len(str(path)) + 2:] if str(exc).startswith(str(path)) else str(exc)
    except Exception as exc:  # noqa: BLE001 - a decoder bug on one file must not end the scan
        return f"unreadable ({type(exc).__name__}: {exc})"
    return rgb.width, rgb.height, mode, note


# --------------------------------------------------------------------------- walking

def _is_root_metadata(rel: Path) -> bool:
    return len(rel.parts) == 1 and (rel.name.lower() in ROOT_METADATA_NAMES
                                    or rel.suffix.lower() in ROOT_METADATA_SUFFIXES)


def _walk(root: Path) -> tuple[list[Path], list[BadFile]]:
    """All files under root (relative paths, sorted) and the folders that could not be walked.

    Follows symlinked folders (image sets are often assembled with links), but visits
    each real folder once: a second link to it (a cycle or a duplicate) is listed as
    bad instead of counting its images twice. Unreadable folders are listed, not skipped.
    """
    found, bad, seen = [], [], set()

    def onerror(exc: OSError) -> None:
        bad.append(BadFile(Path(exc.filename or root), f"cannot list folder: {exc.strerror or exc}"))

    for dirpath, dirnames, filenames in os.walk(root, onerror=onerror, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen:
            bad.append(BadFile(Path(dirpath), f"folder links to {real}, already scanned (symlink cycle "
                                              "or duplicate); its files are not counted twice"))
            dirnames[:] = []
            continue
        seen.add(real)
        dirnames.sort()
        base = Path(dirpath)
        for name in filenames:
            found.append((base / name).relative_to(root))
    return sorted(found, key=lambda p: p.as_posix()), bad


def _detect_layout(root: Path, candidates: list[Path]) -> str:
    depths = Counter(len(p.parts) for p in candidates)
    known = {d: name for name, d in LAYOUT_DEPTHS.items()}
    if len(depths) > 1:
        main_depth = depths.most_common(1)[0][0]
        odd = next(p for p in candidates if len(p.parts) != main_depth)
        counts = ", ".join(f"{n} at depth {d}" for d, n in sorted(depths.items()))
        raise InputError(f"images at mixed folder depths ({counts}) under {root}; expected one of "
                         + "; ".join(f"{k}: {v}" for k, v in LAYOUT_PATTERNS.items())
                         + ". Move the odd files, or pass --layout to choose one (the others are then "
                         "listed as bad)", root / odd)
    depth = next(iter(depths))
    if depth not in known:
        raise InputError(f"images at folder depth {depth}, which is no known layout; expected one of "
                         + "; ".join(f"{k}: {v}" for k, v in LAYOUT_PATTERNS.items())
                         + " (or pass --layout)", root / candidates[0])
    return known[depth]


def scan_images(root, *, strict: bool = False, layout: str | None = None,
                progress: ProgressArg = False) -> ScanResult:
    """Find, fully decode and describe every image under ``root``.

    ``layout`` None detects it from the depth of the image files; mixed depths are an
    InputError naming an offending file. With an explicit layout, image files at another
    depth are listed as bad. Non-image files are bad ("not an image suffix") except
    manifests at the root (labels.csv, truth.csv, metadata.csv, SOURCE.md, README, *.json),
    which are skipped. ``strict`` raises InputError listing every bad file. ``progress``:
    True for a bar on stderr (over PROGRESS_MIN_FILES files), or ``progress(desc, done, total)``
    called after each decoded file (:mod:`vexscreen.progress`).
    """
    root = Path(root).expanduser()
    if not root.exists():
        raise InputError("no such folder", root)
    if not root.is_dir():
        raise InputError("not a folder (scan needs the folder holding the images)", root)
    root = root.resolve()
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        warnings.warn("PIL.ImageFile.LOAD_TRUNCATED_IMAGES is True in this process: truncated images "
                      "decode without error and cannot be detected", RuntimeWarning, stacklevel=2)
    if layout is not None and layout not in LAYOUT_DEPTHS:
        raise InputError(f"unknown layout {layout!r}; choose one of {', '.join(LAYOUT_DEPTHS)}")
    files, walk_bad = _walk(root)
    files = [p for p in files if not _is_root_metadata(p)]
    if not files and not walk_bad:
        raise InputError("empty folder: no image files found", root)
    candidates = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
    bad = [BadFile(root / p, f"not an image suffix ({p.suffix or 'no suffix'}; images are "
                             f"{', '.join(IMAGE_SUFFIXES)})")
           for p in files if p.suffix.lower() not in IMAGE_SUFFIXES] + walk_bad
    if not candidates:
        example = files[0].as_posix() if files else walk_bad[0].path
        raise InputError(f"no image files found ({len(files)} other files, {len(walk_bad)} unlistable "
                         f"folders, e.g. {example})", root)
    if layout is None:
        layout = _detect_layout(root, candidates)
    depth = LAYOUT_DEPTHS[layout]
    placed = []
    for p in candidates:
        if len(p.parts) == depth:
            placed.append(p)
        else:
            bad.append(BadFile(root / p, f"at folder depth {len(p.parts)}, but the {layout} layout "
                                         f"puts images at depth {depth} ({LAYOUT_PATTERNS[layout]})"))

    paths = [root / p for p in placed]
    results = _check_all(paths, progress)
    images = []
    for p, path, res in zip(placed, paths, results):
        if isinstance(res, str):
            bad.append(BadFile(path, res))
            continue
        w, h, mode, note = res
        parts = p.parts
        group = parts[0] if depth >= 2 else None
        patient, sample = (parts[1], parts[2]) if depth == 4 else (None, None)
        images.append(ImageRecord(path, p.as_posix(), group, patient, sample, w, h, mode, note))
    images.sort(key=lambda r: r.rel)
    bad.sort(key=lambda b: b.path.as_posix())
    result = ScanResult(root, layout, images, bad)
    if strict and bad:
        raise InputError(f"{len(bad)} bad file(s) under {root} (--strict):\n" + result._bad_lines(), root)
    if not images:
        raise InputError(f"no usable images: all {len(bad)} file(s) are bad:\n" + result._bad_lines(), root)
    return result


def check_images(paths, *, progress: ProgressArg = False) -> list:
    """Decode every file as :func:`scan_images` does: per path, ``(width, height, mode, note)``
    for a usable image, else the reason (a str) it cannot be used. Same order as ``paths``.

    The scanner's own checks (full decode, the lossless RGB policy of :func:`load_rgb`), so
    images found another way (e.g. a patient folder, :mod:`vexscreen.screen`) pass the same test.
    """
    return _check_all([Path(p) for p in paths], progress)


def _check_all(paths: list[Path], progress: ProgressArg) -> list:
    """Decode every file with up to MAX_WORKERS threads (PIL releases the GIL while decoding)."""
    workers = max(1, min(MAX_WORKERS, os.cpu_count() or 1, len(paths)))
    pool = ThreadPoolExecutor(max_workers=workers) if workers > 1 else None
    try:
        results = pool.map(_check, paths, chunksize=16) if pool else map(_check, paths)
        out = []
        with Progress(progress, len(paths), desc="checking images", unit="img",
                      min_total=PROGRESS_MIN_FILES) as counter:
            for res in results:
                out.append(res)
                counter.update(1)
        return out
    finally:
        if pool is not None:
            pool.shutdown()


# --------------------------------------------------------------------------- result

@dataclass
class ScanResult:
    """The scan of one root: usable images (sorted by ``rel``) and bad files."""

    root: Path
    layout: str                     # "labeled" | "encoder_test" | "flat"
    images: list[ImageRecord]       # usable images, sorted by rel (deterministic row order)
    bad: list[BadFile]

    def metadata(self) -> pd.DataFrame:
        """One row per usable image, in ``images`` order; columns depend on the layout."""
        cols = METADATA_COLUMNS[self.layout]
        rows = {"PATIENT": [r.patient for r in self.images], "SAMPLE": [r.sample for r in self.images],
                "GROUP": [r.group for r in self.images], "IMAGE": [r.rel for r in self.images]}
        return pd.DataFrame({c: pd.Series(rows[c], dtype=object) for c in cols})

    def bad_files(self) -> list[dict]:
        """Every bad file as ``{"path": relative to the root, "reason": ...}`` (for a run's record)."""
        return [{"path": self._rel(b.path), "reason": b.reason} for b in self.bad]

    def _bad_lines(self) -> str:
        return "\n".join(f"  {self._rel(b.path)}: {b.reason}" for b in self.bad)

    def _rel(self, path: Path) -> str:
        try:
            return Path(path).relative_to(self.root).as_posix()
        except ValueError:
            return str(path)

    def summary(self) -> str:
        """Human-readable: counts per group/patient/sample, sizes, conversions, bad files."""
        imgs = self.images
        lines = [f"root: {self.root}", f"layout: {self.layout} ({LAYOUT_PATTERNS[self.layout]})",
                 f"usable images: {len(imgs)}; bad files: {len(self.bad)}"]
        if self.layout in ("labeled", "encoder_test"):
            lines += ["", "per group:"]
            by_group = Counter(r.group for r in imgs)
            for g in sorted(by_group):
                if self.layout == "labeled":
                    pats = {r.patient for r in imgs if r.group == g}
                    samples = {(r.patient, r.sample) for r in imgs if r.group == g}
                    lines.append(f"  {g}: {len(pats)} patients, {len(samples)} samples, {by_group[g]} images")
                else:
                    lines.append(f"  {g}: {by_group[g]} images")
        if self.layout == "labeled":
            lines += ["", "per patient (images per sample):"]
            per_sample = Counter((r.group, r.patient, r.sample) for r in imgs)
            for g, pat in sorted({(r.group, r.patient) for r in imgs}):
                ss = sorted((s, n) for (gg, pp, s), n in per_sample.items() if gg == g and pp == pat)
                total = sum(n for _, n in ss)
                lines.append(f"  {g}/{pat}: {len(ss)} samples, {total} images ("
                             + ", ".join(f"{s} {n}" for s, n in ss) + ")")
            counts = list(per_sample.values())
            lines.append(f"  images per sample: min {min(counts)}, median {statistics.median(counts):g}, "
                         f"max {max(counts)}")
            lines += self._warnings()
        lines += ["", "image sizes (W x H, px):"]
        ws, hs = [r.width for r in imgs], [r.height for r in imgs]
        lines.append(f"  width  min {min(ws)}, median {statistics.median(ws):g}, max {max(ws)}")
        lines.append(f"  height min {min(hs)}, median {statistics.median(hs):g}, max {max(hs)}")
        common = Counter((r.width, r.height) for r in imgs).most_common(5)
        lines.append("  most common: " + ", ".join(f"{w}x{h} ({n})" for (w, h), n in common))
        big = sum(max(r.width, r.height) > FULL_SIZE for r in imgs)
        if big:
            lines.append(f"  {big} images larger than {FULL_SIZE} px on a side (the study's full size); "
                         "see the oversize policy in docs/scan.md")
        notes = Counter(r.note for r in imgs if r.note)
        if notes:
            lines += ["", "converted to 8-bit RGB (used):"]
            for note, n in sorted(notes.items()):
                files = [r.rel for r in imgs if r.note == note]
                shown = ", ".join(files[:10]) + (f", ... and {n - 10} more" if n > 10 else "")
                lines.append(f"  {n} {note}: {shown}")
        if self.bad:
            lines += ["", f"bad files, skipped ({len(self.bad)}):"]
            lines.append(self._bad_lines())
        return "\n".join(lines)

    def _warnings(self) -> list[str]:
        """Label problems worth a look: a patient in two groups, a sample name in two patients."""
        out = []
        groups_of = {}
        for r in self.images:
            groups_of.setdefault(r.patient, set()).add(r.group)
        for pat, gs in sorted(groups_of.items()):
            if len(gs) > 1:
                out.append(f"  warning: patient {pat} appears in several groups: {', '.join(sorted(gs))}")
        pats_of = {}
        for r in self.images:
            pats_of.setdefault(r.sample, set()).add((r.group, r.patient))
        dup = sorted(s for s, ps in pats_of.items() if len(ps) > 1)
        if dup:
            out.append(f"  warning: {len(dup)} sample name(s) used by several patients (e.g. {dup[0]}); "
                       "tools that group by SAMPLE alone would merge them")
        return out
