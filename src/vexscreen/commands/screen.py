"""``vexscreen screen``: apply a reference model to new patients' exports; one report per patient."""
from __future__ import annotations

import tempfile
from pathlib import Path

from . import add_command, show_progress
from .options import nonnegative_int

HELP = "screen new patients with a reference model (from fit-model)"
DESCRIPTION = """\
Each PATIENT_DIR is one patient's export: sub-folders by cell class (neutrophil, band neutrophil,
monocyte, lymphocyte, ...), optionally below one level of sample folders. Writes
OUT/<PATIENT>/report.html, report.json and cells.csv, the encodings in OUT/<PATIENT>/<type>/ (a
re-run resumes), and OUT/summary.csv and OUT/index.html (links to every report). A patient that fails is
reported in one line and the others go on; the exit status is then 2. vexscreen is a research tool,
not a diagnostic device; UBA1 sequencing confirms VEXAS."""


def register(sub) -> None:
    p = add_command(sub, "screen", help=HELP, description=DESCRIPTION, func=run)
    p.add_argument("patients", nargs="+", type=Path, metavar="PATIENT_DIR", help="patient folder(s)")
    p.add_argument("--model", required=True, type=Path, metavar="MODEL", help="model folder from fit-model")
    p.add_argument("--out", required=True, type=Path, metavar="OUT", help="output folder")
    p.add_argument("--class-map", type=Path, metavar="FILE",
                   help="CSV (folder,cell_type) or JSON ({folder: type}) mapping class folders to "
                        "PN|MO|LY|ignore, on top of the default map (docs/screening.md)")
    p.add_argument("--workers", type=nonnegative_int, default=0, metavar="N",
                   help="DataLoader worker processes (0: load in the main process)")


def run(args) -> int:
    from ..exceptions import InputError
    from ..model import ReferenceModel
    from ..report.screening import render_index, render_patient_report
    from ..screen import read_class_map

    model = ReferenceModel.load(args.model)
    class_map = read_class_map(args.class_map) if args.class_map is not None else None
    check_writable(args.out)
    entries, seen = [], {}
    for folder in args.patients:
        name = folder.resolve().name if folder.exists() else folder.name
        try:
            if name in seen:
                raise InputError(f"a second patient folder named {name!r} (first: {seen[name]}); patient "
                                 "folder names must differ", folder)
            seen[name] = folder
            check_writable(args.out / name)
            result = model.screen(folder, args.out / name, class_map=class_map, progress=show_progress(args),
                                  workers=args.workers)
            report = render_patient_report(result.to_dict(), args.out / name, Path(result.image_root))
        except (ValueError, OSError) as exc:  # InputError is a ValueError
            message = " ".join(str(exc).split())
            print(f"{name}: error: {message}")
            entries.append({"patient": name, "error": message})
            continue
        print(f"{name}: {result.statement} -> {report}")
        entries.append(result.to_dict())
    summary, index = render_index(entries, args.out)
    failed = sum("error" in e for e in entries)
    unlike = sum(bool((e.get("applicability") or {}).get("flagged")) for e in entries)
    print(f"screened {len(entries) - failed} of {len(entries)} patient(s)" + (f"; {failed} failed" if failed else "")
          + (f"; {unlike} unlike the reference patients (their verdicts extrapolate)" if unlike else "")
          + f"; wrote {summary} and {index}")
    return 2 if failed else 0


def check_writable(out: Path) -> None:
    """Fail early, naming the folder, when OUT cannot be created or written."""
    from ..exceptions import InputError

    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise InputError(f"output folder cannot be written ({exc.strerror or exc})", out) from None
