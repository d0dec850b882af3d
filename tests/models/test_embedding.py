"""The embedding recommender: presets, training engine, fold-in, run folders."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from conftest import real_dataset
from embrec.data.build import build_interactions
from embrec.data.splits import make_split
from embrec.errors import ConfigError, DataError, ModelFileError, TrainingError, UnknownIdError
from embrec.models import EmbeddingConfig, load, preset
from embrec.models.config import DEFAULT_NEGATIVES
from embrec.models.embedding import EmbeddingRecommender
from embrec.models.io import FORMAT_VERSION


def small(**kw):
    return EmbeddingRecommender(EmbeddingConfig(epochs=4, embedding_dim=8, **kw))


def test_notebook_preset_is_the_exercise():
    cfg = preset("notebook")
    assert (cfg.embedding_dim, cfg.init_std, cfg.learning_rate, cfg.batch_size, cfg.epochs) == (16, 1.0, 0.01, 64, 10)
    assert cfg.weight_decay == 0 and cfg.bias_weight_decay == 0 and not cfg.early_stopping
    assert cfg.optimizer == "adam" and cfg.objective == "rating"


def test_bad_config_names_the_value():
    with pytest.raises(ConfigError, match="embedding_dim=0"):
        EmbeddingConfig(embedding_dim=0)
    with pytest.raises(ConfigError, match="objective='stars'"):
        EmbeddingConfig(objective="stars")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="unknown setting"):
        EmbeddingConfig.from_dict({"dimension": 3})


def test_fit_records_history_and_restores_best_epoch(tiny):
    model = EmbeddingRecommender(EmbeddingConfig(epochs=30, embedding_dim=4, patience=2, learning_rate=0.05)).fit(tiny)
    hist = model.history_
    assert len(hist) == model.epochs_run_ and model.best_epoch_ <= model.epochs_run_
    assert {"train_loss", "val_loss", "val_rmse", "train_rmse"} <= set(hist[0])
    best = min(h["val_loss"] for h in hist)
    assert hist[model.best_epoch_ - 1]["val_loss"] == best


def test_same_seed_same_model(tiny):
    a = small(seed=3).fit(tiny).score([100, 101])
    b = small(seed=3).fit(tiny).score([100, 101])
    c = small(seed=4).fit(tiny).score([100, 101])
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_predictions_on_the_star_scale(tiny):
    model = small().fit(tiny)
    pred = model.predict(tiny.user_ids[tiny.users], tiny.item_ids[tiny.items])
    assert pred.min() >= 1.0 and pred.max() <= 5.0


def test_nan_loss_stops_with_a_clear_error(tiny):
    with pytest.raises(TrainingError, match="lower learning_rate"):
        EmbeddingRecommender(EmbeddingConfig(epochs=3, learning_rate=1e30, init_std=1e20)).fit(tiny)


def test_rating_objective_needs_ratings():
    implicit = build_interactions([1, 1, 2], [5, 6, 5])
    with pytest.raises(ConfigError, match="objective='ranking'"):
        small(objective="rating").fit(implicit)  # asked for; left unset, implicit data trains ranking
    model = small(objective="ranking").fit(implicit)
    assert model.recommend(2, n=1)["item"].tolist() == [6]


def test_ranking_objective_sampled_softmax_matches_shapes(tiny):
    model = small(objective="ranking", n_negatives=5).fit(tiny)
    recs = model.recommend(None, n=3)
    assert len(recs) == 3 * tiny.n_users


def test_sparse_optimizer_trains(tiny):
    dense = small(optimizer="adam").fit(tiny)
    sparse = small(optimizer="sparse_adam").fit(tiny)
    assert sparse.history_[-1]["train_loss"] < sparse.history_[0]["train_loss"]
    assert dense.history_[-1]["train_loss"] < dense.history_[0]["train_loss"]


def test_unknown_ids(tiny):
    model = small().fit(tiny)
    with pytest.raises(UnknownIdError, match="999"):
        model.recommend(999)
    with pytest.raises(UnknownIdError, match="4242"):
        model.similar_items(4242)


def test_fold_in_validates_input(tiny):
    model = small().fit(tiny)
    with pytest.raises(DataError, match="outside the scale"):
        model.fold_in([1000], [9.0])
    with pytest.raises(DataError, match="one rating per item"):
        model.fold_in([1000, 1001], [3.0])
    recs = model.recommend_new_user([1000, 1001], [5.0, 1.0], n=5)
    assert not {1000, 1001} & set(recs["item"])


def test_save_load_identical_and_atomic(tiny, tmp_path):
    model = small().fit(tiny)
    run = model.save(tmp_path / "run")
    again = load(str(run))
    np.testing.assert_array_equal(model.score([100, 105]), again.score([100, 105]))
    assert again.history_ == json.loads(json.dumps(model.history_))
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left
    model.save(run)  # overwriting an earlier run is allowed
    assert load(str(run)).config == model.config


def test_weights_are_never_pickled(tiny, tmp_path):
    run = small().fit(tiny).save(tmp_path / "run")
    assert (run / "weights.safetensors").is_file()
    assert not list(run.glob("*.pt")) and not list(run.glob("*.pkl"))


def test_missing_corrupt_and_newer_runs(tiny, tmp_path):
    with pytest.raises(ModelFileError, match="no run folder"):
        load(str(tmp_path / "nope"))
    run = small().fit(tiny).save(tmp_path / "run")
    (run / "weights.safetensors").write_bytes(b"garbage")
    with pytest.raises(ModelFileError, match="corrupt"):
        load(str(run))
    run = small().fit(tiny).save(tmp_path / "run2")
    info = json.loads((run / "embrec.json").read_text())
    info["format_version"] = FORMAT_VERSION + 1
    (run / "embrec.json").write_text(json.dumps(info))
    with pytest.raises(ModelFileError, match="newer"):
        load(str(run))
    (run / "embrec.json").write_text("{not json")
    with pytest.raises(ModelFileError, match="corrupt"):
        load(str(run))


def test_threads_setting_is_restored(tiny):
    before = torch.get_num_threads()
    small(threads=1).fit(tiny)
    assert torch.get_num_threads() == before


@pytest.mark.slow
def test_default_beats_target_on_ml_latest_small_2016():
    from embrec.data.load import load_data

    data = load_data(real_dataset("ml-latest-small-2016"))
    split = make_split(data)
    model = EmbeddingRecommender().fit(split.train)
    pred = model.predict(split.test.user_ids[split.test.users], split.test.item_ids[split.test.items])
    rmse = float(np.sqrt(np.mean((pred - split.test.ratings) ** 2)))
    assert rmse <= 0.87, rmse


@pytest.mark.slow
def test_new_scifi_fan_gets_scifi():
    from embrec.data.load import load_data

    data = load_data(real_dataset("ml-100k"))
    model = EmbeddingRecommender(objective="ranking").fit(data)
    genres = data.item_metadata["genres"].fillna("").to_numpy()
    is_scifi = np.array(["Sci-Fi" in g for g in genres])
    by_popularity = np.argsort(-data.users_per_item(), kind="stable")
    # science-fiction films past the 10 blockbusters, which every kind of viewer has seen
    scifi = [i for i in by_popularity if is_scifi[i]][10:30]
    drama = [i for i in by_popularity if "Drama" in genres[i] and not is_scifi[i]][10:30]

    def scifi_share(items: list[int]) -> float:
        recs = model.recommend_new_user(data.item_ids[items], [5.0] * len(items), n=10)
        assert not set(recs["item"]) & set(data.item_ids[items])  # rated films are left out
        return float(is_scifi[model.item_index(recs["item"])].mean())

    fan, other = scifi_share(scifi), scifi_share(drama)
    assert fan >= 0.5, fan  # mostly science fiction (6% of the catalogue is)
    assert fan > other, (fan, other)  # and it is their ratings that make it so


# ---------------------------------------------------------------------------- asked vs resolved
def test_config_stays_as_asked_and_fit_records_what_it_used(tiny):
    config = EmbeddingConfig(epochs=2, device="cpu")  # on the CPU, auto picks the numba engine
    model = EmbeddingRecommender(config)
    assert model.config is config and model.config.embedding_dim is None
    model.fit(tiny)
    assert model.config is config
    used = model.resolved_config_
    assert (used.embedding_dim, used.learning_rate, used.weight_decay, used.decay_mode) == (64, 0.02, 2.5e-3, "per_row")
    assert (used.batch_size, used.patience, used.refit, used.optimizer, used.n_negatives, used.global_bias) == (
        1,
        3,
        True,
        "rowwise_adagrad",
        None,
        False,
    )
    assert (used.engine, used.device, used.threads) == ("numba", "cpu", 1) and used.device == model.device_
    assert model.net_.user_embedding.weight.shape[1] == 64
    torch_used = EmbeddingRecommender(config.replace(engine="torch")).fit(tiny).resolved_config_
    assert (torch_used.engine, torch_used.learning_rate, torch_used.batch_size, torch_used.optimizer) == (
        "torch",
        4e-3,
        1024,
        "adam",
    )
    assert (torch_used.embedding_dim, torch_used.refit, torch_used.global_bias) == (32, False, True)


@pytest.mark.parametrize(
    ("asked", "expected"),
    [
        (
            dict(objective="ranking"),
            dict(
                embedding_dim=64, decay_mode="decoupled", optimizer="adamw", n_negatives=None, refit=True, batch_size=64
            ),
        ),
        (dict(objective="ranking", n_negatives=5), dict(n_negatives=5)),
        (dict(objective="ranking", n_negatives=500), dict(n_negatives=None)),  # more than the 20 items: full softmax
        (dict(optimizer="sparse_adam"), dict(optimizer="sparse_adam")),
        (dict(optimizer="sparse_adam", decay_mode="decoupled"), dict(optimizer="adamw", weight_decay=3e-3)),
        (dict(decay_mode="decoupled", weight_decay=0.0), dict(optimizer="adam")),
        (dict(embedding_dim=4, patience=2), dict(embedding_dim=4, patience=2)),
    ],
)
def test_resolved_settings(asked, expected):
    used = EmbeddingConfig(**asked).resolve(n_users=30, n_items=20, device="cpu")
    assert {k: getattr(used, k) for k in expected} == expected
    assert used.threads == 1
    assert EmbeddingConfig().resolve(n_users=40_000, n_items=20_000, device="cuda").optimizer == "sparse_adam"
    assert EmbeddingConfig().resolve(n_users=10, n_items=10, device="cuda").threads is None
    ranking = EmbeddingConfig(objective="ranking").resolve(n_users=10, n_items=30_000, device="cpu")
    assert ranking.n_negatives == DEFAULT_NEGATIVES


def test_run_folder_stores_what_was_asked_and_what_was_used(tiny, tmp_path):
    model = EmbeddingRecommender(EmbeddingConfig(epochs=2, objective="ranking")).fit(tiny)
    run = model.save(tmp_path / "run")
    info = json.loads((run / "embrec.json").read_text())
    assert info["format_version"] == FORMAT_VERSION == 2
    assert info["config"] == model.config.to_dict() and info["config"]["embedding_dim"] is None
    assert info["resolved"] == model.resolved_config_.to_dict() and info["resolved"]["embedding_dim"] == 64
    again = load(run)
    assert again.config == model.config and again.resolved_config_ == model.resolved_config_
    np.testing.assert_array_equal(again.score([100, 105]), model.score([100, 105]))
    v1, _ = model.fold_in([1000, 1001], [5.0, 4.0])
    v2, _ = again.fold_in([1000, 1001], [5.0, 4.0])
    np.testing.assert_array_equal(v1, v2)
