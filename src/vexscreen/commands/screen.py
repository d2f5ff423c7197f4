"""``vexscreen screen``: apply a reference model to new patients' exports; one report per patient."""
from __future__ import annotations

import tempfile
from pathlib import Path

from . import add_command, show_progress
from .options import nonnegative_int

SUMMARY = "summary.csv"


HELP = "screen new patients with a reference model (from fit-model)"
DESCRIPTION = """\
Each PATIENT_DIR is one patient's export: sub-folders by cell class (neutrophil, band neutrophil,
monocyte, lymphocyte, ...), optionally below one level of sample folders. Writes
OUT/<PATIENT>/report.json, cells.csv (and report.html when the report renderer is installed), the
encodings in OUT/<PATIENT>/<type>/ (a re-run resumes), and OUT/summary.csv. A patient that fails is
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
    from ..screen import read_class_map

    model = ReferenceModel.load(args.model)
    class_map = read_class_map(args.class_map) if args.class_map is not None else None
    check_writable(args.out)
    rows, done, seen = [], [], {}
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
            report = write_patient(result, args.out / name)
        except (ValueError, OSError) as exc:  # InputError is a ValueError
            message = " ".join(str(exc).split())
            print(f"{name}: error: {message}")
            rows.append(summary_row(name, None, error=message))
            continue
        print(f"{name}: {result.statement} -> {report}")
        rows.append(summary_row(name, result, report=report))
        done.append(result)
    write_summary(args.out, rows, done)
    failed = sum(r["status"] == "error" for r in rows)
    print(f"screened {len(done)} of {len(rows)} patient(s)" + (f"; {failed} failed" if failed else "")
          + f"; wrote {args.out / SUMMARY}")
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


def _renderer():
    try:
        from ..report import screening
    except ImportError:
        return None
    return screening


def write_patient(result, folder: Path) -> Path:
    """report.json + cells.csv (atomic), and report.html when the report renderer is installed.

    Returns the file to open: report.html if rendered, else report.json.
    """
    from ..data import write_csv, write_json

    write_json(folder / "report.json", result.to_dict())
    write_csv(folder / "cells.csv", result.cells_frame())
    renderer = _renderer()
    if renderer is None:
        return folder / "report.json"
    renderer.render_patient_report(result.to_dict(), folder, Path(result.image_root))
    return folder / "report.html"


def summary_row(name: str, result, *, report: Path | None = None, error: str = "") -> dict:
    row = {"patient": name, "status": "error" if result is None else "ok", "verdict": None,
           "probability": None, "interval_low": None, "interval_high": None}
    if result is not None:
        row.update(verdict=result.verdict, probability=result.probability,
                   interval_low=result.interval[0] if result.interval else None,
                   interval_high=result.interval[1] if result.interval else None)
        row.update({f"n_{ct}": r.n_cells for ct, r in result.cell_types.items()})
    row.update(report=str(report) if report else "", error=error)
    return row


def write_summary(out: Path, rows: list[dict], results: list) -> None:
    import pandas as pd

    from ..data import write_csv

    table = pd.DataFrame(rows)
    for col in [c for c in table.columns if c.startswith("n_")]:
        table[col] = table[col].astype("Int64")  # counts stay whole numbers beside a failed patient's blanks
    write_csv(out / SUMMARY, table)
    renderer = _renderer()
    if renderer is not None and results:
        renderer.render_index([r.to_dict() for r in results], out / "index.html")
