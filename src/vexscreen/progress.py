"""Progress of long work, as the caller wants it: a bar, log lines, a callback, or nothing.

Every library function that loops over many items takes ``progress``:

* ``False`` / ``None`` (the library's default): silent;
* ``True`` (what the CLI passes): a tqdm bar when stderr is a terminal; when it is a file or a
  pipe, one log line (``vexscreen.progress`` logger, INFO) every ``LOG_EVERY`` seconds and one
  at the end of a stage that lasted that long; a shorter stage logs nothing. A log keeps its
  useful lines instead of hundreds of bar updates or a line per quick step;
* a callable ``progress(desc, done, total)``: called after every step (a GUI, a notebook).

The library never prints; :mod:`vexscreen.cli` shows the log lines on stderr.
"""
from __future__ import annotations

import logging
import os
import sys
import time
from typing import Callable, Union

#: what a ``progress`` argument may be
ProgressArg = Union[bool, None, Callable[[str, int, int], None]]

#: seconds between log lines when stderr is not a terminal (environment: ``VEXSCREEN_LOG_EVERY``)
LOG_EVERY = 15.0

logger = logging.getLogger(__name__)


def log_every() -> float:
    """Seconds between log lines: ``$VEXSCREEN_LOG_EVERY`` if set (0: every step), else LOG_EVERY."""
    value = os.environ.get("VEXSCREEN_LOG_EVERY")
    if value is None:
        return LOG_EVERY
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0:  # also refuses nan
        from .exceptions import InputError

        raise InputError(f"VEXSCREEN_LOG_EVERY must be a number of seconds >= 0, got {value!r}")
    return seconds


class Progress:
    """Counts finished items of one stage (``desc``) and reports them as ``progress`` asks.

    ``min_total``: no bar or log line for stages of at most this many items (a callback is
    still called).
    """

    def __init__(self, progress: ProgressArg, total: int, desc: str = "", unit: str = "it",
                 min_total: int = 0):
        self.total, self.desc, self.unit = int(total), desc, unit
        self.done = 0
        self._callback = progress if callable(progress) else None
        self._bar = None
        self._log = False
        self._start = self._last = time.monotonic()
        self._every = log_every() if progress is True else LOG_EVERY
        if progress is True and self.total > min_total:
            if sys.stderr.isatty():
                from tqdm import tqdm

                self._bar = tqdm(total=self.total, desc=desc, unit=unit, dynamic_ncols=True)
            else:
                self._log = True

    def update(self, n: int = 1) -> None:
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
        if self._callback is not None:
            self._callback(self.desc, self.done, self.total)
        if not self._log:
            return
        now = time.monotonic()
        if now - self._last >= self._every or (self.done >= self.total
                                               and now - self._start >= self._every):
            self._last = now
            logger.info("%s: %d/%d %s", self.desc or "progress", self.done, self.total, self.unit)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
