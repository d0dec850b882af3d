"""The public API: what `import embrec` offers, pinned, and the four-line tour it promises."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import embrec

PUBLIC = [
    "ConfigError",
    "DataError",
    "DatasetNotFoundError",
    "DownloadError",
    "EmbrecError",
    "ModelFileError",
    "NotFittedError",
    "SplitError",
    "TrainingError",
    "UnknownIdError",
    "__version__",
    "create",
    "evaluate",
    "evaluate_lists",
    "load",
    "load_data",
    "make_split",
]


def test_the_public_names_are_pinned() -> None:
    assert sorted(embrec.__all__) == PUBLIC
    for name in embrec.__all__:
        assert getattr(embrec, name) is not None, name


def test_each_public_function_is_the_one_at_home() -> None:
    from embrec.data.load import load_data
    from embrec.data.splits import make_split
    from embrec.evaluation import evaluate, evaluate_lists
    from embrec.models import create, load

    assert (embrec.load_data, embrec.make_split, embrec.create, embrec.load) == (load_data, make_split, create, load)
    assert (embrec.evaluate, embrec.evaluate_lists) == (evaluate, evaluate_lists)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        embrec.nope  # noqa: B018


def test_errors_share_one_base() -> None:
    for name in PUBLIC:
        value = getattr(embrec, name)
        if isinstance(value, type):
            assert issubclass(value, embrec.EmbrecError), name


def test_importing_embrec_loads_no_heavy_library() -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, embrec; print(' '.join(m for m in ('torch', 'pandas', 'numpy') if m in sys.modules))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == ""


def _ratings(path: Path) -> Path:
    rng = np.random.default_rng(0)
    n_users, n_items = 60, 40
    rows = [(u, i, float(rng.integers(1, 6))) for u in range(n_users) for i in rng.choice(n_items, 15, replace=False)]
    pd.DataFrame(rows, columns=["user", "item", "rating"]).to_csv(path, index=False)
    return path


def test_from_a_raw_file_to_an_evaluated_top_10_in_four_lines(tmp_path: Path) -> None:
    ratings = _ratings(tmp_path / "my_ratings.csv")
    # the four lines the README shows
    split = embrec.make_split(embrec.load_data(ratings), "random", seed=42)
    model = embrec.create("embedding", objective="ranking", epochs=3).fit(split.train)
    result = embrec.evaluate(model, split, k=10)
    table = result.to_markdown()
    assert "ndcg" in table and result.k == 10
    assert 0.0 <= result.models[0].summary["ndcg"].mean <= 1.0
