"""Element-wise medians of a few rows, fast and bit-identical to ``numpy.median``.

``np.median(G, axis=0)`` on ``G`` of shape ``(k, n, d)`` (k = 10 cells per
aggregate in the study) runs one ``partition`` per (n, d) lane: about 17 ms for
100 aggregates of 512 dimensions. A selection network (Batcher's odd-even merge
sort, pruned to the comparators that reach the middle outputs) does the same with
whole-array ``minimum``/``maximum``: 6x faster at k = 10, the same floats (the
middle order statistics, averaged as ``np.median`` does for an even k).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

#: above this many rows ``np.median`` itself is used (the network grows as k log^2 k)
MAX_NETWORK_ROWS = 64


@lru_cache(maxsize=None)
def median_network(k: int) -> tuple:
    """Comparators ``(a, b, keep_min, keep_max)`` whose outputs reach positions ``(k-1)//2, k//2``.

    Batcher's network for the next power of two, comparators touching the padding
    dropped (padding is +inf: those never swap), then pruned backwards from the middle.
    """
    n = 1 << max(0, (k - 1).bit_length())
    comparators = []
    p = 1
    while p < n:
        step = p
        while step >= 1:
            for j in range(step % p, n - step, 2 * step):
                for i in range(step):
                    a, b = i + j, i + j + step
                    if b < k and a // (2 * p) == b // (2 * p):
                        comparators.append((a, b))
            step //= 2
        p *= 2
    needed = {(k - 1) // 2, k // 2}
    kept = []
    for a, b in reversed(comparators):
        lo, hi = a in needed, b in needed
        if lo or hi:
            kept.append((a, b, lo, hi))
            needed |= {a, b}
    return tuple(reversed(kept))


def median_rows(G: np.ndarray) -> np.ndarray:
    """``np.median(G, axis=0)`` (same dtype, same values) for ``G`` of shape ``(k, ...)``."""
    k = len(G)
    if k > MAX_NETWORK_ROWS or G.dtype not in (np.float32, np.float64):
        return np.median(G, axis=0).astype(G.dtype, copy=False)
    rows = list(G)
    for a, b, keep_min, keep_max in median_network(k):
        x, y = rows[a], rows[b]
        if keep_min:
            rows[a] = np.minimum(x, y)
        if keep_max:
            rows[b] = np.maximum(x, y)
    if k % 2:
        return rows[k // 2].copy()
    # np.median averages the two middle values as mean() does: their sum, then / 2
    out = np.add(rows[(k - 1) // 2], rows[k // 2])
    out /= 2
    return out
