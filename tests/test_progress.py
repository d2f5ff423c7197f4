"""Progress as the caller asks: a callback, a bar, or nothing; the library prints nothing else."""
from __future__ import annotations

import numpy as np
from PIL import Image

from vexscreen.data.scan import scan_images
from vexscreen import progress as progress_module
from vexscreen.progress import Progress


def test_callback_bar_and_silence(capsys):
    calls = []
    with Progress(lambda desc, done, total: calls.append((done, total)), 3) as p:
        p.update(1)
        p.update(2)
    assert calls == [(1, 3), (3, 3)]
    assert capsys.readouterr() == ("", "")
    with Progress(False, 3) as p:
        p.update(3)
    assert capsys.readouterr() == ("", "")
    with Progress(True, 3, desc="work", min_total=5) as p:  # too short a loop for a bar
        p.update(3)
    assert capsys.readouterr() == ("", "")



def test_bar_on_a_terminal_log_lines_in_a_file(capsys, caplog, monkeypatch):
    import sys

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    with Progress(True, 3, desc="work") as p:
        p.update(3)
    err = capsys.readouterr().err
    assert "work" in err and "3/3" in err
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)  # a log file or a pipe: no bar
    clock = [0.0]
    monkeypatch.setattr(progress_module.time, "monotonic", lambda: clock[0])

    def run(seconds_per_item, total=500):
        caplog.clear()
        clock[0] = 0.0
        with caplog.at_level("INFO", logger="vexscreen.progress"):
            with Progress(True, total, desc="work", unit="img") as p:
                for _ in range(total):
                    clock[0] += seconds_per_item
                    p.update()
        return [r.getMessage() for r in caplog.records if r.name == "vexscreen.progress"]

    assert run(0.01) == []  # a 5-second stage: nothing in the log
    # a 31-second stage: a line every LOG_EVERY seconds and one at the end, none per item
    assert run(0.0625) == ["work: 240/500 img", "work: 480/500 img", "work: 500/500 img"]
    assert capsys.readouterr().err == ""


def test_log_interval_from_the_environment(monkeypatch):
    import pytest

    from vexscreen.exceptions import InputError
    from vexscreen.progress import LOG_EVERY, log_every

    monkeypatch.delenv("VEXSCREEN_LOG_EVERY", raising=False)
    assert log_every() == LOG_EVERY == 15.0
    monkeypatch.setenv("VEXSCREEN_LOG_EVERY", "2.5")
    assert log_every() == 2.5
    for bad in ("-1", "soon", "nan"):
        monkeypatch.setenv("VEXSCREEN_LOG_EVERY", bad)
        with pytest.raises(InputError, match="VEXSCREEN_LOG_EVERY must be a number of seconds >= 0"):
            log_every()


def test_scan_reports_to_a_callback(tmp_path, capsys):
    for i in range(3):
        Image.fromarray(np.full((8, 8, 3), 40 * i, np.uint8)).save(tmp_path / f"cell_{i}.png")
    calls = []
    result = scan_images(tmp_path, progress=lambda desc, done, total: calls.append((done, total)))
    assert len(result.images) == 3 and calls == [(1, 3), (2, 3), (3, 3)]
    scan_images(tmp_path)  # silent by default
    assert capsys.readouterr() == ("", "")
