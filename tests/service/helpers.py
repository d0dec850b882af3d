"""What the service tests share: the tiny two-taste dataset, TestClient, a free port.

The dataset has two tastes (films 10-21 are "Sci-Fi", 22-33 "Drama"; each user rates mostly one
side, high, and one film of the other side, low), so a new user who likes one side should be
recommended the rest of that side. Two titles are HTML that would run if the page ever put data
in as markup.
"""

from __future__ import annotations

import socket
import warnings

import numpy as np
import pandas as pd

from embrec.data.build import build_interactions
from embrec.data.interactions import Interactions

__all__ = ["IMG_TITLE", "N_ITEMS", "SCRIPT_TITLE", "TestClient", "free_port", "synthetic_data"]

with warnings.catch_warnings():
    # starlette asks for the httpx2 package and warns on plain httpx; the client works the same
    warnings.filterwarnings("ignore", message=".*install `httpx2`")
    from fastapi.testclient import TestClient

SCRIPT_TITLE = '<script>window.__pwned = "script"</script> (2001)'
IMG_TITLE = "<img src=x onerror=\"window.__pwned = 'img'\"> (2002)"
N_ITEMS = 24


def synthetic_data(renamed: dict[int, str] | None = None) -> Interactions:
    """The two-taste dataset; ``renamed`` gives some films (by position, 0 to 23) other titles."""
    rng = np.random.default_rng(7)
    users, items, ratings = [], [], []
    for u in range(60):
        side = u % 2
        mine = np.arange(12) + 12 * side
        other = np.arange(12) + 12 * (1 - side)
        chosen = list(rng.choice(mine, size=7, replace=False)) + list(rng.choice(other, size=1))
        for i in chosen:
            users.append(500 + u)
            items.append(10 + int(i))
            ratings.append(float(rng.choice([4.0, 4.5, 5.0])) if i in mine else float(rng.choice([1.0, 2.0])))
    titles = [f"Space Film {i} ({1980 + i})" if i < 12 else f"Quiet Drama {i} ({1980 + i})" for i in range(N_ITEMS)]
    titles[3] = SCRIPT_TITLE
    titles[5] = IMG_TITLE
    for position, title in (renamed or {}).items():
        titles[position] = title
    meta = pd.DataFrame(
        {
            "title": titles,
            "year": [1980 + i for i in range(N_ITEMS)],
            "genres": ["Sci-Fi|Action" if i < 12 else "Drama|Romance" for i in range(N_ITEMS)],
        },
        index=pd.Index([10 + i for i in range(N_ITEMS)], name="item"),
    )
    return build_interactions(users, items, ratings, rating_scale=(0.5, 5.0), item_metadata=meta, name="two-tastes")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
