"""Ceilings on list length, bootstrap resamples and re-ranking candidates: a typo is refused at once,
with the parameter, the value and the allowed range, before any model ranks."""

from __future__ import annotations

import numpy as np
import pytest

from embrec import create
from embrec.data.splits import Split, make_split
from embrec.errors import ConfigError
from embrec.evaluation import Reranker, bootstrap_ci, evaluate, evaluate_lists, parse_reranker, sweep
from embrec.evaluation.context import MAX_K, longest_k
from embrec.evaluation.rerank import MAX_CANDIDATES
from embrec.evaluation.stats import MAX_RESAMPLES, paired_bootstrap
from embrec.testing import tiny_interactions


@pytest.fixture(scope="module")
def split() -> Split:
    return make_split(tiny_interactions(), "random", test_fraction=0.3, seed=0)


@pytest.fixture(scope="module")
def fitted(split: Split):
    return create("popularity").fit(split.train)


def test_the_longest_list_is_the_catalogue_at_most_a_thousand():
    assert MAX_K == 1000
    assert longest_k(1682) == 1000
    assert longest_k(500) == 500
    assert longest_k(20) == 100  # a top-10 of a toy catalogue is padded, not refused


def test_a_list_longer_than_the_catalogue_names_its_size(split, fitted):
    with pytest.raises(
        ConfigError, match=r"k=1000000000 is too long: the catalogue has 20 items .* give k from 1 to 100\."
    ):
        evaluate(fitted, split, k=10**9)
    with pytest.raises(ConfigError, match=r"k=101 is too long"):
        evaluate_lists(evaluate(fitted, split, k=5).recommendations(), split, k=101)
    assert evaluate(fitted, split, k=100, n_resamples=10).k == 100


def test_resamples_have_a_ceiling_checked_before_any_model_ranks(split):
    unfitted = create("popularity")  # ranking it would fail with "not fitted": the settings fail first
    with pytest.raises(
        ConfigError, match=r"n_resamples=1000000000 is not allowed; give a whole number from 1 to 100,000"
    ):
        evaluate(unfitted, split, n_resamples=10**9)
    with pytest.raises(ConfigError, match=r"n_resamples=100001 is not allowed"):
        evaluate_lists(split.test.to_frame().assign(rank=1), split, n_resamples=MAX_RESAMPLES + 1)
    with pytest.raises(ConfigError, match="n_resamples=0"):
        bootstrap_ci(np.ones(5), n_resamples=0)
    with pytest.raises(ConfigError, match=r"n_resamples=100001"):
        paired_bootstrap(np.ones(5), np.zeros(5), n_resamples=MAX_RESAMPLES + 1)
    interval = bootstrap_ci(np.arange(5.0), n_resamples=MAX_RESAMPLES)
    assert interval.low <= 2.0 <= interval.high


def test_rerank_candidates_have_a_ceiling(split, fitted):
    message = r"candidates=1000000000 is not allowed; give a whole number from 1 to 1,000"
    with pytest.raises(ConfigError, match=message):
        Reranker("mmr", 0.3, candidates=10**9)
    with pytest.raises(ConfigError, match=message):
        parse_reranker("mmr:0.3", candidates=10**9)
    with pytest.raises(ConfigError, match=message):
        sweep(fitted, split, [0.0, 0.5], method="novelty", candidates=10**9)
    assert Reranker("mmr", 0.3, candidates=MAX_CANDIDATES).candidates == MAX_CANDIDATES


def test_more_candidates_than_items_rerank_the_whole_catalogue(split, fitted):
    reranker = Reranker("novelty", 0.5, candidates=MAX_CANDIDATES)
    assert reranker.width(10, 20) == 20 and reranker.width(10, 5000) == MAX_CANDIDATES
    result = evaluate(fitted, split, k=5, rerank=reranker, n_resamples=10)
    assert result.models[0].recs.shape[1] == 5
