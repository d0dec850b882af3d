"""The reference protocols: what each fold holds, seeds, validation carves, files, the CLI, and ml-100k's u1-u5."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from conftest import real_dataset
from embrec.cli.main import app
from embrec.cli.split_cmd import ProtocolName
from embrec.data.build import build_interactions
from embrec.data.interactions import Interactions
from embrec.data.load import load_data
from embrec.data.protocols import (
    EXTRA_FILES,
    PROTOCOLS,
    Fold,
    get_protocol,
    load_fold,
    load_folds,
    validation_split,
    write_folds,
)
from embrec.data.split_files import load_split
from embrec.data.splits import Split
from embrec.errors import SplitError
from embrec.evaluation.catalog import METRICS

runner = CliRunner()
SIZES = (1, 2, 3, 5, 6, 9, 10, 14)  # rows per user, cycling: below, at and above every threshold
SYNTHETIC = [name for name in PROTOCOLS if name != "ml100k-u-folds"]  # that one needs ml-100k itself


def synthetic(ratings_offset: dict[int, float] | None = None) -> Interactions:
    """48 users with 1-14 rows each on 30 items, 1-5 stars, and timestamps from only 6 values (many ties)."""
    rng = np.random.default_rng(0)
    rows = []
    for u in range(48):
        for i in rng.choice(30, size=SIZES[u % len(SIZES)], replace=False):
            rows.append((f"u{u:02d}", 100 + int(i), float(rng.integers(1, 6)), 1_000 + int(rng.integers(0, 6))))
    frame = pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"])
    for row, rating in (ratings_offset or {}).items():
        frame.loc[row, "rating"] = rating
    return build_interactions(
        frame["user"], frame["item"], frame["rating"], frame["timestamp"], rating_scale=(1.0, 5.0), name="synthetic"
    )


@pytest.fixture(scope="module")
def data() -> Interactions:
    return synthetic()


def folds_of(name: str, data: Interactions, seed: int = 42) -> list[Fold]:
    return list(PROTOCOLS[name].folds(data, seed=seed))


def pairs(part: Interactions) -> set[tuple[object, object]]:
    return set(zip(part.user_ids[part.users].tolist(), part.item_ids[part.items].tolist(), strict=True))


def users_of(part: Interactions) -> set[object]:
    return set(part.user_ids[np.unique(part.users)].tolist())


def all_rows(fold: Fold) -> list[np.ndarray]:
    arrays = [fold.train_rows, fold.test_rows]
    return arrays + [getattr(fold, f"{name}_rows") for name in fold.extra_parts()]


# ---------------------------------------------------------------------------- the registry
def test_registry_names_sources_and_metrics() -> None:
    assert list(PROTOCOLS) == [p.value for p in ProtocolName]  # the CLI's choices mirror the registry
    known = {metric.name for metric in METRICS}
    for name, protocol in PROTOCOLS.items():
        assert protocol.name == name and get_protocol(name) is protocol
        assert "http" in protocol.source and protocol.description
        assert {metric.split("@")[0] for metric in protocol.metrics} <= known
        assert json.loads(json.dumps(protocol.describe()))["n_folds"] == protocol.n_folds
    with pytest.raises(SplitError, match=r"protocol='nope' is not a protocol; use one of ml100k-u-folds, "):
        get_protocol("nope")


def test_docs_table_lists_every_protocol_with_its_metrics() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "protocols.md").read_text(encoding="utf-8")
    cells = [line.split("|") for line in docs.splitlines() if line.startswith("| `")]
    rows = {row[1].strip(" `"): row for row in cells if len(row) == 7}  # the protocols table has 5 columns
    for name, protocol in PROTOCOLS.items():
        assert name in rows, f"docs/protocols.md has no row for {name}"
        assert ", ".join(protocol.metrics) in rows[name][4], name


@pytest.mark.parametrize("name", SYNTHETIC)
def test_parts_are_disjoint_folds_are_splits_and_counts_add_up(data: Interactions, name: str) -> None:
    folds = folds_of(name, data)
    assert len(folds) == PROTOCOLS[name].n_folds
    for k, fold in enumerate(folds, start=1):
        assert isinstance(fold, Split) and (fold.protocol, fold.fold, fold.n_folds) == (name, k, len(folds))
        rows = np.concatenate(all_rows(fold))
        assert len(np.unique(rows)) == len(rows)  # no row in two parts
        assert len(rows) + fold.filtered_rows + fold.dropped_rows == data.n_ratings  # every row somewhere
        summary = fold.summary()
        assert summary["train_rows"] == fold.train.n_ratings and summary["protocol"] == name


# ---------------------------------------------------------------------------- each protocol
def test_random_90_10_is_make_split_random(data: Interactions) -> None:
    (fold,) = folds_of("random-90-10", data, seed=7)
    assert fold.method.value == "random" and fold.test_fraction == 0.1
    assert fold.test.n_ratings == int(np.ceil(0.1 * data.n_ratings))


def test_recbole_keeps_ratings_of_3_up_as_implicit_and_cuts_each_user_8_1_1(data: Interactions) -> None:
    (fold,) = folds_of("recbole-implicit-811", data)
    assert data.ratings is not None
    kept = np.flatnonzero(data.ratings >= 3)
    parts = [fold.train_rows, fold.validation_rows, fold.test_rows]
    assert sorted(np.concatenate(parts).tolist()) == kept.tolist()  # the three parts partition ratings >= 3
    assert fold.filtered_rows == data.n_ratings - len(kept)
    assert fold.train.is_implicit and fold.validation is not None and fold.validation.is_implicit
    sizes = np.bincount(data.users[kept], minlength=data.n_users)
    counts = [np.bincount(data.users[rows], minlength=data.n_users) for rows in parts]
    # RecBole's rounding: int(0.1 n) each for valid and test, then one more each while train keeps 2+
    expected = {1: (1, 0, 0), 2: (1, 0, 1), 3: (1, 1, 1), 9: (7, 1, 1), 10: (8, 1, 1), 14: (12, 1, 1), 20: (16, 2, 2)}
    seen = set()
    for u in np.flatnonzero(sizes):
        if sizes[u] in expected:
            assert tuple(int(c[u]) for c in counts) == expected[sizes[u]], sizes[u]
            seen.add(int(sizes[u]))
    assert {1, 2, 3} <= seen


def test_lenskit_each_user_is_tested_in_one_fold_with_5_ratings(data: Interactions) -> None:
    folds = folds_of("lenskit-user-crossfold", data)
    sizes = data.items_per_user()
    times_tested = np.zeros(data.n_users, dtype=int)
    for fold in folds:
        assert len(np.concatenate([fold.train_rows, fold.test_rows])) == data.n_ratings
        held = np.bincount(fold.test.users, minlength=data.n_users)
        tested = held > 0
        times_tested += tested
        assert (held[tested] == np.minimum(sizes[tested], 5)).all()  # SampleN(5): all of a user's 5 or fewer
        assert (held[tested & (sizes > 5)] == 5).all()
    assert (times_tested == (sizes > 0)).all()
    assert sorted(len(users_of(f.test)) for f in folds) == [9, 9, 10, 10, 10]  # np.array_split of 48 users


def test_strong_generalisation_holds_out_whole_users_80_20(data: Interactions) -> None:
    (fold,) = folds_of("strong-generalisation", data)
    assert fold.foldin is not None and fold.validation is not None and fold.validation_foldin is not None
    train_users = users_of(fold.train)
    test_users = users_of(fold.test) | users_of(fold.foldin)
    validation_users = users_of(fold.validation) | users_of(fold.validation_foldin)
    assert not (train_users & test_users) and not (train_users & validation_users)
    assert not (test_users & validation_users)
    assert len(test_users) <= 5 and len(validation_users) <= 5  # 10% of 48 users, rounded
    seen_items = set(fold.train.item_ids[np.unique(fold.train.items)].tolist())
    for targets, foldin in ((fold.test, fold.foldin), (fold.validation, fold.validation_foldin)):
        assert {item for _, item in pairs(targets) | pairs(foldin)} <= seen_items  # unseen items dropped
        n_target = np.bincount(targets.users, minlength=data.n_users)
        n_all = n_target + np.bincount(foldin.users, minlength=data.n_users)
        assert (n_target == np.where(n_all >= 5, np.floor(0.2 * n_all), 0)).all()
    assert fold.drop_unseen and fold.dropped_rows == data.n_ratings - sum(len(r) for r in all_rows(fold))


def test_strong_generalisation_drops_held_out_rows_of_items_never_in_train() -> None:
    users = [f"u{u}" for u in range(30) for _ in range(7)]
    items = [i if i < 6 else 100 + u for u in range(30) for i in range(7)]  # item 100+u: only user u's
    (fold,) = folds_of("strong-generalisation", build_interactions(users, items, [4.0] * len(users)))
    assert fold.foldin is not None and fold.validation is not None and fold.validation_foldin is not None
    held = [fold.test, fold.foldin, fold.validation, fold.validation_foldin]
    assert max(item for part in held for _, item in pairs(part)) < 100
    assert fold.dropped_rows == fold.dropped_items == 6  # 3 test and 3 validation users, one own item each
    assert (np.bincount(fold.test.users)[np.unique(fold.test.users)] == 1).all()  # floor(0.2 * 6) targets


def test_loo_holds_out_each_users_latest_row(data: Interactions) -> None:
    (fold,) = folds_of("loo-full-ranking", data)
    assert data.timestamps is not None
    sizes = data.items_per_user()
    held = np.bincount(fold.test.users, minlength=data.n_users)
    assert (held == (sizes >= 2)).all()  # one per user; a user's only row stays in train
    latest = pd.Series(data.timestamps).groupby(data.users).max()
    assert (fold.test.timestamps == latest.loc[fold.test.users].to_numpy()).all()


def test_loo_breaks_timestamp_ties_by_the_seed() -> None:
    ties = build_interactions(["a", "a", "a", "b", "b"], [1, 2, 3, 1, 2], [4, 4, 4, 3, 3], [5, 9, 9, 7, 7])
    held = {tuple(folds_of("loo-full-ranking", ties, seed=s)[0].test_rows.tolist()) for s in range(40)}
    assert held == {(1, 3), (1, 4), (2, 3), (2, 4)}  # a: row 1 or 2 (both at 9), b: row 3 or 4


@pytest.mark.parametrize("name", SYNTHETIC)
def test_same_seed_same_folds_other_seed_other_folds(data: Interactions, name: str) -> None:
    def rows(seed: int) -> list[list[int]]:
        return [r.tolist() for fold in folds_of(name, data, seed) for r in all_rows(fold)]

    assert rows(3) == rows(3)
    assert rows(3) != rows(4)


# ---------------------------------------------------------------------------- validation
@pytest.mark.parametrize("name", SYNTHETIC)
def test_validation_comes_from_train_only(data: Interactions, name: str) -> None:
    fold = folds_of(name, data)[0]
    carved = validation_split(fold.train, name, seed=5)
    assert isinstance(carved, Split)
    inner, held = pairs(carved.train), pairs(carved.test)
    assert held and not inner & held
    assert inner | held <= pairs(fold.train) and not held & pairs(fold.test)
    if name == "strong-generalisation":
        assert isinstance(carved, Fold) and carved.foldin is not None
        assert not users_of(carved.train) & (users_of(carved.test) | users_of(carved.foldin))
    else:
        assert len(inner | held) == fold.train.n_ratings  # a partition of the training part

    # new test ratings change neither the training part nor the validation carved from it
    changed = synthetic({int(row): 5.0 for row in fold.test_rows})
    again = folds_of(name, changed)[0]
    assert again.train_rows.tolist() == fold.train_rows.tolist()
    assert validation_split(again.train, name, seed=5).test_rows.tolist() == carved.test_rows.tolist()
    assert validation_split(fold.train, name, seed=5).test_rows.tolist() == carved.test_rows.tolist()


@pytest.mark.parametrize("name", ["recbole-implicit-811", "strong-generalisation"])
def test_a_fold_with_its_own_validation_part_gives_it(data: Interactions, name: str) -> None:
    (fold,) = folds_of(name, data)
    own = validation_split(fold, name, seed=1)
    assert fold.validation is not None and fold.validation_rows is not None
    assert own.train is fold.train and own.test is fold.validation
    assert own.test_rows.tolist() == fold.validation_rows.tolist()
    assert isinstance(own, Fold) and (own.foldin is fold.validation_foldin)


def test_validation_refuses_another_protocols_fold_and_bad_seeds(data: Interactions) -> None:
    (fold,) = folds_of("loo-full-ranking", data)
    with pytest.raises(SplitError, match="pass protocol='loo-full-ranking', or pass fold.train"):
        validation_split(fold, "random-90-10", seed=1)
    with pytest.raises(SplitError, match=r"seed=-1 is not allowed"):
        validation_split(fold.train, "random-90-10", seed=-1)
    assert validation_split(fold, "loo-full-ranking", seed=1).train.n_ratings < fold.train.n_ratings


# ---------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("name", "make", "message"),
    [
        ("ml100k-u-folds", synthetic, r"is not u\.data's 100,000 rows in file order; load the ml-100k folder"),
        (
            "recbole-implicit-811",
            lambda: build_interactions(["a", "b"], [1, 2]),
            r"has no ratings \(implicit feedback\)",
        ),
        (
            "lenskit-user-crossfold",
            lambda: build_interactions(["a", "a", "b"], [1, 2, 1], [1, 2, 3]),
            "has 2 user",
        ),
        ("loo-full-ranking", lambda: build_interactions(["a", "b"], [1, 2], [1, 2]), "has a single row"),
        ("strong-generalisation", lambda: build_interactions(["a", "b"], [1, 2], [1, 2]), "needs at least 3"),
    ],
)
def test_data_a_protocol_cannot_split_is_refused_at_the_call(
    name: str, make: Callable[[], Interactions], message: str
) -> None:
    with pytest.raises(SplitError, match=message):
        PROTOCOLS[name].folds(make())  # before the first fold is asked for


# ---------------------------------------------------------------------------- files
def test_written_folds_read_back_as_saved_splits_with_their_extra_files(data: Interactions, tmp_path: Path) -> None:
    out = write_folds(PROTOCOLS["strong-generalisation"].folds(data), tmp_path / "sg")
    assert out == [tmp_path / "sg"]
    names = sorted(p.name for p in out[0].iterdir())
    assert names == sorted(["train.csv", "test.csv", "split.json", *EXTRA_FILES.values()])
    meta = json.loads((out[0] / "split.json").read_text())
    assert meta["protocol"] == "strong-generalisation" and "arxiv.org" in meta["protocol_source"]
    assert load_split(out[0]).train.n_ratings == meta["train_rows"]  # the plain loader reads it
    (fold,) = folds_of("strong-generalisation", data)
    back = load_fold(out[0])
    assert back.foldin is not None and fold.foldin is not None
    assert pairs(back.foldin) == pairs(fold.foldin) and pairs(back.test) == pairs(fold.test)
    assert back.summary()["validation_foldin_rows"] == fold.summary()["validation_foldin_rows"]

    many = write_folds(PROTOCOLS["lenskit-user-crossfold"].folds(data), tmp_path / "lk")
    assert [p.name for p in many] == [f"fold-{k}" for k in range(1, 6)]
    assert json.loads((tmp_path / "lk" / "protocol.json").read_text())["folds"] == [p.name for p in many]
    assert [f.fold for f in load_folds(tmp_path / "lk")] == [1, 2, 3, 4, 5]


# ---------------------------------------------------------------------------- the command line
@pytest.fixture
def ratings_csv(tmp_path: Path, data: Interactions) -> Path:
    path = tmp_path / "ratings.csv"
    data.to_frame().to_csv(path, index=False)
    return path


def test_cli_protocol_folds_train_with_split_dir(ratings_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "lk"
    made = runner.invoke(
        app, ["split", "--data", str(ratings_csv), "--protocol", "lenskit-user-crossfold", "--out", str(out), "--json"]
    )
    assert made.exit_code == 0, made.output
    summary = json.loads(made.stdout)
    assert [Path(f["out"]).name for f in summary["folds"]] == [f"fold-{k}" for k in range(1, 6)]
    assert summary["protocol"]["name"] == "lenskit-user-crossfold"
    for k in (1, 5):
        run = tmp_path / f"run-{k}"
        trained = runner.invoke(
            app, ["train", "--split-dir", str(out / f"fold-{k}"), "--out", str(run), "--model", "popularity", "--json"]
        )
        assert trained.exit_code == 0, trained.output
        assert json.loads(trained.stdout)["test_rows"] == summary["folds"][k - 1]["test_rows"]


def test_cli_list_protocols(tmp_path: Path) -> None:
    shown = runner.invoke(app, ["split", "--list-protocols", "--json"])
    assert shown.exit_code == 0, shown.output
    assert [p["name"] for p in json.loads(shown.stdout)] == list(PROTOCOLS)
    table = runner.invoke(app, ["split", "--list-protocols"])
    assert table.exit_code == 0 and all(name in table.stdout for name in PROTOCOLS)


@pytest.mark.parametrize(
    ("extra", "wanted"),
    [
        (["--out", "{out}", "--split", "user"], "leave out --split (only --seed applies)"),
        (["--out", "{out}", "--test-fraction", "0.2", "--keep-unseen"], "leave out --test-fraction, --drop-unseen"),
        (["--cutoff", "2020-01-01", "--out", "{out}", "--test-count", "2"], "leave out --test-count, --cutoff"),
        (["--seed", "3"], "--out is missing"),
    ],
)
def test_cli_protocol_with_split_options_is_one_line(
    ratings_csv: Path, tmp_path: Path, extra: list[str], wanted: str
) -> None:
    args = ["split", "--data", str(ratings_csv), "--protocol", "loo-full-ranking"]
    result = runner.invoke(app, args + [e.format(out=tmp_path / "x") for e in extra])
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert wanted in line and not (tmp_path / "x").exists()


def test_cli_protocol_error_from_the_library_is_one_line(ratings_csv: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["split", "--data", str(ratings_csv), "--protocol", "ml100k-u-folds", "--out", str(tmp_path / "u")]
    )
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert "ml-100k" in line and not (tmp_path / "u").exists()


# ---------------------------------------------------------------------------- real ml-100k
@pytest.mark.realdata
def test_ml100k_u_folds_are_the_shipped_files() -> None:
    folder = real_dataset("ml-100k")
    folds = list(PROTOCOLS["ml100k-u-folds"].folds(load_data(folder)))
    assert len(folds) == 5
    for k, fold in enumerate(folds, start=1):
        assert (fold.train.n_ratings, fold.test.n_ratings) == (80_000, 20_000)
        for part, suffix in ((fold.train, "base"), (fold.test, "test")):
            shipped = pd.read_csv(folder / f"u{k}.{suffix}", sep="\t", header=None, usecols=[0, 1])
            assert pairs(part) == set(zip(shipped[0].tolist(), shipped[1].tolist(), strict=True)), f"u{k}.{suffix}"
    carved = validation_split(folds[0].train, "ml100k-u-folds", seed=1)
    assert (carved.train.n_ratings, carved.test.n_ratings) == (64_000, 16_000)
