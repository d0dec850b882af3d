"""Experiments: the file format and its one-line errors, the statistics, the comparison, cells reused on a rerun."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from embrec.data.protocols import PROTOCOLS, get_protocol
from embrec.errors import ConfigError, DataError, SplitError
from embrec.evaluation.foldin import foldin_lists
from embrec.experiments import (
    COLUMNS,
    compare_cells,
    holm,
    load_experiment,
    parse_experiment,
    run_experiment,
    t_interval,
)
from embrec.experiments.cells import Cell, CellKey, evaluated_split, folds_in
from embrec.experiments.runner import check_out_folder
from embrec.experiments.spec import ModelSpec
from embrec.experiments.stats import paired_t
from embrec.models import registry
from embrec.testing import tiny_interactions

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


# ---------------------------------------------------------------------------- statistics
def test_holm_matches_hand_computed_values():
    # sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> running max 0.06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_holm_caps_at_one_keeps_nan_out_of_the_count_and_leaves_one_test_alone():
    out = holm([0.2, float("nan"), 0.6])  # m = 2: 0.2*2 = 0.4, max(0.4, 0.6*1) = 0.6
    assert out[0] == pytest.approx(0.4) and math.isnan(out[1]) and out[2] == pytest.approx(0.6)
    assert holm([0.7, 0.8, 0.9]) == pytest.approx([1.0, 1.0, 1.0])
    assert holm([0.03]) == pytest.approx([0.03])
    assert holm([]).size == 0


def test_holm_is_never_below_the_raw_p_and_keeps_the_order():
    p = np.random.default_rng(0).random(12)
    adjusted = holm(p)
    assert np.all(adjusted >= p - 1e-15) and np.all(adjusted <= 1.0)
    order = np.argsort(p)
    assert np.all(np.diff(adjusted[order]) >= -1e-15)


def test_holm_refuses_a_value_that_is_no_p_value():
    with pytest.raises(DataError, match="outside"):
        holm([0.1, 1.5])


def test_t_interval_matches_hand_computed_values():
    ci = t_interval([1.0, 2.0, 3.0], 0.95)
    half = 4.302652729911275 * 1.0 / math.sqrt(3)  # t(0.975, 2) * s / sqrt(n), s = 1
    assert (ci.mean, ci.sd, ci.n) == (pytest.approx(2.0), pytest.approx(1.0), 3)
    assert (ci.low, ci.high) == (pytest.approx(2.0 - half), pytest.approx(2.0 + half))


def test_t_interval_of_one_value_has_no_width_and_of_equal_values_none():
    one = t_interval([0.5, float("nan")])
    assert one.mean == 0.5 and one.n == 1 and math.isnan(one.low) and math.isnan(one.high)
    same = t_interval([0.3, 0.3, 0.3])
    assert same.low == pytest.approx(0.3) and same.high == pytest.approx(0.3)
    assert t_interval([]).n == 0


def test_paired_t_matches_scipy_and_the_hand_computed_t():
    a, b = [1.0, 2.0, 3.0], [2.0, 4.0, 5.0]  # d = 1, 2, 2: mean 5/3, s = sqrt(1/3), t = 5
    difference, low, high, p, n = paired_t(a, b)
    assert difference == pytest.approx(5 / 3) and n == 3
    assert p == pytest.approx(2 * sps.t.sf(5.0, 2)) and p == pytest.approx(sps.ttest_rel(b, a).pvalue)
    assert low < difference < high
    assert math.isnan(paired_t([1.0], [2.0])[3])
    assert paired_t([1.0, 2.0], [1.0, 2.0])[3] == 1.0


# ---------------------------------------------------------------------------- the file
MINIMAL = {
    "datasets": [{"name": "ml-100k"}],
    "protocols": [{"name": "random-90-10"}],
    "models": {"popularity": {"model": "popularity"}, "ease": {"model": "ease"}},
}


def _with(**changes):
    table = json.loads(json.dumps(MINIMAL))
    table.update(changes)
    return table


def test_every_example_file_is_valid_and_there_is_one_per_protocol():
    files = sorted(EXAMPLES.glob("*.toml"))
    names = set()
    for path in files:
        experiment = load_experiment(path)
        assert experiment.n_cells > 0
        assert experiment.baseline in [m.label for m in experiment.models]
        names |= {p.name for p in experiment.protocols}
        header = path.read_text(encoding="utf-8").splitlines()[0]
        assert header.startswith("#"), f"{path.name} has no header comment"
        assert "compare with" in path.read_text(encoding="utf-8").lower()
    assert names == set(PROTOCOLS)
    assert {p.stem for p in files} == set(PROTOCOLS)


def test_defaults_and_the_protocols_own_metrics():
    experiment = parse_experiment(MINIMAL)
    assert experiment.seeds == (42,) and experiment.baseline == "popularity"
    (protocol,) = experiment.protocols
    assert [m.label for m in protocol.metrics] == list(get_protocol("random-90-10").metrics)
    assert experiment.n_cells == 1 * 1 * 2 * 1
    lenskit = parse_experiment(_with(protocols=["lenskit-user-crossfold"], seeds=[1, 2]))
    assert lenskit.n_cells == 5 * 2 * 2
    assert [m.label for m in lenskit.protocols[0].metrics] == ["ndcg@10", "recall@10", "rmse"]


def test_metrics_threshold_and_k_are_read_as_documented():
    experiment = parse_experiment(
        _with(
            metrics=["ndcg", "recall@20", "rmse", "coverage@5"],
            evaluation={"k": 7, "threshold": "none"},
            protocols=[{"name": "random-90-10"}, {"name": "loo-full-ranking", "threshold": 3.5, "metrics": ["hit"]}],
        )
    )
    first, second = experiment.protocols
    assert [m.label for m in first.metrics] == ["ndcg@7", "recall@20", "rmse", "coverage@5"]
    assert first.threshold is None and first.ks == (5, 7, 20)
    assert second.threshold == 3.5 and [m.label for m in second.metrics] == ["hit@7"]


def test_settings_are_typed_as_the_model_takes_them(tmp_path):
    experiment = parse_experiment(
        _with(models={"emb": {"model": "embedding", "settings": {"objective": "ranking", "embedding_dim": 8}}})
    )
    (model,) = experiment.models
    assert model.settings == {"objective": "ranking", "embedding_dim": 8} and model.seeded


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"seed": [1]}, ["unknown key 'seed'", "did you mean 'seeds'"]),
        ({"baseline": "pop"}, ["baseline = 'pop'", "popularity, ease"]),
        ({"seeds": []}, ["seeds = []", "seeds = [1, 2, 3]"]),
        ({"seeds": [1, 1]}, ["repeated"]),
        ({"seeds": [-1]}, ["-1 is not a seed"]),
        ({"metrics": ["ndgc@10"]}, ["unknown metric 'ndgc@10'", "did you mean 'ndcg'"]),
        ({"metrics": ["rmse@10"]}, ["rmse", "without @K"]),
        ({"metrics": ["ndcg@0"]}, ["list length"]),
        ({"evaluation": {"n_resamples": 0}}, ["[evaluation]", "n_resamples = 0"]),
        ({"evaluation": {"threshold": "high"}}, ["threshold = 'high'", '"none"']),
        ({"evaluation": {"kk": 1}}, ["[evaluation]", "unknown key 'kk'", "did you mean 'k'"]),
        ({"protocols": [{"name": "random-90-1"}]}, ["not a protocol", "did you mean 'random-90-10'"]),
        ({"protocols": []}, ["at least one [[protocols]]"]),
        ({"datasets": [{"name": "ml-100"}]}, ["[[datasets]] #1", "ml-100"]),
        ({"datasets": [{}]}, ["exactly one of name", "path"]),
        ({"datasets": [{"path": "no/such/file.csv"}]}, ["path", "does not exist"]),
        ({"datasets": [{"name": "ml-100k", "user_col": 3}]}, ["user_col = 3"]),
        ({"models": {}}, ["at least one [models.LABEL]"]),
        ({"models": {"x": {"model": "easy"}}}, ["[models.x]", "unknown model 'easy'", "did you mean 'ease'"]),
        ({"models": {"x": {"model": "ease", "setting": {}}}}, ["unknown key 'setting'", "did you mean 'settings'"]),
        (
            {"models": {"x": {"model": "ease", "settings": {"weight_decay": -1}}}},
            ["[models.x] settings", "weight_decay"],
        ),
        ({"models": {"x": {"model": "ease", "settings": {"lambda": 1}}}}, ["unknown setting 'lambda'"]),
        ({"models": {"x": {"model": "embedding", "settings": {"seed": 3}}}}, ["seed", "experiment's seeds"]),
        ({"models": {"a b": {"model": "ease"}}}, ["'a b'", "label"]),
    ],
)
def test_bad_input_is_one_line_naming_the_key_and_the_fix(changes, words):
    with pytest.raises(ConfigError) as info:
        parse_experiment(_with(**changes), file="exp.toml")
    message = str(info.value)
    assert message.startswith("exp.toml: ") and "\n" not in message
    for word in words:
        assert word in message, message


def test_tune_blocks_are_checked_before_anything_runs():
    pytest.importorskip("optuna")
    ok = parse_experiment(_with(models={"t": {"model": "ease", "tune": {"trials": 3, "metric": "ndcg@5"}}}))
    assert ok.models[0].tune is not None and ok.models[0].tune.metric == "ndcg@5" and ok.models[0].tune.prune
    unpruned = parse_experiment(_with(models={"t": {"model": "ease", "tune": {"prune": False}}}))
    assert unpruned.models[0].tune is not None and unpruned.models[0].tune.prune is False
    bad = [
        ({"trials": 0}, "trials"),
        ({"metric": "gini"}, "gini"),
        ({"trails": 3}, "trials"),
        ({"prune": "no"}, "prune"),
    ]
    for tune, word in bad:
        with pytest.raises(ConfigError, match=word):
            parse_experiment(_with(models={"t": {"model": "ease", "tune": tune}}))
    with pytest.raises(ConfigError, match="nothing to tune|search space|tune"):
        parse_experiment(_with(models={"t": {"model": "popularity", "tune": {}}}))


def test_a_missing_or_broken_file_is_one_line(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_experiment(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("name = \n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_experiment(bad)


def test_relative_paths_are_read_beside_the_file(tmp_path):
    (tmp_path / "data").mkdir()
    tiny_interactions().to_frame().to_csv(tmp_path / "data" / "r.csv", index=False)
    exp = tmp_path / "exp.toml"
    exp.write_text(
        '[[datasets]]\npath = "data/r.csv"\n[[protocols]]\nname = "random-90-10"\n[models.p]\nmodel = "popularity"\n',
        encoding="utf-8",
    )
    experiment = load_experiment(exp)
    assert experiment.datasets[0].label == "r" and experiment.datasets[0].options.data == str(tmp_path / "data/r.csv")
    assert experiment.name == "exp"


# ---------------------------------------------------------------------------- the comparison
def _cell(model, seed, users, values, *, fold=1, lists=None):
    frame = pd.DataFrame({"user": [str(u) for u in users], "ndcg@10": values})
    key = CellKey("d", "random-90-10", fold, seed, model)
    return Cell(key=key, per_user=frame, lists=dict(lists or {}), info={})


def test_the_comparison_pairs_users_averaged_over_seeds_and_holm_counts_the_table():
    experiment = parse_experiment(
        _with(
            datasets=[{"name": "ml-100k", "label": "d"}],
            seeds=[1, 2],
            metrics=["ndcg@10", "rmse"],
            models={"base": {"model": "popularity"}, "a": {"model": "ease"}, "b": {"model": "ease"}},
        )
    )
    cells = [
        _cell("base", 1, [1, 2, 3], [0.1, 0.2, 0.3], lists={"rmse": 1.0}),
        _cell("base", 2, [2, 3, 4], [0.2, 0.2, 0.2], lists={"rmse": 1.1}),
        _cell("a", 1, [1, 2, 3], [0.3, 0.4, 0.5], lists={"rmse": 0.9}),
        _cell("a", 2, [2, 3, 4], [0.4, 0.4, 0.6], lists={"rmse": 0.95}),
        _cell("b", 1, [1, 2, 3], [0.1, 0.2, 0.3], lists={"rmse": float("nan")}),
        _cell("b", 2, [2, 3, 4], [0.2, 0.2, 0.2], lists={"rmse": float("nan")}),
    ]
    table = compare_cells(experiment, cells)
    assert list(table.columns) == list(COLUMNS)
    row = table[(table["model"] == "a") & (table["metric"] == "ndcg@10")].iloc[0]
    # cell means 0.4 and 0.4667; users: 1 -> +0.2; 2 -> (0.2 + 0.2)/2; 3 -> (0.2 + 0.2)/2; 4 -> +0.4
    assert row["mean"] == pytest.approx((0.4 + (0.4 + 0.4 + 0.6) / 3) / 2)
    assert row["cells"] == 2 and row["paired_over"] == "users" and row["pairs"] == 4 and row["test"] == "bootstrap"
    assert row["difference"] == pytest.approx((0.2 + 0.2 + 0.2 + 0.4) / 4)
    rmse = table[(table["model"] == "a") & (table["metric"] == "rmse")].iloc[0]
    assert rmse["paired_over"] == "cells" and rmse["pairs"] == 2 and rmse["test"] == "t"
    assert rmse["difference"] == pytest.approx(((0.9 - 1.0) + (0.95 - 1.1)) / 2)
    # b equals the baseline on ndcg (p = 1) and has no rmse: 3 tests in the table, not 4
    tested = table[~table["is_baseline"]]
    assert tested["p_value"].notna().sum() == 3
    expected = holm(tested["p_value"].to_numpy())
    assert np.allclose(tested["p_value_holm"].to_numpy(), expected, equal_nan=True)
    b_ndcg = table[(table["model"] == "b") & (table["metric"] == "ndcg@10")].iloc[0]
    assert b_ndcg["difference"] == 0.0 and b_ndcg["p_value"] == 1.0 and not b_ndcg["significant"]
    base = table[table["is_baseline"]]
    assert base["difference"].isna().all() and base["significant"].isna().all()


# ---------------------------------------------------------------------------- cells and folders
def test_strong_generalisation_trains_on_the_fold_in_rows_never_on_the_targets():
    data = tiny_interactions()
    fold = next(get_protocol("strong-generalisation").folds(data, seed=3))
    split = evaluated_split(fold, data)
    assert split.train.n_ratings == fold.train.n_ratings + fold.foldin.n_ratings
    pairs = set(zip(split.train.users.tolist(), split.train.items.tolist()))
    targets = set(zip(fold.test.users.tolist(), fold.test.items.tolist()))
    assert not pairs & targets
    validation_users = set(fold.validation.users.tolist())
    assert not validation_users & set(split.train.users.tolist())  # validation users stay out of training
    tuning = evaluated_split(fold, data, for_tuning=True)  # ... but a study sees their fold-in input
    assert tuning.train.n_ratings == split.train.n_ratings + fold.validation_foldin.n_ratings
    assert not set(zip(tuning.train.users.tolist(), tuning.train.items.tolist())) & targets
    other = next(get_protocol("random-90-10").folds(data, seed=3))
    assert evaluated_split(other, data) is other and evaluated_split(other, data, for_tuning=True) is other


def test_held_out_users_are_folded_in_from_their_input_alone():
    data = tiny_interactions()
    fold = next(get_protocol("strong-generalisation").folds(data, seed=3))
    split = evaluated_split(fold, data)
    ease = registry.create("ease", weight_decay=5.0).fit(fold.train)  # the training users alone
    other = next(get_protocol("random-90-10").folds(data, seed=3))
    assert folds_in(ModelSpec(label="ease", model="ease", settings={}), split)
    assert not folds_in(ModelSpec(label="ease", model="ease", settings={}), other)  # no held-out users
    assert not folds_in(ModelSpec(label="knn", model="item_knn", settings={}), split)  # trained on their input
    recs = foldin_lists(ease, split, 5)
    heldout = set(fold.foldin.user_ids[fold.foldin.users].tolist())
    assert set(recs["user"]) == heldout and not heldout & set(fold.train.user_ids[fold.train.users].tolist())
    user = sorted(heldout)[0]
    foldin = fold.foldin.to_frame()
    given = foldin[foldin["user"] == user]
    weights = ease.weights_[ease.item_index(given["item"].tolist())].sum(axis=0)
    weights[ease.item_index(given["item"].tolist())] = -np.inf  # the input items are left out
    expected = ease.item_ids_[np.lexsort((np.arange(len(weights)), -weights))[:5]]
    assert recs[recs["user"] == user].sort_values("rank")["item"].tolist() == expected.tolist()


def test_a_study_under_strong_generalisation_folds_its_validation_users_in(monkeypatch):
    from embrec.models.baselines.ease import EASERecommender
    from embrec.tuning import tune, validation_split

    data = tiny_interactions()
    fold = next(get_protocol("strong-generalisation").folds(data, seed=3))
    tuning = evaluated_split(fold, data, for_tuning=True)
    validation = validation_split(tuning)
    validation_users = set(validation.foldin.user_ids[validation.foldin.users].tolist())
    assert validation_users and validation_users <= set(tuning.train.user_ids[tuning.train.users].tolist())
    fitted_users: list[set[str]] = []
    scored: list[int] = []
    fit, score_history = EASERecommender.fit, EASERecommender.score_history

    def spy_fit(self, interactions, *args, **kwargs):
        fitted_users.append(set(interactions.user_ids[interactions.users].tolist()))
        return fit(self, interactions, *args, **kwargs)

    def spy_history(self, items, ratings=None):
        scored.append(len(items))
        return score_history(self, items, ratings)

    monkeypatch.setattr(EASERecommender, "fit", spy_fit)
    monkeypatch.setattr(EASERecommender, "score_history", spy_history)
    result = tune("ease", tuning, metric="ndcg@5", trials=2, seed=3, threshold=3.0)
    assert len(fitted_users) == 2 and all(not users & validation_users for users in fitted_users)
    assert len(scored) == 2 * len(validation_users)  # each validation user ranked from their fold-in rows
    assert 0.0 <= result.best_value <= 1.0


def test_the_out_folder_must_be_new_empty_or_ours(tmp_path):
    assert check_out_folder(tmp_path / "new") == tmp_path / "new"
    (tmp_path / "mine" / "cells").mkdir(parents=True)
    check_out_folder(tmp_path / "mine")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("x", encoding="utf-8")
    with pytest.raises(ConfigError, match="holds other files"):
        check_out_folder(tmp_path / "other")
    with pytest.raises(ConfigError, match="is a file"):
        check_out_folder(tmp_path / "other" / "notes.txt")


TINY_EXPERIMENT = """
name = "tiny"
seeds = [1, 2]
baseline = "popularity"
metrics = ["ndcg@5", "recall@5", "rmse"]
[evaluation]
threshold = 3.0
n_resamples = 50
[[datasets]]
path = "ratings.csv"
[[protocols]]
name = "random-90-10"
[[protocols]]
name = "loo-full-ranking"
[models.popularity]
model = "popularity"
[models.ease]
model = "ease"
settings = { weight_decay = 50 }
[models.biases]
model = "biases"
"""


@pytest.fixture
def tiny_experiment(tmp_path):
    # 30 users with 8 ratings each: enough for a 10% holdout and for leave-one-out
    tiny_interactions().to_frame().to_csv(tmp_path / "ratings.csv", index=False)
    path = tmp_path / "exp.toml"
    path.write_text(TINY_EXPERIMENT, encoding="utf-8")
    return path


def test_an_experiment_runs_end_to_end_and_a_rerun_reuses_every_cell(tiny_experiment, tmp_path):
    out = tmp_path / "out"
    seen = []
    run = run_experiment(load_experiment(tiny_experiment), out, progress=lambda d, t, i: seen.append((d, t, i)))
    assert (run.computed, run.reused, len(run.cells)) == (12, 0, 12)
    assert seen[0] == (0, 12, {}) and seen[-1][0] == 12 and seen[-1][2]["state"] == "computed"
    for name in ("results.csv", "results.json", "results.md", "report.html", "experiment.toml"):
        assert (out / name).is_file(), name
    assert len(list((out / "cells").iterdir())) == 12
    table = pd.read_csv(out / "results.csv")
    assert set(table["protocol"]) == {"random-90-10", "loo-full-ranking"}
    assert len(table) == 2 * 3 * 3  # protocols x metrics x models
    assert (table.loc[table["model"] == "biases", "cells"] == 2).all()
    info = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert info["cells"] == {"total": 12, "computed": 12, "reused": 0} and len(info["rows"]) == len(table)
    markdown = (out / "results.md").read_text(encoding="utf-8")
    assert "## ratings · random-90-10" in markdown and "popularity (baseline)" in markdown
    html = (out / "report.html").read_text(encoding="utf-8")
    assert html.startswith("<!doctype html>") and 'src="http' not in html and "<link" not in html
    assert html.count('src="data:image/png;base64,') == 2  # one plot per table, inlined
    cell = next((out / "cells").iterdir())
    stored = json.loads((cell / "cell.json").read_text(encoding="utf-8"))
    assert {"request", "config", "seconds", "lists", "users"} <= set(stored)
    assert len(stored["request"]["train"]) == 64  # the fold's training data by fingerprint

    again = run_experiment(load_experiment(tiny_experiment), out)
    assert (again.computed, again.reused) == (0, 12)
    pd.testing.assert_frame_equal(again.table.reset_index(drop=True), run.table.reset_index(drop=True))


def test_a_changed_model_recomputes_only_its_cells(tiny_experiment, tmp_path):
    out = tmp_path / "out"
    run_experiment(load_experiment(tiny_experiment), out)
    tiny_experiment.write_text(TINY_EXPERIMENT.replace("weight_decay = 50", "weight_decay = 80"), encoding="utf-8")
    changed = run_experiment(load_experiment(tiny_experiment), out)
    assert (changed.computed, changed.reused) == (4, 8)  # ease: 2 protocols x 2 seeds
    recomputed = {c.key.model for c in changed.cells if not c.reused}
    assert recomputed == {"ease"}
    stored = json.loads(next((out / "cells").glob("*__ease")).joinpath("cell.json").read_text(encoding="utf-8"))
    assert stored["config"]["weight_decay"] == 80


def test_a_damaged_cell_is_computed_again_and_force_recomputes_all(tiny_experiment, tmp_path):
    out = tmp_path / "out"
    run_experiment(load_experiment(tiny_experiment), out)
    damaged = next((out / "cells").iterdir())
    (damaged / "cell.json").write_text("{not json", encoding="utf-8")
    again = run_experiment(load_experiment(tiny_experiment), out)
    assert (again.computed, again.reused) == (1, 11)
    forced = run_experiment(load_experiment(tiny_experiment), out, force=True)
    assert (forced.computed, forced.reused) == (12, 0)


def test_a_tuned_model_is_tuned_on_the_training_part_and_records_what_it_found(tmp_path):
    pytest.importorskip("optuna")
    tiny_interactions().to_frame().to_csv(tmp_path / "ratings.csv", index=False)
    path = tmp_path / "exp.toml"
    path.write_text(
        '[evaluation]\nthreshold = 3.0\nn_resamples = 20\n[[datasets]]\npath = "ratings.csv"\n'
        '[[protocols]]\nname = "random-90-10"\nmetrics = ["ndcg@5"]\n'
        '[models.popularity]\nmodel = "popularity"\n'
        '[models.tuned]\nmodel = "ease"\ntune = { trials = 2, metric = "ndcg@5" }\n',
        encoding="utf-8",
    )
    run = run_experiment(load_experiment(path), tmp_path / "out")
    tuned = next(c for c in run.cells if c.key.model == "tuned")
    assert tuned.info["tuning"]["trials"] == 2 and tuned.info["tuning"]["validation"]["carved_from"] == "train"
    assert tuned.info["config"]["weight_decay"] == pytest.approx(tuned.info["tuning"]["best_config"]["weight_decay"])


def test_a_failing_dataset_writes_no_results(tmp_path):
    (tmp_path / "ratings.csv").write_text("user,item,rating\n1,2,3\n", encoding="utf-8")
    path = tmp_path / "exp.toml"
    path.write_text(
        '[[datasets]]\npath = "ratings.csv"\n[[protocols]]\nname = "ml100k-u-folds"\n[models.p]\nmodel = "popularity"\n',
        encoding="utf-8",
    )
    out = tmp_path / "out"
    with pytest.raises(SplitError, match="ml100k-u-folds"):
        run_experiment(load_experiment(path), out)
    assert not (out / "results.csv").exists()


@pytest.mark.slow
@pytest.mark.realdata
def test_the_random_90_10_example_runs_on_ml_100k(tmp_path):
    from conftest import real_dataset

    real_dataset("ml-100k")
    run = run_experiment(load_experiment(EXAMPLES / "random-90-10.toml"), tmp_path / "out")
    table = run.table.set_index(["metric", "model"])
    biases, embedding = table.loc[("rmse", "biases"), "mean"], table.loc[("rmse", "embedding"), "mean"]
    assert 0.85 < biases < 1.0 and 0.8 < embedding < 1.0  # Surprise's ml-100k: BaselineOnly 0.944, SVD 0.934
    assert run.computed == 10
