"""Connected components of scored pairs, for clustering and its incremental reuse."""

from __future__ import annotations

import numpy as np
import polars as pl


def components(n: int, pairs: pl.DataFrame) -> np.ndarray:
    """The connected component of each of ``n`` profiles (``pid`` 0..n-1) over ``pairs`` (``pid_l, pid_r``):
    the smallest pid of its component (hooking each edge's roots to the smaller, then path compression,
    until no edge joins two labels).
    """
    labels = np.arange(n, dtype=np.int64)
    if pairs.is_empty():
        return labels
    left, right = pairs["pid_l"].to_numpy().astype(np.int64), pairs["pid_r"].to_numpy().astype(np.int64)
    while True:
        low = np.minimum(labels[left], labels[right])
        hooked = labels.copy()
        np.minimum.at(hooked, labels[left], low)
        np.minimum.at(hooked, labels[right], low)
        while True:  # every label to its root
            jumped = hooked[hooked]
            if np.array_equal(jumped, hooked):
                break
            hooked = jumped
        if np.array_equal(hooked, labels):
            return labels
        labels = hooked
