"""The screening report (issue 12.4): its files, its content, and the page in a real browser.

The browser tests drive headless Chromium over the DevTools protocol on a pipe
(``--remote-debugging-pipe``: fd 3 in, fd 4 out, NUL-separated JSON), so they need neither a
websocket library nor a port. They fail in CI when Chromium is missing (.ci/run installs it)
and skip elsewhere, saying why.
"""
from __future__ import annotations

import base64
import fcntl
import html.parser
import io
import json
import logging
import math
import os
import re
import select
import shutil
import signal
import time
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from vexscreen.exceptions import InputError
from vexscreen.report.screening import (
    DISCLAIMER, N_BOTTOM, N_TOP, check_result, example_result, format_measurement, format_statement,
    render_index, render_patient_report, select_gallery,
)

REPO = Path(__file__).resolve().parents[2]
WBC = REPO.parent / "shared" / "data" / "wbc"
#: The test cohort's folders: (folder, phantom cell type, images).
FOLDERS = (("neutrophil", "PN", 40), ("monocyte", "MO", 32), ("lymphocyte", "LY", 6), ("basophil", "LY", 3))


@pytest.fixture(scope="module")
def cell_root(tmp_path_factory) -> Path:
    """A small patient export: real PBC images (../shared), else phantom cells; and one corrupt file."""
    from vexscreen.phantom.render import CellSpec, render_cell

    root = tmp_path_factory.mktemp("export")
    rng = np.random.default_rng(12)
    for folder, ct, n in FOLDERS:
        (root / folder).mkdir()
        if WBC.is_dir():
            for src in sorted((WBC / folder).iterdir())[:n]:
                shutil.copy(src, root / folder / src.name)
        else:
            for k in range(n):
                img = render_cell(CellSpec(cell_type=ct, n_vacuoles=k % 4), rng)
                Image.fromarray(img).save(root / folder / f"{folder}_{k:03d}.jpg", quality=92)
    (root / "neutrophil" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a JPEG after all")
    return root


@pytest.fixture(scope="module")
def report(cell_root, tmp_path_factory):
    """(result, report folder) of the example rendered from ``cell_root``."""
    result = example_result(cell_root)
    out = tmp_path_factory.mktemp("out") / "EXAMPLE"
    render_patient_report(result, out, image_root=cell_root)
    return result, out


class _Collect(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def _tags(page: str) -> list[tuple[str, dict]]:
    parser = _Collect()
    parser.feed(page)
    return parser.tags


# --------------------------------------------------------------------------- files and content


def test_report_files_hold_the_result(report, cell_root):
    result, out = report
    assert sorted(p.name for p in out.iterdir()) == ["cells.csv", "report.html", "report.json"]
    assert json.loads((out / "report.json").read_text()) == json.loads(json.dumps(result))
    cells = pd.read_csv(out / "cells.csv")
    assert len(cells) == len(result["cells"]) == 40 + 32 + 6  # the corrupt file is not a cell
    assert list(cells.columns) == ["image", "cell_type", "score", "vacuole_count", "vacuole_area_um2",
                                   "nucleus_lobes", "quality"]
    first = result["cells"][0]
    assert cells.loc[0, "image"] == first["image"] and math.isclose(cells.loc[0, "score"], first["score"])
    assert (cell_root / cells.loc[0, "image"]).is_file()
    assert cells["cell_type"].value_counts().to_dict() == {"PN": 40, "MO": 32, "LY": 6}
    assert cells["score"].isna().tolist() == [c["score"] is None for c in result["cells"]]  # LY: unused
    assert result["ignored"]["classes"] == {"basophil": 3}
    assert [b["path"] for b in result["ignored"]["bad_files"]] == ["neutrophil/broken.jpg"]


def test_page_shows_what_the_result_says(report):
    result, out = report
    page = (out / "report.html").read_text()
    assert result["statement"].startswith("VEXAS-like: ")
    assert "from 40 neutrophils and 32 monocytes" in result["statement"]
    assert f'<h1 id="statement">{result["statement"]}</h1>' in page
    assert DISCLAIMER in page and "EXAMPLE, not a screening result" in page
    assert page.count('class="tile"') == N_TOP + N_BOTTOM
    assert page.count('class="lightbox"') == N_TOP + N_BOTTOM
    for i in result["gallery"]["top"][:3]:
        assert f'href="#cell-{i}"' in page and f'id="cell-{i}"' in page
    vac = result["measurements"][0]
    assert vac["name"] == "vacuolated neutrophils" and f"<b>{vac['patient']:.0f}%</b>" in page
    assert "25-60%" in page and "broken.jpg" in page and "basophil" in page
    assert "not used by this model" in page  # lymphocytes: assessable or why not
    assert result["model"]["sha256"] in page and "LOPO AUC" in page


def test_each_cell_type_shows_its_own_reference_evidence(report, cell_root, tmp_path):
    """A cell type that alone tells the reference patients apart no better than chance adds
    noise to the combined score: the page says how each type did on its own."""
    result, out = report
    page = (out / "report.html").read_text()
    for ct, level in result["reference"]["patient_level"]["cell_types"].items():
        assert f"LOPO AUC {level['auc']:.2f} (p={level['p_value']:.3f})" in page, ct
    weak = json.loads(json.dumps(result))
    weak["reference"]["patient_level"]["cell_types"]["MO"] = {"auc": 0.44, "p_value": 0.636}
    del weak["reference"]["patient_level"]["cell_types"]["PN"]  # older results do not say
    page = render_patient_report(weak, tmp_path / "weak", image_root=cell_root).read_text()
    row = lambda code: page.split(f"({code})</td>")[1].split("</tr>")[0]  # noqa: E731
    assert "LOPO AUC 0.44 (p=0.636)" in row("MO")
    assert "LOPO AUC" not in row("PN") and row("PN").rstrip().endswith("<td class=\"nowrap\">-</td>")


def test_page_says_whether_the_patient_is_like_the_reference(report, cell_root, tmp_path):
    """Cells unlike every reference patient's (another analyser, stain, magnification) get a
    warning box with the measurements furthest from the reference; like ones a quiet line;
    a result without the check (an older model) says it was not checked."""
    result, out = report
    page = (out / "report.html").read_text()
    section = " ".join(page.split('<section id="applicability"')[1].split("</section>")[0].split())
    assert section.startswith('class="like"') and "Like the reference patients" in section
    assert "distance 1.12" in section and "0.74-2.31" in section and "1 in 13" in section
    unlike = json.loads(json.dumps(result))
    unlike["applicability"].update(distance=12.6, p_value=1 / 13, flagged=True, furthest=[
        {"cell_type": "PN", "name": "neutrophils: cell_area_um2", "unit": "µm²", "patient": 155.2,
         "reference": [110.7, 118.4], "z": 19.6}])
    page = render_patient_report(unlike, tmp_path / "unlike", image_root=cell_root).read_text()
    section = " ".join(page.split('<section id="applicability"')[1].split("</section>")[0].split())
    assert section.startswith('class="unlike"') and "Unlike the reference patients" in section
    assert "than any of the 12 reference patients" in section and "extrapolates" in section
    assert "neutrophils: cell_area_um2" in section and "155 µm²" in section and "+19.6" in section
    none = {k: v for k, v in result.items() if k != "applicability"}
    page = render_patient_report(none, tmp_path / "none", image_root=cell_root).read_text()
    assert "Not checked" in page.split('<section id="applicability"')[1].split("</section>")[0]


def test_page_loads_nothing_from_the_network(report):
    page = (report[1] / "report.html").read_text()
    assert not re.search(r"https?://", page)
    tags = _tags(page)
    assert not [t for t, _ in tags if t in ("script", "link", "iframe", "object", "embed")]
    srcs = [a["src"] for _, a in tags if "src" in a]
    assert len(srcs) >= 2 * (N_TOP + N_BOTTOM) and all(s.startswith("data:image/") for s in srcs)
    assert all(a["href"].startswith("#") for _, a in tags if "href" in a)
    assert "url(" not in page and "@import" not in page and "@font-face" not in page
    csp = [a["content"] for t, a in tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert csp == ["default-src 'none'; img-src data:; style-src 'unsafe-inline'"]


def test_full_size_view_embeds_the_image_file_itself(report, cell_root):
    result, out = report
    page = (out / "report.html").read_text()
    i = result["gallery"]["top"][0]
    box = page[page.index(f'id="cell-{i}"'):]
    uri = re.search(r'<img src="(data:image/jpeg;base64,[^"]+)"', box).group(1)
    data = base64.b64decode(uri.split(",", 1)[1])
    assert data == (cell_root / result["cells"][i]["image"]).read_bytes()


def test_gallery_holds_the_top_and_bottom_scores(report):
    result, _ = report
    scores = [c["score"] for c in result["cells"] if c["score"] is not None]
    top = [result["cells"][i]["score"] for i in result["gallery"]["top"]]
    bottom = [result["cells"][i]["score"] for i in result["gallery"]["bottom"]]
    assert top == sorted(scores, reverse=True)[:N_TOP]
    assert bottom == sorted(scores)[:N_BOTTOM]


def test_select_gallery_is_deterministic_and_disjoint():
    cells = [{"score": s} for s in (0.5, None, 0.9, 0.1, 0.5, 0.3)]
    assert select_gallery(cells, n_top=2, n_bottom=2) == {"top": [2, 0], "bottom": [3, 5]}
    assert select_gallery(cells, n_top=4, n_bottom=4) == {"top": [2, 0, 4, 5], "bottom": [3]}
    assert select_gallery([]) == {"top": [], "bottom": []}


def test_patient_text_is_escaped(cell_root, tmp_path):
    result = example_result(cell_root, n_cells={"PN": 30, "MO": 30, "LY": 0})
    result["patient"] = '<img src=x onerror="alert(1)">'
    page = render_patient_report(result, tmp_path / "p").read_text()
    assert "<img src=x" not in page and "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in page


def test_indeterminate_patient(cell_root, tmp_path):
    result = example_result(cell_root, n_cells={"PN": 6, "MO": 3})
    assert result["verdict"] == "indeterminate" and result["probability"] is None
    assert result["statement"] == ("indeterminate: 6 neutrophils and 3 monocytes, "
                                   "fewer than the 30 the model needs")
    page = render_patient_report(result, tmp_path / "p", image_root=cell_root).read_text()
    assert result["statement"] in page and 'class="verdict indeterminate"' in page
    saved = json.loads((tmp_path / "p" / "report.json").read_text())
    assert saved["probability"] is None and saved["cell_types"]["PN"]["n_cells"] == 6


def test_statement_names_what_it_rests_on():
    def ct(n, ok, p=None):
        return {"n_cells": n, "assessable": ok, "probability": p}

    need = {"PN": 30, "MO": 30}
    both = {"PN": ct(412, True), "MO": ct(63, True), "LY": ct(80, False)}
    assert (format_statement("VEXAS-like", 0.91, [0.84, 0.96], both, need)
            == "VEXAS-like: 0.91 [0.84-0.96] from 412 neutrophils and 63 monocytes")
    one = {"PN": ct(412, True), "MO": ct(1, False)}
    assert (format_statement("not VEXAS-like", 0.12, [0.05, 0.2], one, {"PN": 30, "MO": 20})
            == "not VEXAS-like: 0.12 [0.05-0.20] from 412 neutrophils "
               "(not assessable: 1 monocyte, fewer than the 20 the model needs)")
    assert (format_statement("indeterminate", None, None, {"PN": ct(6, False)}, need)
            == "indeterminate: 6 neutrophils, fewer than the 30 the model needs")


def test_measurement_line():
    m = {"name": "vacuolated neutrophils", "unit": "%", "patient": 38.2,
         "reference": {"VEXAS": [25, 60], "UBA1-WT": [1, 4]}}
    assert (format_measurement(m, ["UBA1-WT", "VEXAS"])
            == "vacuolated neutrophils: 38% (reference VEXAS 25-60%, UBA1-WT 1-4%)")
    m = {"name": "vacuole area", "unit": "µm²", "patient": None, "reference": {"VEXAS": [1.2, 2.8]}}
    assert format_measurement(m, ["MDS", "VEXAS"]) == "vacuole area: n/a (reference VEXAS 1.2-2.8 µm²)"


@pytest.mark.parametrize("change, message", [
    (lambda r: r.update(version=2), "version 1"),
    (lambda r: r.update(probability=float("nan")), "result.probability is nan"),
    (lambda r: r.update(verdict="VEXAS"), "verdict 'VEXAS'"),
    (lambda r: r["gallery"]["top"].append(10 ** 6), "gallery.top indices [1000000]"),
    (lambda r: r.pop("cells"), "lacks cells"),
    (lambda r: r["cell_types"].update(EO={}), "unknown cell types ['EO']"),
])
def test_a_bad_result_is_refused_by_name(report, change, message):
    result = json.loads(json.dumps(report[0]))
    change(result)
    with pytest.raises(InputError, match=re.escape(message)):
        check_result(result)


def test_numpy_values_are_written_as_plain_json(report, tmp_path):
    result = json.loads(json.dumps(report[0]))
    result["probability"] = np.float32(0.5)
    result["interval"] = np.array([0.25, 0.75])
    result["cell_types"]["PN"]["n_cells"] = np.int64(40)
    render_patient_report(result, tmp_path / "p")
    saved = json.loads((tmp_path / "p" / "report.json").read_text())
    assert saved["probability"] == 0.5 and saved["interval"] == [0.25, 0.75]
    assert saved["cell_types"]["PN"]["n_cells"] == 40


def test_an_unreadable_cell_image_leaves_an_empty_tile(report, cell_root, tmp_path, caplog):
    result = json.loads(json.dumps(report[0]))
    result["cells"][result["gallery"]["top"][0]]["image"] = "neutrophil/gone.jpg"
    with caplog.at_level(logging.WARNING, logger="vexscreen.report.screening"):
        page = render_patient_report(result, tmp_path / "p", image_root=cell_root).read_text()
    assert page.count("image not readable") == 1 and page.count('class="lightbox"') == N_TOP + N_BOTTOM - 1
    assert "gone.jpg" in caplog.text


def test_a_report_folder_that_cannot_be_made(report, tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match=r"/file/P1: cannot write the report \(Not a directory\)"):
        render_patient_report(report[0], tmp_path / "file" / "P1")
    with pytest.raises(InputError, match="cannot write the report"):
        render_index([report[0]], tmp_path / "file")


@pytest.fixture(scope="module")
def batch(cell_root, tmp_path_factory):
    """Three patients: a VEXAS-like one, an indeterminate one (name with a space), a failed one."""
    out = tmp_path_factory.mktemp("batch")
    one = {**example_result(cell_root), "patient": "P1"}
    two = {**example_result(cell_root, n_cells={"PN": 6, "MO": 3}, seed=1), "patient": "P 2"}
    for r in (one, two):
        render_patient_report(r, out / r["patient"], image_root=cell_root)
    failed = {"patient": "P3", "error": "P3: no usable image (12 files, all unreadable)"}
    return out, render_index([one, two, failed], out)


def test_index_summarises_and_links_every_patient(batch):
    out, (summary, index) = batch
    frame = pd.read_csv(summary, keep_default_na=False)
    assert list(frame.columns) == ["patient", "status", "verdict", "probability", "interval_low", "interval_high",
                                   "unlike_reference", "reference_distance", "reference_p",
                                   "n_PN", "n_MO", "n_LY", "report", "error"]
    assert frame["unlike_reference"].tolist() == ["False", "", ""]  # the indeterminate one is not checked
    assert float(frame.loc[0, "reference_distance"]) == 1.12 and frame.loc[2, "reference_p"] == ""
    assert frame["patient"].tolist() == ["P1", "P 2", "P3"]
    assert frame["verdict"].tolist() == ["VEXAS-like", "indeterminate", ""]
    assert frame["status"].tolist() == ["ok", "ok", "error"]
    assert frame["n_PN"].tolist() == ["40", "6", ""] and frame["n_MO"].tolist() == ["32", "3", ""]
    assert float(frame.loc[0, "probability"]) > 0.5 and frame.loc[1, "probability"] == ""
    for rel in frame["report"][:2]:
        assert (out / rel).is_file()
    assert frame.loc[2, "report"] == "" and frame.loc[2, "error"].startswith("P3: no usable image")
    page = index.read_text()
    hrefs = [a["href"] for t, a in _tags(page) if t == "a"]
    assert hrefs == ["P1/report.html", "P%202/report.html"]
    assert "P3: no usable image (12 files, all unreadable)" in page and "screening failed" in page
    assert DISCLAIMER in page and not re.search(r"https?://", page)


def test_templates_ship_with_the_package():
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "report/templates/*" in pyproject["tool"]["setuptools"]["package-data"]["vexscreen"]
    assert any(d.startswith("jinja2") for d in pyproject["project"]["dependencies"])


# --------------------------------------------------------------------------- the real browser

CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars", "--mute-audio", "--remote-debugging-pipe")


def find_chromium() -> str | None:
    for name in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def _high_fd(fd: int) -> int:
    """The same pipe end on a descriptor >= 10, so that mapping others onto 3 and 4 cannot clobber it."""
    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return high


class Chromium:
    """Headless Chromium driven by the DevTools protocol over a pipe: fd 3 in, fd 4 out."""

    def __init__(self, exe: str, profile: Path):
        to_chrome, self._out = map(_high_fd, os.pipe())
        self._in, from_chrome = map(_high_fd, os.pipe())
        self.log = open(profile.parent / "chromium.log", "wb")
        actions = [(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                   (os.POSIX_SPAWN_DUP2, self.log.fileno(), 1), (os.POSIX_SPAWN_DUP2, self.log.fileno(), 2),
                   (os.POSIX_SPAWN_DUP2, to_chrome, 3), (os.POSIX_SPAWN_DUP2, from_chrome, 4)]
        self.pid = os.posix_spawn(exe, [exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
                                  os.environ, file_actions=actions)
        os.close(to_chrome)
        os.close(from_chrome)
        self._buf, self._id, self.events = b"", 0, []

    def _receive(self, deadline: float) -> dict:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._in], [], [], left)[0]:
                raise TimeoutError("no answer from Chromium")
            chunk = os.read(self._in, 1 << 20)
            if not chunk:
                log = Path(self.log.name).read_text(errors="replace")
                raise RuntimeError(f"Chromium exited: {log[-2000:]}")
            self._buf += chunk
        message, self._buf = self._buf.split(b"\0", 1)
        return json.loads(message)

    def call(self, method: str, session: str | None = None, timeout: float = 30, **params):
        self._id += 1
        message = {"id": self._id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        data = json.dumps(message).encode() + b"\0"
        while data:
            data = data[os.write(self._out, data):]
        deadline = time.monotonic() + timeout
        while True:
            answer = self._receive(deadline)
            if answer.get("id") == self._id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer.get("result", {})
            self.events.append(answer)

    def wait_for(self, method: str, session: str, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            for k, e in enumerate(self.events):
                if e.get("method") == method and e.get("sessionId") == session:
                    return self.events.pop(k)
            self.events.append(self._receive(deadline))

    def exited(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while os.waitpid(self.pid, os.WNOHANG) == (0, 0):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def close(self):
        try:
            self.call("Browser.close", timeout=10)
        except (OSError, RuntimeError, TimeoutError):
            pass
        if not self.exited(10):
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        for fd in (self._in, self._out):
            os.close(fd)
        self.log.close()


class Page:
    """One tab: open a URL, wait for its load event, evaluate, screenshot, list console errors."""

    def __init__(self, browser: Chromium, url: str, width: int = 1280, height: int = 900):
        self.browser = browser
        target = browser.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = browser.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable")
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1,
                  mobile=False)
        self.goto(url)

    def call(self, method, **params):
        return self.browser.call(method, self.session, **params)

    def goto(self, url: str):
        self.call("Page.navigate", url=url)
        self.browser.wait_for("Page.loadEventFired", self.session)

    def evaluate(self, expression: str):
        answer = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in answer:
            raise RuntimeError(answer["exceptionDetails"])
        return answer["result"].get("value")

    def screenshot(self, rect: dict) -> Image.Image:
        clip = {k: rect[k] for k in ("x", "y", "width", "height")} | {"scale": 1}
        data = self.call("Page.captureScreenshot", format="png", clip=clip,
                         captureBeyondViewport=True)["data"]
        return Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB")

    def errors(self) -> list[str]:
        time.sleep(0.2)  # let late console messages arrive
        self.evaluate("1")
        found = []
        for e in self.browser.events:
            p, m = e.get("params", {}), e.get("method")
            if e.get("sessionId") != self.session:
                continue
            if m == "Runtime.exceptionThrown":
                found.append(p["exceptionDetails"].get("exception", {}).get("description", "exception"))
            elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                found.append(" ".join(str(a.get("value", a.get("description"))) for a in p["args"]))
            elif m == "Log.entryAdded" and p["entry"]["level"] == "error":
                found.append(f"{p['entry']['text']} {p['entry'].get('url', '')}".strip())
        return found


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    exe = find_chromium()
    if exe is None:
        reason = "headless Chromium not found (Debian: apt-get install -y chromium; or set CHROMIUM=path)"
        required = [os.environ.get(k, "").lower() for k in ("CI", "VEXSCREEN_REQUIRE_BROWSER")]
        if any(v not in ("", "0", "false", "no") for v in required):
            pytest.fail(f"the browser tests must run in CI: {reason}")
        pytest.skip(reason)
    chrome = Chromium(exe, tmp_path_factory.mktemp("chromium") / "profile")
    yield chrome
    chrome.close()


def mostly_blank(im: Image.Image) -> bool:
    """True when under a fifth of the pixels differ from the page's white, or nearly all are alike."""
    a = np.asarray(im, dtype=float)
    return float(np.mean(np.abs(a - 255).max(axis=2) > 24)) < 0.2 or float(a.std()) < 10


RECT = "(s => {{ const r = document.querySelector(s).getBoundingClientRect(); " \
       "return {{x: r.left + scrollX, " \
       "y: r.top + scrollY, width: r.width, height: r.height, top: r.top, bottom: r.bottom}}; }})({!r})"


def test_report_in_a_browser(browser, report, cell_root):
    result, out = report
    page = Page(browser, (out / "report.html").as_uri())
    statement = page.evaluate("document.getElementById('statement').innerText")
    assert statement == result["statement"]
    assert page.evaluate("document.getElementById('statement').checkVisibility({opacityProperty: true})")
    verdict = page.evaluate(RECT.format("#statement"))
    assert 0 <= verdict["top"] and verdict["bottom"] <= 900 and verdict["height"] > 10  # first screen
    images = page.evaluate("[...document.images].map(i => i.closest('.lightbox') ? -1 : i.naturalWidth)")
    assert len(images) >= 2 + N_TOP + N_BOTTOM and all(w != 0 for w in images)  # every image decoded
    for gallery, n in (("#gallery-top", N_TOP), ("#gallery-bottom", N_BOTTOM)):
        assert page.evaluate(f"document.querySelectorAll('{gallery} .tile img').length") == n
        shot = page.screenshot(page.evaluate(RECT.format(gallery)))
        assert shot.width > 500 and shot.height > 150 and not mostly_blank(shot)
    assert page.errors() == []
    _click_opens_the_full_size_cell(page, result, cell_root)
    assert page.errors() == []


def _click_opens_the_full_size_cell(page: Page, result: dict, cell_root: Path):
    i = result["gallery"]["top"][0]
    box = f"document.getElementById('cell-{i}')"
    assert page.evaluate(f"getComputedStyle({box}).display") == "none"
    page.evaluate(f"document.querySelector('a[href=\"#cell-{i}\"]').click()")
    assert page.evaluate(f"getComputedStyle({box}).display") == "flex"
    width = Image.open(cell_root / result["cells"][i]["image"]).width
    assert page.evaluate(f"{box}.querySelector('img').naturalWidth") == width
    img = f"{box}.querySelector('img').getBoundingClientRect()"
    shown = page.evaluate(f"(r => [r.top, r.bottom, r.width])({img})")
    assert shown[0] >= 0 and shown[1] <= 900 and shown[2] >= width  # in view, at least full size
    page.evaluate(f"{box}.querySelector('a.backdrop').click()")
    assert page.evaluate(f"getComputedStyle({box}).display") == "none"


def test_index_in_a_browser_leads_to_the_reports(browser, batch):
    out, (_, index) = batch
    page = Page(browser, index.as_uri())
    rows = page.evaluate("[...document.querySelectorAll('#patients tbody tr')].map(r => r.innerText)")
    assert len(rows) == 3 and "screening failed" in rows[2] and "no usable image" in rows[2]
    assert page.errors() == []
    page.evaluate("document.querySelector('a[href=\"P%202/report.html\"]').click()")
    page.browser.wait_for("Page.loadEventFired", page.session)
    assert page.evaluate("location.pathname").endswith("/P%202/report.html")
    statement = page.evaluate("document.getElementById('statement').innerText")
    assert statement.startswith("indeterminate: 6 neutrophils")
    assert page.errors() == []


def test_the_console_check_sees_errors(browser, tmp_path):
    """The check that a page loads cleanly can fail: a script error and a blocked image are seen."""
    bad = tmp_path / "bad.html"
    bad.write_text("<!doctype html><title>bad</title><img src='http://127.0.0.1:9/x.png'>"
                   "<script>throw new Error('deliberate failure')</script>")
    errors = Page(browser, bad.as_uri()).errors()
    assert any("deliberate failure" in e for e in errors)
    assert any("127.0.0.1:9" in e for e in errors)
    assert mostly_blank(Image.new("RGB", (600, 200), "white"))
