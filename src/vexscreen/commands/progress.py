"""Progress bars for the CLI: a ``progress(desc, done, total)`` callback drawing tqdm bars on stderr.

The library reports progress through such callbacks and never prints itself.
"""
from __future__ import annotations


class TqdmProgress:
    """One transient tqdm bar per stage (``desc``), closed when ``done`` reaches ``total``."""

    def __init__(self):
        self._bars = {}

    def __call__(self, desc: str, done: int, total: int) -> None:
        from tqdm.auto import tqdm

        bar = self._bars.get(desc)
        if bar is None:
            bar = self._bars[desc] = tqdm(total=total, desc=desc, leave=False)
        bar.update(done - bar.n)
        if done >= total:
            bar.close()
            del self._bars[desc]
