"""``vexscreen encode``: full-size inference of every image under a folder (METHOD.md Step 1)."""
from __future__ import annotations

import argparse
import os


def register(subparsers) -> None:
    from ..encoder.names import OVERSIZE

    p = subparsers.add_parser(
        "encode", help="encode images with a trained encoder (full size, batched)",
        description="Encode every image under ROOT at full size (zero-padded, centred, to --full-size; "
                    "larger images per --oversize). Writes ENC/encodings.npy + ENC/metadata.csv "
                    "(labeled or flat layout) or ENC/encoder_test_encodings.npy + "
                    "ENC/encoder_test_metadata.csv (ROOT/GROUP/img), rows in the sorted scan order, "
                    "atomically, plus ENC/encode.json.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--encoder", required=True, help="encoder.pt from train-encoder")
    p.add_argument("--images", required=True, metavar="ROOT", help="image folder")
    p.add_argument("--out", required=True, metavar="ENC", help="output folder")
    p.add_argument("--full-size", type=int, default=None,
                   help="full-size side (default: the encoder's field if it was trained on one, else its "
                        "full size, 272)")
    p.add_argument("--oversize", choices=OVERSIZE, default=None,
                   help="images larger than --full-size: pad all to the set's largest side (nothing cut), "
                        "resize them to fit, or centre-crop them (default: crop for an encoder trained on "
                        "a --field, else pad)")
    p.add_argument("--layout", choices=("labeled", "encoder_test", "flat"), default=None,
                   help="image layout; detected from the folder depth when not given")
    p.add_argument("--strict", action="store_true", help="fail on any bad file instead of skipping it")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1), help="DataLoader workers")
    p.add_argument("--device", default="cpu", help="torch device (cpu, cuda, ...)")
    p.add_argument("--accelerator", default=None,
                   help="encode through Lightning's Trainer.predict on this accelerator (cpu, gpu, ...), "
                        "one process per device, rows as with one process (docs/encoder.md)")
    p.add_argument("--devices", default=None, help="Lightning devices per node, e.g. 4 or auto")
    p.add_argument("--num-nodes", type=int, default=1, help="Lightning nodes (output folder on a shared filesystem)")
    p.add_argument("--strategy", default="auto", help="Lightning strategy, e.g. ddp")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..exceptions import InputError
    from ..data.scan import scan_images
    from ..encoder.encoder_file import read_encoder_file
    from ..encoder.inference import encode_scan

    if args.batch_size < 1:
        raise InputError("--batch-size must be at least 1")
    if args.workers < 0:
        raise InputError("--workers must be at least 0")
    if args.full_size is not None and args.full_size < 1:
        raise InputError("--full-size must be at least 1")
    if args.num_nodes < 1:
        raise InputError("--num-nodes must be at least 1")
    devices = int(args.devices) if args.devices is not None and args.devices.lstrip("-").isdigit() else args.devices
    if isinstance(devices, int) and devices < 1:
        raise InputError("--devices must be at least 1 (or auto)")
    read_encoder_file(args.encoder)  # fail on a bad encoder before a long scan
    scan = scan_images(args.images, strict=args.strict, layout=args.layout, progress=not args.no_progress)
    if scan.bad:
        print(f"skipped {len(scan.bad)} bad file(s) (see `vexscreen scan {args.images}`; --strict to fail)")
    s = encode_scan(args.encoder, scan, args.out, full_size=args.full_size, oversize=args.oversize,
                    batch_size=args.batch_size, workers=args.workers, progress=not args.no_progress,
                    device=args.device, accelerator=args.accelerator, devices=devices,
                    num_nodes=args.num_nodes, strategy=args.strategy)
    if not s["is_global_zero"]:  # several processes: rank 0 reports
        return 0
    print(f"encoded {s['images']} images ({s['layout']} layout) -> {s['dim']}-d, {s['seconds']} s, "
          f"{s['images_per_second']} images/s")
    print(s["treatment"])
    print("wrote " + ", ".join(f"{args.out}/{f}" for f in s["files"]) + f", {args.out}/encode.json")
    return 0
