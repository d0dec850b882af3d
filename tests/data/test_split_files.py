"""A split folder on disk: write_split then load_split gives the same rows, ids and options back."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from embrec.data.build import build_interactions
from embrec.data.interactions import Interactions
from embrec.data.split_files import SPLIT_FILES, load_split, write_split
from embrec.data.splits import Split, SplitMethod, make_split
from embrec.errors import DataError, EmbrecError


def rows(part: Interactions) -> list[tuple[object, ...]]:
    """Each row with its own ids: (user, item, rating, timestamp)."""
    frame = part.to_frame()
    return [tuple(r) for r in frame.itertuples(index=False)]


def text_ids() -> Interactions:
    """Text user ids, int item ids, half-star ratings and timestamps."""
    rng = np.random.default_rng(5)
    users, items = [], []
    for u in range(25):
        for i in rng.choice(15, size=int(rng.integers(2, 8)), replace=False):
            users.append(f"u{u:02d}")
            items.append(int(500 + i))
    n = len(users)
    return build_interactions(
        users, items, rng.integers(1, 11, n) / 2, 1_400_000_000 + rng.integers(0, 10**6, n), name="mine"
    )


@pytest.mark.parametrize(
    ("method", "options"),
    [
        ("random", {}),
        ("user", {"test_count": 2, "seed": 3}),
        ("temporal", {"test_fraction": 0.3}),
        ("cutoff", {"cutoff": "2014-05-20"}),
        ("loo", {"drop_unseen": True}),
    ],
)
def test_round_trip_keeps_rows_ids_and_options(tmp_path: Path, method: str, options: dict[str, object]) -> None:
    split = make_split(text_ids(), method, **options)  # type: ignore[arg-type]
    out = write_split(split, tmp_path / "split", info={"source": "mine"})
    assert sorted(p.name for p in out.iterdir()) == sorted(SPLIT_FILES)

    loaded = load_split(out)
    assert isinstance(loaded, Split)
    assert rows(loaded.train) == rows(split.train)
    assert rows(loaded.test) == rows(split.test)
    assert loaded.train.user_ids.dtype.kind == "O" and loaded.train.item_ids.dtype.kind in "iu"
    assert loaded.train.ratings is not None and loaded.train.ratings.dtype == np.float32
    assert loaded.train.timestamps is not None and loaded.train.timestamps.dtype == np.int64
    assert loaded.method is SplitMethod(method)
    for field in ("test_fraction", "test_count", "cutoff", "seed", "drop_unseen", "dropped_rows", "dropped_users"):
        assert getattr(loaded, field) == getattr(split, field), field
    assert loaded.summary() == split.summary()
    assert loaded.train.rating_scale == split.train.rating_scale == (0.5, 5.0)
    assert loaded.train.name == "mine"


def test_train_and_test_share_one_vocabulary(tmp_path: Path) -> None:
    data = build_interactions([1, 1, 2, 2, 3], [10, 20, 10, 30, 40], [4.0, 3.0, 5.0, 2.0, 1.0], name="v")
    split = make_split(data, "random", test_count=2, seed=0)
    loaded = load_split(write_split(split, tmp_path / "s"))
    assert loaded.train.user_ids is loaded.test.user_ids and loaded.train.item_ids is loaded.test.item_ids
    assert loaded.train.user_ids.tolist() == [1, 2, 3] and loaded.train.item_ids.tolist() == [10, 20, 30, 40]
    assert loaded.train_rows.tolist() == [0, 1, 2] and loaded.test_rows.tolist() == [3, 4]
    assert loaded.train.timestamps is None and loaded.test.timestamps is None


def test_implicit_data_round_trips(tmp_path: Path) -> None:
    data = build_interactions(["a", "a", "b", "b", "c", "c"], ["x", "y", "x", "z", "y", "z"], name="clicks")
    split = make_split(data, "user", test_count=1)
    loaded = load_split(write_split(split, tmp_path / "s"))
    assert loaded.train.ratings is None and loaded.test.ratings is None
    assert rows(loaded.test) == rows(split.test)
    assert loaded.train.item_ids.tolist() == ["x", "y", "z"]


def test_write_refuses_a_non_empty_folder_unless_forced(tmp_path: Path) -> None:
    split = make_split(text_ids())
    out = tmp_path / "busy"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(EmbrecError, match=r"out=.*busy' is not empty \(it holds keep.txt\).*force=True"):
        write_split(split, out)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    write_split(split, out, force=True)
    assert sorted(p.name for p in out.iterdir()) == sorted(SPLIT_FILES)
    assert [p.name for p in tmp_path.iterdir()] == ["busy"]  # no staging folder left behind
    file = tmp_path / "file.txt"
    file.write_text("x")
    with pytest.raises(EmbrecError, match="not a folder"):
        write_split(split, file, force=True)


def test_split_json_records_the_rating_scale(tmp_path: Path) -> None:
    out = write_split(make_split(text_ids()), tmp_path / "s", info={"source_rows": 1})
    meta = json.loads((out / "split.json").read_text())
    assert meta["rating_scale"] == [0.5, 5.0] and meta["source_rows"] == 1 and meta["method"] == "random"


@pytest.fixture
def written(tmp_path: Path) -> Path:
    return write_split(make_split(text_ids(), "temporal", test_count=1), tmp_path / "split")


def test_missing_folder_and_files(tmp_path: Path, written: Path) -> None:
    with pytest.raises(DataError, match=r"split folder '.*nope' does not exist"):
        load_split(tmp_path / "nope")
    with pytest.raises(DataError, match="is a file, not a folder"):
        load_split(written / "train.csv")
    (written / "test.csv").unlink()
    with pytest.raises(DataError, match=r"test.csv missing \(it holds split.json, train.csv\).*write_split"):
        load_split(written)


@pytest.mark.parametrize(
    ("content", "pieces"),
    [
        ("{not json", ["split.json: not valid JSON", "line 1"]),
        ("[1, 2]", ["holds list, not a JSON object"]),
        ('{"method": "kfold", "seed": 1, "drop_unseen": false}', ["method 'kfold' is not a split method", "random"]),
        ('{"method": "user", "drop_unseen": false}', ["has no 'seed'"]),
        ('{"method": "user", "seed": "7", "drop_unseen": false}', ["seed is '7', not int"]),
        ('{"method": "user", "seed": 7, "drop_unseen": 1}', ["drop_unseen is 1, not bool"]),
        (
            '{"method": "user", "seed": 7, "drop_unseen": false, "test_count": true}',
            ["test_count is True, not int or null"],
        ),
        ('{"method": "user", "seed": 7, "drop_unseen": false, "rating_scale": [1]}', ["rating_scale is [1]"]),
    ],
)
def test_bad_split_json(written: Path, content: str, pieces: list[str]) -> None:
    (written / "split.json").write_text(content)
    with pytest.raises(DataError) as info:
        load_split(written)
    for piece in pieces + ["write the folder again with write_split"]:
        assert piece in str(info.value), (piece, str(info.value))


def test_bad_rows_name_the_file_and_line(written: Path) -> None:
    lines = (written / "test.csv").read_text().splitlines()
    lines[2] = lines[2].rsplit(",", 2)[0] + ",lots," + lines[2].rsplit(",", 1)[1]
    (written / "test.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"test.csv, line 3, column 'rating': rating 'lots' is not a number"):
        load_split(written)


def test_files_that_disagree(written: Path) -> None:
    train = (written / "train.csv").read_text().splitlines()
    test = (written / "test.csv").read_text().splitlines()
    (written / "test.csv").write_text("\n".join(test + train[1:2]) + "\n")  # a training row also in test
    with pytest.raises(DataError, match="split.json records .* test rows but test.csv has"):
        load_split(written)
    meta = json.loads((written / "split.json").read_text())
    meta["test_rows"] += 1
    (written / "split.json").write_text(json.dumps(meta))
    with pytest.raises(DataError, match=r"pairs are in both train.csv and test.csv"):
        load_split(written)
    (written / "test.csv").write_text("\n".join(["user,item,rating"] + [r.rsplit(",", 1)[0] for r in test[1:]]) + "\n")
    meta["test_rows"] -= 1
    (written / "split.json").write_text(json.dumps(meta))
    with pytest.raises(DataError, match="train.csv has timestamps but test.csv has none"):
        load_split(written)
