"""Approximate retrieval (:mod:`embrec.retrieval`) and writing every user's lists as they come.

The index tests need faiss (``embrec[ann]``) and skip without it; the streaming and ``auto`` tests
run everywhere.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from typer.testing import CliRunner

from embrec import retrieval
from embrec.cli.main import app
from embrec.data.build import build_interactions
from embrec.errors import ConfigError, MissingExtraError
from embrec.models.base import Recommender
from embrec.models.embedding import EmbeddingRecommender
from embrec.ranking import Factors, top_n
from embrec.retrieval import IndexSettings, RecommendIndex, SimilarIndex, resolve

runner = CliRunner()
needs_faiss = pytest.mark.skipif(not retrieval._faiss_installed(), reason="needs faiss (pip install 'embrec[ann]')")


def recall(found: np.ndarray, exact: np.ndarray) -> float:
    """Mean share of each exact list (its valid items) that the approximate list holds."""
    shares = [len(set(f[f >= 0]) & set(e[e >= 0])) / max(1, int((e >= 0).sum())) for f, e in zip(found, exact)]
    return float(np.mean(shares))


@pytest.fixture(scope="module")
def planted_model() -> tuple[Factors, sp.csr_matrix]:
    """The planted model of ml-100k-shaped data (known low-rank factors and item biases) and its seen items."""
    from embrec.data.synthetic import planted

    data, truth = planted("ml-100k", seed=1, figures=False)
    return Factors.from_numpy(truth.user_factors, truth.item_factors, truth.item_bias), data.to_csr("ones")


# ---------------------------------------------------------------------------- the index
@needs_faiss
def test_recall_against_exact_search_on_planted_data(planted_model: tuple[Factors, sp.csr_matrix]) -> None:
    factors, seen = planted_model
    users = np.arange(factors.users.shape[0])
    exact, _ = top_n(factors, users, 10, seen=seen)
    found, scores = RecommendIndex(factors).recommend(users, 10, seen=seen)
    assert recall(found, exact) >= 0.95
    # what it finds it scores as the exact path does, best first
    same = found == exact
    np.testing.assert_allclose(scores[same], top_n(factors, users, 10, seen=seen)[1][same], rtol=1e-6)
    assert (np.diff(scores, axis=1) <= 0).all()


@needs_faiss
def test_an_item_with_a_huge_bias_comes_first_for_every_user(planted_model: tuple[Factors, sp.csr_matrix]) -> None:
    factors, _ = planted_model
    bias = factors.item_bias.clone()  # type: ignore[union-attr]
    bias[123] = 1e4
    boosted = Factors(factors.users, factors.items, bias)
    found, _ = RecommendIndex(boosted).recommend(np.arange(boosted.users.shape[0]), 5)
    assert (found[:, 0] == 123).all()


@needs_faiss
def test_seen_items_are_never_returned(planted_model: tuple[Factors, sp.csr_matrix]) -> None:
    factors, seen = planted_model
    n_users, n_items = seen.shape
    heavy = seen.tolil()
    heavy[0, :] = 1  # a user who has seen everything
    heavy[1, : n_items - 3] = 1  # one with three items left
    heavy[2, : retrieval.MAX_FETCH + 50] = 1  # more than one search asks for: ranked exactly
    heavy = heavy.tocsr()
    users = np.arange(n_users)
    found, scores = RecommendIndex(factors).recommend(users, 10, seen=heavy)
    for u in range(n_users):
        assert set(found[u][found[u] >= 0].tolist()).isdisjoint(heavy[u].indices.tolist())
    assert (found[0] == -1).all() and np.isneginf(scores[0]).all()
    np.testing.assert_array_equal(np.sort(found[1, :3]), np.arange(n_items - 3, n_items))
    assert (found[1, 3:] == -1).all()
    exact, _ = top_n(factors, users[:3], 10, seen=heavy)
    np.testing.assert_array_equal(found[2], exact[2])


@needs_faiss
def test_similar_items_through_the_index(planted_model: tuple[Factors, sp.csr_matrix]) -> None:
    factors, _ = planted_model
    vectors = factors.items.numpy()
    index = SimilarIndex(vectors)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    hits = []
    for item in range(0, len(vectors), 37):
        got = index.similar(item, 10)
        assert got is not None
        idx, sims = got
        assert item not in idx.tolist() and (np.diff(sims) <= 1e-7).all()
        np.testing.assert_allclose(sims, unit[idx] @ unit[item], atol=1e-5)
        sims_all = unit @ unit[item]
        sims_all[item] = -np.inf
        hits.append(len(set(idx.tolist()) & set(np.argsort(-sims_all)[:10].tolist())) / 10)
    assert np.mean(hits) >= 0.95


def test_index_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match="probe_share=0"):
        IndexSettings(probe_share=0)
    with pytest.raises(ConfigError, match="lists=0"):
        IndexSettings(lists=0)
    assert IndexSettings().n_lists(59_047) == round(4 * 59_047**0.5)
    assert (
        IndexSettings().n_probes(1000) == 50
        and IndexSettings().n_probes(10) == 10
        and IndexSettings().n_probes(100) == 16
    )


# ---------------------------------------------------------------------------- exact, ann or auto
def test_auto_is_exact_for_small_catalogues_and_for_models_without_factors(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve("auto", retrieval.ANN_MIN_ITEMS - 1) == "exact"
    assert resolve("auto", retrieval.ANN_MIN_ITEMS, has_factors=False) == "exact"
    assert resolve("auto", retrieval.ANN_MIN_ITEMS_BATCH - 1, n_users=10_000) == "exact"
    assert resolve("exact", 10**9) == "exact" and resolve("ann", 5) == "ann"
    monkeypatch.setattr(retrieval, "_faiss_installed", lambda: False)
    assert resolve("auto", 10**9) == "exact"  # auto never asks for what is not installed
    monkeypatch.setattr(retrieval, "_faiss_installed", lambda: True)
    assert resolve("auto", retrieval.ANN_MIN_ITEMS) == "ann"
    with pytest.raises(ConfigError, match="retrieval='fast'"):
        resolve("fast", 10)


def test_auto_on_a_small_catalogue_never_builds_an_index(tiny: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    model = EmbeddingRecommender(epochs=1, embedding_dim=4).fit(tiny)

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("built an index for 20 items")

    monkeypatch.setattr(retrieval.RecommendIndex, "__init__", refuse)
    monkeypatch.setattr(retrieval.SimilarIndex, "__init__", refuse)
    exact = model.recommend(n=5)
    pd.testing.assert_frame_equal(model.recommend(n=5, retrieval="auto"), exact)
    assert len(model.similar_items(model.item_ids_[0], 3, retrieval="auto")) == 3


def test_ann_needs_a_model_of_vectors(tiny: Any) -> None:
    from embrec.models.baselines.popularity import PopularityRecommender

    model = PopularityRecommender().fit(tiny)
    with pytest.raises(ConfigError, match="no approximate index; use retrieval='exact'"):
        model.recommend(n=3, retrieval="ann")


@needs_faiss
def test_a_model_builds_its_index_once_and_uses_it(tiny: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    model = EmbeddingRecommender(epochs=2, embedding_dim=4).fit(tiny)
    built = []
    real = retrieval.RecommendIndex.__init__

    def counting(self: RecommendIndex, *args: Any, **kwargs: Any) -> None:
        built.append(1)
        real(self, *args, **kwargs)

    monkeypatch.setattr(retrieval.RecommendIndex, "__init__", counting)
    first = model.recommend(n=5, retrieval="ann")
    again = model.recommend(model.user_ids_[:3], n=5, retrieval="ann")
    assert len(built) == 1
    # 20 items: the index searches every list, so it finds what exact search finds
    pd.testing.assert_frame_equal(first.drop(columns="score"), model.recommend(n=5).drop(columns="score"))
    assert len(again) == 15
    model.fit(tiny)  # a new fit: a new index
    model.recommend(n=5, retrieval="ann")
    assert len(built) == 2


# ---------------------------------------------------------------------------- the command line
@pytest.fixture
def run(tiny: Any, tmp_path: Path) -> Path:
    return EmbeddingRecommender(epochs=2, embedding_dim=4).fit(tiny).save(tmp_path / "run")


def test_missing_faiss_is_one_line_through_the_cli(run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import embrec.extras

    real = embrec.extras._installed
    monkeypatch.setattr(embrec.extras, "_installed", lambda module: module != "faiss" and real(module))
    for args in (
        ["recommend", str(run), "--user", "100", "--retrieval", "ann"],
        ["similar", str(run), "--item", "1000", "--retrieval", "ann"],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, result.output
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert len(lines) == 1 and "pip install 'embrec[ann]'" in lines[0] and "Traceback" not in result.output
    with pytest.raises(MissingExtraError, match=r"embrec\[ann\]"):
        retrieval.RecommendIndex(Factors.from_numpy(np.ones((2, 2)), np.ones((3, 2))))


@needs_faiss
def test_cli_recommend_and_similar_through_the_index(run: Path) -> None:
    rec = runner.invoke(app, ["recommend", str(run), "--user", "100", "-n", "3", "--retrieval", "ann", "--json"])
    assert rec.exit_code == 0, rec.output
    exact = runner.invoke(app, ["recommend", str(run), "--user", "100", "-n", "3", "--retrieval", "exact", "--json"])
    assert [r["item"] for r in json.loads(rec.stdout)["recommendations"]] == [
        r["item"] for r in json.loads(exact.stdout)["recommendations"]
    ]
    sim = runner.invoke(app, ["similar", str(run), "--item", "1000", "-n", "2", "--retrieval", "ann", "--json"])
    assert sim.exit_code == 0 and len(json.loads(sim.stdout)["similar"]) == 2


@pytest.mark.parametrize("retrieval_flag", ["exact", "auto"])
def test_all_users_csv_is_what_recommend_gives(run: Path, tmp_path: Path, retrieval_flag: str) -> None:
    from embrec.models import load

    out = tmp_path / "recs.csv"
    result = runner.invoke(
        app, ["recommend", str(run), "--all-users", "-n", "4", "--out", str(out), "--retrieval", retrieval_flag]
    )
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8") == load(str(run)).recommend(n=4).to_csv(index=False)
    assert "for 30 users" in result.output


def test_all_users_parquet_is_what_recommend_gives(run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from embrec.cli import model_cmd
    from embrec.models import load

    real = Recommender.iter_recommend

    def small_blocks(self: Recommender, *args: Any, **kwargs: Any) -> Any:
        return real(self, *args, **{**kwargs, "block_size": 3})

    monkeypatch.setattr(Recommender, "iter_recommend", small_blocks)
    monkeypatch.setattr(model_cmd, "_ROW_GROUP_ROWS", 20)  # several row groups from tiny data
    out = tmp_path / "recs.parquet"
    result = runner.invoke(app, ["recommend", str(run), "--all-users", "-n", "4", "--out", str(out)])
    assert result.exit_code == 0, result.output
    import pyarrow.parquet as pq

    assert pq.ParquetFile(out).num_row_groups > 1
    pd.testing.assert_frame_equal(pd.read_parquet(out), load(str(run)).recommend(n=4), check_dtype=False)


def test_all_users_streams_block_by_block_and_never_builds_the_whole_frame(
    run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocks = []
    real = Recommender.iter_recommend

    def small_blocks(self: Recommender, *args: Any, **kwargs: Any) -> Any:
        for frame in real(self, *args, **{**kwargs, "block_size": 4}):
            blocks.append(frame["user"].nunique())
            yield frame

    monkeypatch.setattr(Recommender, "iter_recommend", small_blocks)
    monkeypatch.setattr(Recommender, "recommend", lambda *a, **k: pytest.fail("built every user's lists at once"))
    out = tmp_path / "recs.csv"
    result = runner.invoke(app, ["recommend", str(run), "--all-users", "-n", "2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert blocks == [4] * 7 + [2] and pd.read_csv(out)["user"].nunique() == 30


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_failure_mid_way_leaves_nothing(
    run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    real = Recommender.iter_recommend

    def fails_after_one_block(self: Recommender, *args: Any, **kwargs: Any) -> Any:
        frames = real(self, *args, **{**kwargs, "block_size": 4})
        yield next(frames)
        raise ConfigError("stopped on purpose")

    monkeypatch.setattr(Recommender, "iter_recommend", fails_after_one_block)
    out = tmp_path / f"recs{suffix}"
    result = runner.invoke(app, ["recommend", str(run), "--all-users", "--out", str(out)])
    assert result.exit_code == 2 and "stopped on purpose" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no file, no temporary left


def test_all_users_out_replaces_an_old_file_only_when_done(run: Path, tmp_path: Path) -> None:
    out = tmp_path / "recs.csv"
    out.write_text("old\n")
    result = runner.invoke(app, ["recommend", str(run), "--all-users", "-n", "1", "--out", str(out)])
    assert result.exit_code == 0 and out.read_text().startswith("user,rank,item,score")


def test_many_users_through_the_library_stream_the_same(tiny: Any) -> None:
    model = EmbeddingRecommender(epochs=1, embedding_dim=4).fit(tiny)
    parts = list(model.iter_recommend(n=3, block_size=7))
    assert [p["user"].nunique() for p in parts] == [7, 7, 7, 7, 2]
    pd.testing.assert_frame_equal(pd.concat(parts, ignore_index=True), model.recommend(n=3))


def test_users_with_many_seen_items_rank_exactly_without_faiss() -> None:
    # the exact path never needs faiss, whatever retrieval='auto' would pick for a large catalogue
    rng = np.random.default_rng(0)
    pairs = np.unique(rng.integers(0, 40 * 60, 1200))  # some users see most of the 60 items
    data = build_interactions(pairs // 60, pairs % 60, None, name="many-seen")
    model = EmbeddingRecommender(epochs=1, embedding_dim=4).fit(data)
    items, _ = model.recommend_indexes(np.arange(len(model.user_ids_)), 5, retrieval="auto")
    for u, row in enumerate(items):
        assert set(row[row >= 0].tolist()).isdisjoint(model.seen_[u].indices.tolist())


def test_a_caller_keeps_autograd_while_it_reads_the_lists(tiny: Any) -> None:
    # the generator computes without gradients, but never leaves them off in the caller's code between blocks
    model = EmbeddingRecommender(epochs=1, embedding_dim=4).fit(tiny)
    for _ in model.iter_recommend(n=3, block_size=7):
        assert torch.is_grad_enabled()
        x = torch.ones(2, requires_grad=True)
        (x * 2).sum().backward()
        assert x.grad is not None
