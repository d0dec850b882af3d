"""Shared by the viz, report and viz CLI tests: a tiny rated catalogue on disk, a trained run,
and checks that pictures are real pictures and pages open cleanly in a browser."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: A title that is markup: it must show as text everywhere.
EVIL_TITLE = '<script>alert("pwned")</script> & <b>Bold</b> (1999)'
N_ITEMS = 40


def write_catalogue(folder: Path, *, seed: int = 3) -> tuple[Path, Path]:
    """60 users who each rate 14 of 40 films; films 0-19 are "Sci-Fi|Action", 20-39 "Drama|Romance",
    and users prefer one side, so embeddings have structure. Film 39 is rated once, with 5 stars."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(60):
        side = u % 2
        liked = np.arange(20) + 20 * side
        other = np.arange(20) + 20 * (1 - side)
        chosen = np.concatenate(
            [rng.choice(liked[liked != 39], 10, replace=False), rng.choice(other[other != 39], 4, replace=False)]
        )
        for i in chosen:
            rating = float(rng.choice([4.0, 4.5, 5.0])) if i in liked else float(rng.choice([1.0, 2.0, 3.0]))
            rows.append((1000 + u, 100 + int(i), rating, 1_500_000_000 + int(rng.integers(0, 10**6))))
    rows.append((1000, 139, 5.0, 1_500_000_001))
    ratings = pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"])
    titles = [f"Film {i} ({1980 + i})" for i in range(N_ITEMS)]
    titles[7] = EVIL_TITLE
    items = pd.DataFrame(
        {
            "item": 100 + np.arange(N_ITEMS),
            "title": titles,
            "genres": ["Sci-Fi|Action" if i < 20 else "Drama|Romance" for i in range(N_ITEMS)],
        }
    )
    folder.mkdir(parents=True, exist_ok=True)
    ratings_path, items_path = folder / "my_ratings.csv", folder / "my_films.csv"
    ratings.to_csv(ratings_path, index=False)
    items.to_csv(items_path, index=False)
    return ratings_path, items_path


def load_catalogue(ratings_path: Path, items_path: Path) -> Any:
    from embrec.data.load import load_data

    return load_data(ratings_path, items=items_path)


SPLIT_OPTIONS = {"split": "random", "test_fraction": 0.2, "seed": 1}


def train_run(folder: Path, *, objective: str = "rating", epochs: int = 12) -> tuple[Path, Any, Any]:
    """Train a tiny embedding model on the catalogue and save it as a run that records its data.

    Returns ``(run_path, model, split)``.
    """
    from embrec.data.splits import make_split
    from embrec.models.embedding import EmbeddingRecommender

    ratings_path, items_path = write_catalogue(folder / "data")
    data = load_catalogue(ratings_path, items_path)
    split = make_split(data, "random", test_fraction=0.2, seed=1)
    model = EmbeddingRecommender(
        objective=objective, embedding_dim=8, epochs=epochs, batch_size=32, learning_rate=0.02, patience=50, seed=0
    ).fit(split.train)
    run = model.save(
        folder / "run",
        extra={
            "data": {"data": str(ratings_path), "items": str(items_path)},
            "split": dict(SPLIT_OPTIONS),
        },
    )
    return run, model, split


def assert_picture(path_or_bytes: Path | bytes, *, min_size: int = 200) -> Any:
    """A PNG that PIL reads, of a sensible size, and not blank (its pixels vary)."""
    from PIL import Image

    raw = path_or_bytes.read_bytes() if isinstance(path_or_bytes, Path) else path_or_bytes
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    image = Image.open(io.BytesIO(raw))
    image.load()
    assert min(image.size) >= min_size, image.size
    pixels = np.asarray(image.convert("L"), dtype=np.float64)
    assert pixels.std() > 8.0, "the picture is (nearly) one colour"
    # more than a frame: some of the picture is drawn, not background white
    assert (pixels < 200).mean() > 0.002
    return image


def assert_svg(path: Path) -> None:
    import xml.etree.ElementTree as ET

    root = ET.parse(path).getroot()
    assert root.tag.endswith("svg")
    assert len(list(root.iter())) > 100  # many drawn elements, not an empty page


def browser_or_skip() -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent: install Debian's chromium to open the pages in a headless browser")
    pytest.importorskip("playwright.sync_api", reason="the playwright python package drives the headless browser")


def open_page(path: Path, screenshot: Path, *, wait_ms: int = 800, full_page: bool = True) -> dict[str, list[str]]:
    """Open a local HTML file in headless Chromium, save a screenshot, and report what went wrong:
    console errors, page errors, requests that left the machine, dialogs (an ``alert`` means markup ran)."""
    from playwright.sync_api import sync_playwright

    found: dict[str, list[str]] = {"console_errors": [], "page_errors": [], "external_requests": [], "dialogs": []}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: found["console_errors"].append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: found["page_errors"].append(str(e)))
            page.on("dialog", lambda d: (found["dialogs"].append(d.message), d.dismiss()))

            def route(r: Any) -> None:
                url = r.request.url
                if url.startswith(("file:", "data:", "blob:", "about:")):
                    r.continue_()
                else:
                    found["external_requests"].append(url)
                    r.abort()

            page.route("**/*", route)
            page.goto(path.resolve().as_uri())
            page.wait_for_timeout(wait_ms)
            page.screenshot(path=str(screenshot), full_page=full_page)
            found["text"] = [page.inner_text("body")]
        finally:
            browser.close()
    return found
