"""``vexscreen encode``: full-size inference of every image under a folder (METHOD.md Step 1)."""
from __future__ import annotations

import logging
import os

from . import (add_command, add_device_options, add_scan_options, bad_file_lines, scan_options,
               show_progress)
from .options import nonnegative_int, positive_int

log = logging.getLogger(__name__)


HELP = "encode images with a trained encoder (full size, batched)"
DESCRIPTION = """\
Encode every image under ROOT at full size (zero-padded, centred, to --full-size; larger images per
--oversize). Writes ENC/encodings.npy + ENC/metadata.csv (labeled or flat layout) or
ENC/encoder_test_encodings.npy + ENC/encoder_test_metadata.csv (ROOT/GROUP/img), rows in the sorted
scan order, atomically, plus ENC/encode.json (settings, and every skipped file with the reason)."""


def register(subparsers) -> None:
    from ..encoder.names import OVERSIZE

    p = add_command(subparsers, "encode", help=HELP, description=DESCRIPTION, func=run)
    p.add_argument("--encoder", required=True, metavar="FILE", help="encoder.pt from train-encoder")
    p.add_argument("--images", required=True, metavar="ROOT", help="image folder")
    p.add_argument("--out", required=True, metavar="ENC", help="output folder")
    p.add_argument("--full-size", type=positive_int, default=None, metavar="PX",
                   help="full-size side (default: the encoder's field if it was trained on one, else its "
                        "full size, 272)")
    p.add_argument("--oversize", choices=OVERSIZE, default=None,
                   help="images larger than --full-size: pad all to the set's largest side (nothing cut), "
                        "resize them to fit, or centre-crop them (default: crop for an encoder trained on "
                        "a --field, else pad)")
    p.add_argument("--batch-size", type=positive_int, default=32, metavar="N", help="images per batch")
    p.add_argument("--workers", type=nonnegative_int, default=min(2, os.cpu_count() or 1), metavar="N",
                   help="DataLoader worker processes (0: load in the main process)")
    add_scan_options(p)
    add_device_options(p, distributed=True)
    p.add_argument("--device", default=None, metavar="DEVICE", help="deprecated: use --accelerator and --devices")


def run(args) -> int:
    from ..data.scan import scan_images
    from ..encoder.encoder_file import read_encoder_file
    from ..encoder.inference import encode_scan

    accelerator, devices = (args.accelerator, args.devices) if args.device is None else device_alias(args.device)
    # several devices, nodes or a strategy: Lightning's Trainer.predict, one process per device
    lightning = args.num_nodes > 1 or args.strategy != "auto" or devices not in ("auto", 1)
    where = (dict(accelerator=accelerator, devices=devices, num_nodes=args.num_nodes, strategy=args.strategy)
             if lightning else dict(device=torch_device(accelerator, devices)))
    read_encoder_file(args.encoder)  # fail on a bad encoder before a long scan
    scan = scan_images(args.images, progress=show_progress(args), **scan_options(args))
    s = encode_scan(args.encoder, scan, args.out, full_size=args.full_size, oversize=args.oversize,
                    batch_size=args.batch_size, workers=args.workers, progress=show_progress(args),
                    **where)
    if not s["is_global_zero"]:  # several processes: rank 0 reports
        return 0
    if s["bad_files"]:
        print(f"skipped {len(s['bad_files'])} bad file(s) (listed in {args.out}/encode.json; --strict to fail):")
        print("\n".join(bad_file_lines(s["bad_files"])))
    print(f"encoded {s['images']} images ({s['layout']} layout) -> {s['dim']}-d, {s['seconds']} s, "
          f"{s['images_per_second']} images/s")
    print(s["treatment"])
    print("wrote " + ", ".join(f"{args.out}/{f}" for f in s["files"]) + f", {args.out}/encode.json")
    return 0


def device_alias(device: str):
    """``--device`` (deprecated) in Lightning's words: cpu, cuda, cuda:N, mps."""
    from ..exceptions import InputError

    kind, _, index = device.partition(":")
    if kind not in ("cpu", "cuda", "mps") or (index and not index.isdigit()):
        raise InputError(f"--device {device!r}: give cpu, cuda, cuda:N or mps (better: --accelerator and --devices)")
    log.warning("--device is deprecated: use --accelerator %s%s", "gpu" if kind == "cuda" else kind,
                f" --devices {index}," if index else "")
    return ("gpu" if kind == "cuda" else kind), (f"{index}," if index else "auto")


def torch_device(accelerator: str, devices) -> str:
    """The one torch device encode runs on, from Lightning's words."""
    from ..exceptions import InputError

    if accelerator == "auto":
        import torch

        accelerator = "gpu" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    kinds = {"cpu": "cpu", "gpu": "cuda", "cuda": "cuda", "mps": "mps"}
    if accelerator not in kinds:
        raise InputError(f"--accelerator {accelerator!r}: encode runs on cpu, gpu, mps or auto")
    if devices in ("auto", 1):
        return kinds[accelerator]
    if isinstance(devices, str) and devices.count(",") == 1 and devices.endswith(","):
        return f"{kinds[accelerator]}:{devices[:-1]}"
    raise InputError(f"--devices {devices}: encode runs on one device (1, auto, or one index such as 0,)")
