"""embrec.tuning: search spaces, the validation carve-out, studies that resume and repeat, and never read test rows."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from embrec import extras
from embrec.data.splits import make_split
from embrec.errors import ConfigError, DataError, MissingExtraError, SplitError
from embrec.models import registry
from embrec.models.settings import parse_settings
from embrec.models.space import Choice, Float, Int, search_space_of
from embrec.tuning import (
    STUDY_FILE,
    check_tuning,
    model_space,
    parse_metric,
    pruning_reporter,
    tune,
    validation_seed,
    validation_split,
)

optuna = pytest.importorskip("optuna")


def _table(result):
    """The trial table without the timings, which differ from run to run."""
    return result.trials.drop(columns="seconds")


@pytest.fixture
def split(tiny):
    return make_split(tiny, "random", test_fraction=0.2, seed=1)


# ---------------------------------------------------------------------- search spaces
def _declared_spaces():
    """(model, fixed objective or None, space) of every built-in model with something to tune."""
    for name in registry.BUILTINS:
        config_class = registry.get(name).config_class
        if search_space_of(config_class):
            yield name, None, search_space_of(config_class)
        for objective, space in getattr(config_class, "objective_search_spaces", {}).items():
            yield name, objective, space


@pytest.mark.parametrize(("name", "objective", "space"), list(_declared_spaces()), ids=lambda v: str(v)[:20])
def test_every_declared_range_is_a_setting_the_config_accepts(name, objective, space):
    config_class = registry.get(name).config_class
    assert space, f"{name} declares no search space"
    settings = config_class.keys()
    fixed = {} if objective is None else {"objective": objective}
    assert model_space(name, fixed) == space
    for key, spec in space.items():
        assert key in settings
        values = spec.choices if isinstance(spec, Choice) else (spec.low, spec.high)
        for value in values:
            config_class(**fixed, **{key: value})  # raises ConfigError if the range runs outside the setting


def test_every_model_but_popularity_has_something_to_tune():
    tunable = {name for name, _, _ in _declared_spaces()}
    assert tunable == set(registry.BUILTINS) - {"popularity"}


def test_the_docs_list_every_models_search_space():
    doc = (Path(__file__).resolve().parents[1] / "docs" / "tuning.md").read_text()
    for name in registry.available():
        config_class = registry.get(name).config_class
        defaults = {f.name: f.default for f in dataclasses.fields(config_class)}
        space = search_space_of(config_class)
        for key, spec in space.items():
            default = "decided in fit" if defaults[key] is None else repr(defaults[key])
            row = f"| `{name}` | `{key}` | {spec.describe()} | {default} |"
            assert row in doc, f"docs/tuning.md lacks the row {row}"
        if not space:
            assert f"| `{name}` | (none) | nothing to tune | |" in doc
        for objective, space in getattr(config_class, "objective_search_spaces", {}).items():
            used = config_class.objective_defaults(objective)
            for key, spec in space.items():
                row = f"| `{name}`, objective={objective} | `{key}` | {spec.describe()} | {used[key]!r} |"
                assert row in doc, f"docs/tuning.md lacks the row {row}"


def test_popularity_has_nothing_to_tune():
    with pytest.raises(ConfigError, match="model 'popularity' has nothing to tune"):
        model_space("popularity")


def test_fixed_settings_leave_the_space():
    assert "weight_decay" not in model_space("embedding", {"weight_decay": 0.1})
    with pytest.raises(ConfigError, match="nothing left to tune"):
        model_space("ease", {"weight_decay": 100.0})


def test_ranges_refuse_nonsense():
    with pytest.raises(ConfigError):
        Float(1.0, 0.5)
    with pytest.raises(ConfigError):
        Float(0.0, 1.0, log=True)
    with pytest.raises(ConfigError):
        Int(0, 10, log=True)
    with pytest.raises(ConfigError):
        Choice(())


# ---------------------------------------------------------------------- metrics
def test_metrics_and_their_directions():
    assert (parse_metric("ndcg@10").name, parse_metric("ndcg@10").k) == ("ndcg", 10)
    assert parse_metric("NDCG@20").label == "ndcg@20"
    assert parse_metric("recall").label == "recall@10"
    assert parse_metric("ndcg@10").direction == "maximize"
    assert parse_metric("rmse").direction == "minimize" and parse_metric("rmse").k is None
    assert parse_metric("mae").direction == "minimize"


def test_the_catalogue_says_which_metrics_a_study_may_optimise():
    from embrec.evaluation.catalog import METRICS

    goals = {m.name: m.goal for m in METRICS}
    assert {name for name, goal in goals.items() if goal} == {
        "ndcg",
        "recall",
        "precision",
        "map",
        "mrr",
        "hit",
        "rmse",
        "mae",
    }
    for name, goal in goals.items():
        if goal is None:  # a beyond-accuracy figure: no study optimises it alone
            with pytest.raises(ConfigError, match="unknown metric"):
                parse_metric(name)
        else:
            assert parse_metric(name).direction == goal


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("accuracy", "unknown metric 'accuracy'; choose from ndcg@K"),
        ("coverage", "unknown metric 'coverage'; choose from ndcg@K"),
        ("", "unknown metric ''"),
        ("ndcg@", "as in ndcg@10"),
        ("ndcg@0", "as in ndcg@10"),
        ("ndcg@x", "as in ndcg@10"),
        ("rmse@10", "write metric='rmse'"),
    ],
)
def test_an_unknown_metric_names_the_allowed_ones(text, needle):
    with pytest.raises(ConfigError, match=needle):
        parse_metric(text)


# ---------------------------------------------------------------------- the validation carve-out
def test_validation_comes_from_the_training_rows_only(tiny):
    outer = make_split(tiny, "random", test_fraction=0.2, seed=1)
    val = validation_split(outer)
    train_pairs = set(zip(outer.train.users, outer.train.items))
    test_pairs = set(zip(outer.test.users, outer.test.items))
    val_pairs = set(zip(val.test.users, val.test.items)) | set(zip(val.train.users, val.train.items))
    assert val_pairs == train_pairs and not (val_pairs & test_pairs)
    assert val.method.value == "random" and val.test_fraction == 0.2
    assert val.test.n_ratings == int(np.ceil(0.2 * outer.train.n_ratings))
    assert val.seed == validation_seed(1) != 1
    assert np.array_equal(validation_split(outer).test_rows, val.test_rows)  # same seed, same carve-out
    assert not np.array_equal(validation_split(outer, seed=2).test_rows, val.test_rows)


def test_a_temporal_split_validates_on_each_users_latest_training_ratings(tiny):
    outer = make_split(tiny, "temporal", test_count=1)
    val = validation_split(outer)
    assert val.method.value == "temporal" and val.test_count == 1
    train = outer.train
    for user in np.unique(train.users):
        rows = np.flatnonzero(train.users == user)
        latest = rows[np.argmax(train.timestamps[rows])]
        picked = val.test_rows[train.users[val.test_rows] == user]
        assert len(picked) == 1 and train.timestamps[picked[0]] == train.timestamps[latest]


def test_loo_and_cutoff_carve_by_their_own_rules(tiny):
    loo = validation_split(make_split(tiny, "loo"))
    assert loo.method.value == "loo"
    assert np.bincount(loo.test.users).max() == 1
    outer = make_split(tiny, "cutoff", cutoff=int(np.quantile(tiny.timestamps, 0.8)))
    val = validation_split(outer)
    # a cutoff time becomes the latest 10% of the training time, all before the outer cutoff
    assert val.cutoff is not None and val.cutoff < outer.cutoff
    assert val.test.timestamps.min() >= val.cutoff > val.train.timestamps.max()


def test_a_training_part_too_small_to_carve_is_one_clear_error(tiny):
    outer = make_split(tiny, "random", test_count=len(tiny) // 2 + 1, seed=0)
    small = make_split(outer.test, "random", test_count=outer.test.n_ratings - 1, seed=0)
    with pytest.raises(SplitError, match="cannot carve a validation split from the training part"):
        validation_split(small)


# ---------------------------------------------------------------------- studies
def test_tune_finds_settings_and_tries_the_defaults_first(split):
    result = tune("ease", split, trials=3, seed=5)
    assert list(result.trials.columns) == ["number", "state", "weight_decay", "value", "seconds"]
    assert result.trials["weight_decay"].iloc[0] == 250.0  # the model's own default is trial 0
    assert (result.trials["state"] == "complete").all()
    assert set(result.best_config) == {"weight_decay"}
    assert result.best_value == result.trials["value"].max()
    assert result.direction == "maximize" and result.metric == "ndcg@10"
    assert result.validation["carved_from"] == "train" and result.validation["method"] == "random"
    info = result.to_dict()
    assert info["trials"] == 3 and info["best_config"] == result.best_config
    assert result.create().config.weight_decay == result.best_config["weight_decay"]


def test_changing_only_the_test_rows_changes_nothing(split):
    rng = np.random.default_rng(0)
    test = split.test
    scrambled = dataclasses.replace(
        test, ratings=rng.permutation(test.ratings), items=rng.permutation(test.items), timestamps=None
    )
    other = dataclasses.replace(split, test=scrambled, test_rows=split.test_rows[::-1])

    class Untouchable:
        def __getattr__(self, name):
            raise AssertionError(f"tuning read the test rows ({name})")

    poisoned = dataclasses.replace(split, test=Untouchable())
    runs = [tune("biases", s, trials=4, seed=3, metric="rmse") for s in (split, other, poisoned)]
    for run in runs[1:]:
        assert run.best_config == runs[0].best_config
        pd.testing.assert_frame_equal(_table(run), _table(runs[0]))


def test_the_same_seed_gives_the_same_study(split):
    first = tune("embedding", split, trials=3, seed=11, fixed={"epochs": 2})
    again = tune("embedding", split, trials=3, seed=11, fixed={"epochs": 2})
    pd.testing.assert_frame_equal(_table(first), _table(again))
    assert first.best_config == again.best_config and first.best_config["epochs"] == 2
    other = tune("embedding", split, trials=3, seed=12, fixed={"epochs": 2})
    assert not _table(other).equals(_table(first))


def test_a_study_resumes_up_to_the_total(split, tmp_path):
    out = tmp_path / "study"
    first = tune("ease", split, trials=2, seed=4, out=out)
    assert (out / STUDY_FILE).is_file() and len(first.trials) == 2
    second = tune("ease", split, trials=4, seed=4, out=out)
    table = pd.read_csv(out / "trials.csv")
    assert list(table["number"]) == [0, 1, 2, 3] and len(second.trials) == 4
    pd.testing.assert_frame_equal(_table(second).iloc[:2], _table(first))
    # the resumed trials are new draws, not the first ones again
    assert table["weight_decay"].nunique() == 4
    third = tune("ease", split, trials=3, seed=4, out=out)  # already past 3: nothing more runs
    assert len(third.trials) == 4


def test_a_folder_holding_another_study_is_refused(split, tiny, tmp_path):
    out = tmp_path / "study"
    tune("ease", split, trials=1, seed=4, out=out)
    before = (out / "trials.csv").read_text()
    with pytest.raises(ConfigError, match="another metric"):
        tune("ease", split, trials=2, seed=4, out=out, metric="recall@10")
    with pytest.raises(ConfigError, match="another model"):
        tune("biases", split, trials=2, seed=4, out=out)
    with pytest.raises(ConfigError, match="other training data"):
        tune("ease", make_split(tiny, "random", test_fraction=0.3, seed=1), trials=2, seed=4, out=out)
    with pytest.raises(ConfigError, match="split or seed"):
        tune("ease", split, trials=2, seed=5, out=out)
    assert (out / "trials.csv").read_text() == before


def test_best_toml_reads_back_as_the_best_settings(split, tmp_path):
    result = tune("biases", split, trials=3, seed=2, out=tmp_path / "s", metric="mae", fixed={"user_damping": 3.0})
    text = (tmp_path / "s" / "best.toml").read_text()
    assert text.startswith("# embrec tune:")
    settings = parse_settings([], tmp_path / "s" / "best.toml", registry.get("biases").config_class)
    assert settings == result.best_config and settings["user_damping"] == 3.0


@pytest.mark.parametrize("objective", ["rating", "ranking"])
def test_an_embedding_study_tries_the_settings_fit_would_use_first(split, objective):
    result = tune("embedding", split, trials=1, seed=5, fixed={"objective": objective, "epochs": 2}, metric="ndcg@5")
    first = result.trials.iloc[0]
    validation = validation_split(split, seed=5)
    used = registry.create("embedding", objective=objective, epochs=2).settings_for(validation.train)
    assert used["engine"] == ("numba" if objective == "rating" else "torch")
    for key in model_space("embedding", {"objective": objective}):
        assert first[key] == used[key], key  # the defaults as fit resolves them, engine's own included


def test_epochs_report_to_the_pruner(split):
    class PruneOdd(optuna.pruners.BasePruner):
        def prune(self, study, trial):
            return trial.number % 2 == 1

    result = tune("embedding", split, trials=4, seed=1, fixed={"epochs": 3}, pruner=PruneOdd())
    assert list(result.trials["state"]) == ["complete", "pruned", "complete", "pruned"]
    assert result.trials["value"].iloc[[1, 3]].isna().all()


def test_no_pruning_runs_every_trial_to_its_end(split, monkeypatch):
    class PruneAfterFirst(optuna.pruners.BasePruner):
        def prune(self, study, trial):
            return trial.number > 0

    monkeypatch.setattr(optuna.pruners, "MedianPruner", lambda **_: PruneAfterFirst())  # the default pruner
    pruned = tune("embedding", split, trials=3, seed=1, fixed={"epochs": 3})
    assert list(pruned.trials["state"]) == ["complete", "pruned", "pruned"]
    full = tune("embedding", split, trials=3, seed=1, fixed={"epochs": 3}, prune=False)
    assert list(full.trials["state"]) == ["complete"] * 3


def test_the_reporter_reports_losses_in_the_studys_direction():
    class Trial:
        def __init__(self, prune):
            self.reported, self.prune = [], prune

        def report(self, value, step):
            self.reported.append((step, value))

        def should_prune(self):
            return self.prune

    keep = Trial(False)
    report = pruning_reporter(keep, "maximize")
    report(1, 5, {"train_loss": 0.9, "val_loss": 0.5})
    report(2, 5, {"train_loss": 0.8})
    report(3, 5, {"seconds": 0.1})  # an epoch without a loss (ALS) reports nothing
    assert keep.reported == [(1, -0.5), (2, -0.8)]
    pruning_reporter(keep, "minimize")(4, 5, {"val_loss": 0.4})
    assert keep.reported[-1] == (4, 0.4)
    with pytest.raises(optuna.TrialPruned):
        pruning_reporter(Trial(True), "minimize")(1, 5, {"val_loss": 0.4})


# ---------------------------------------------------------------------- bad requests
def test_bad_requests_fail_before_anything_is_written(split, tmp_path):
    out = tmp_path / "study"
    cases = [
        (dict(model="ease", trials=0), "trials=0"),
        (dict(model="nope"), "unknown model 'nope'"),
        (dict(model="popularity"), "nothing to tune"),
        (dict(model="ease", metric="accuracy"), "unknown metric 'accuracy'"),
        (dict(model="ease", metric="rmse"), "predicts no ratings"),
        (dict(model="ease", fixed={"weight_decay": -1.0}), "weight_decay=-1.0"),
    ]
    for kwargs, needle in cases:
        with pytest.raises(ConfigError, match=needle):
            tune(split=split, out=out, **kwargs)
        assert not out.exists()


def test_a_failure_in_the_first_trial_leaves_no_study_behind(split, tmp_path):
    out = tmp_path / "study"
    with pytest.raises(ConfigError, match="predicts no ratings"):
        tune("embedding", split, trials=2, out=out, metric="rmse", fixed={"objective": "ranking", "epochs": 1})
    assert not out.exists()


def test_no_relevant_validation_item_is_one_clear_error(split):
    with pytest.raises(DataError, match="validation split"):
        tune("ease", split, trials=1, threshold=6.0)


def test_a_folder_of_other_files_is_refused(split, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="holds other files"):
        tune("ease", split, trials=1, out=tmp_path)


def test_check_tuning_needs_no_data():
    plan = check_tuning("ease", metric="ndcg@5", trials=3)
    assert plan.metric.k == 5 and list(plan.space) == ["weight_decay"]


def test_a_missing_optuna_is_one_line_naming_the_extra(split, monkeypatch):
    real = extras._installed
    monkeypatch.setattr(extras, "_installed", lambda module: module != "optuna" and real(module))
    with pytest.raises(MissingExtraError, match=r"'tune' extra.*embrec\[tune\]"):
        tune("ease", split, trials=1)


def test_a_protocol_fold_is_carved_the_protocols_way(tiny):
    # strong generalisation validates on held-out users: none of their rows may stay in the inner train
    from embrec.data.protocols import get_protocol

    fold = next(iter(get_protocol("strong-generalisation").folds(tiny, seed=3)))
    inner = validation_split(fold, seed=5)
    held_out = set(inner.test.user_ids[inner.test.users].tolist())
    assert held_out and held_out.isdisjoint(inner.train.user_ids[inner.train.users].tolist())
