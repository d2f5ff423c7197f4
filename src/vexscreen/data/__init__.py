"""Data: encoding sets, atomic writes (and, for images, the scanner)."""
from .atomic import atomic_path, file_sha256, save_figure, write_csv, write_json, write_npy, write_text
from .encodings import EncodingSet, combine_blocks, load_encodings, save_encodings

__all__ = ["EncodingSet", "atomic_path", "combine_blocks", "file_sha256", "load_encodings", "save_encodings",
           "save_figure", "write_csv", "write_json", "write_npy", "write_text"]

# Image scanner (no torch import here; full-size image batches: vexscreen.encoder.inference.FullSizeImages).
from .scan import IMAGE_SUFFIXES, BadFile, ImageRecord, ScanResult, load_rgb, scan_images  # noqa: E402

__all__ += ["IMAGE_SUFFIXES", "BadFile", "ImageRecord", "ScanResult", "load_rgb", "scan_images"]
