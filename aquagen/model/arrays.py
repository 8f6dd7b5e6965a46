"""Helpers on NumPy arrays and frames that the model and the table layer share (the table layer imports
the model, never the reverse)."""

from __future__ import annotations

import numpy as np
import polars as pl


def increasing(arrays: list[np.ndarray]) -> bool:
    """Whether consecutive rows strictly increase in the keys' lexicographic order (most significant first)."""
    later = np.zeros(len(arrays[0]) - 1, dtype=bool)
    same = ~later
    for a in arrays:
        later |= same & (a[1:] > a[:-1])
        same &= a[1:] == a[:-1]
    return bool(later.all())


def kept_rows(df: pl.DataFrame, keep: np.ndarray) -> pl.DataFrame:
    """The rows of ``df`` that ``keep`` says: the frame itself when all are, its first rows (a slice, no
    copy) when those are the rows kept (simulated and built rows are mostly in time order), else a filter."""
    n = int(np.count_nonzero(keep))
    if n == len(keep):
        return df
    if keep[:n].all():
        return df.head(n)
    return df.filter(pl.Series(keep))
