"""Render docs/img/report_example.png: a screenshot of a screening report in headless Chromium.

    python docs/img/report_example.py [--images ../shared/data/wbc] [--report OUT/P1/report.html]

Without ``--report`` it renders vexscreen.report.screening.example_result from real cell images
(made-up scores; the page says EXAMPLE in a banner) and screenshots that. With ``--report`` it
screenshots an existing report instead (e.g. one written by ``vexscreen screen``).
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars")


def screenshot(page: Path, png: Path, width: int, height: int) -> None:
    exe = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if exe is None:
        sys.exit("headless Chromium not found (Debian: apt-get install -y chromium)")
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([exe, *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}",
                        f"--screenshot={png}", page.resolve().as_uri()],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, default=REPO.parent / "shared" / "data" / "wbc")
    parser.add_argument("--report", type=Path, help="screenshot this report.html instead of the example")
    parser.add_argument("--out", type=Path, default=HERE / "report_example.png")
    parser.add_argument("--width", type=int, default=1100)
    parser.add_argument("--height", type=int, default=2250)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        page = args.report
        if page is None:
            from vexscreen.report.screening import example_result, render_patient_report

            page = render_patient_report(example_result(args.images), Path(tmp) / "EXAMPLE",
                                         image_root=args.images)
        raw = Path(tmp) / "shot.png"
        screenshot(page, raw, args.width, args.height)
        # 256 colours: a third of the bytes, and the text stays sharp
        shot = Image.open(raw).convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT)
        shot.save(args.out, optimize=True)
    print(args.out)


if __name__ == "__main__":
    main()
