"""Item genres as a binary matrix, shared by the genre-diversity metric and MMR re-ranking."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

__all__ = ["genre_matrix"]

_NO_GENRES = "(no genres listed)"


def genre_matrix(item_metadata: pd.DataFrame | None) -> sp.csr_matrix | None:
    """Binary ``(n_items, n_genres)`` matrix from a ``genres`` column of ``|``-joined names.

    Returns ``None`` when there is no metadata, no ``genres`` column, or no item has a genre.
    ``"(no genres listed)"`` and empty values count as no genre.
    """
    if item_metadata is None or "genres" not in item_metadata.columns:
        return None
    text = item_metadata["genres"].fillna("").astype(str).str.strip()
    dummies = text.str.get_dummies(sep="|")
    dummies = dummies.drop(columns=[c for c in dummies.columns if c.strip() in ("", _NO_GENRES)])
    if dummies.shape[1] == 0 or not dummies.to_numpy().any():
        return None
    return sp.csr_matrix(dummies.to_numpy(dtype=np.float64))
