"""Progress of a long loop, as the caller wants it: a tqdm bar, a callback, or nothing.

Library functions take ``progress``: ``True`` draws a bar on stderr (what the CLI wants),
``False`` stays silent (tests, notebooks that log), and a callable ``progress(done, total)``
is called after every step (a GUI, a log line every N items). The library never prints.
"""
from __future__ import annotations

from typing import Callable, Union

#: what a ``progress`` argument may be
ProgressArg = Union[bool, Callable[[int, int], None]]


class Progress:
    """Counts finished items and reports them as ``progress`` asks (see the module docstring).

    ``min_total``: no bar for loops of at most this many items (a callback is still called).
    """

    def __init__(self, progress: ProgressArg, total: int, desc: str = "", unit: str = "it",
                 min_total: int = 0):
        self.total = int(total)
        self.done = 0
        self._callback = progress if callable(progress) else None
        self._bar = None
        if progress is True and self.total > min_total:
            from tqdm import tqdm

            self._bar = tqdm(total=self.total, desc=desc, unit=unit)

    def update(self, n: int = 1) -> None:
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
        if self._callback is not None:
            self._callback(self.done, self.total)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
