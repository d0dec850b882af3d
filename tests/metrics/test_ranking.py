"""Ranking metrics at k: hand-computed values, a per-user reference, properties, input errors."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from embrec.errors import ConfigError, DataError
from embrec.metrics import (
    average_precision,
    hit,
    hit_matrix,
    hit_rate,
    mean_average_precision,
    mean_over_users,
    mean_reciprocal_rank,
    ndcg,
    precision,
    ranking_report,
    recall,
    reciprocal_rank,
    relevant_items,
)

PER_USER = {
    "precision": precision,
    "recall": recall,
    "ndcg": ndcg,
    "map": average_precision,
    "mrr": reciprocal_rank,
    "hit_rate": hit,
}

# ---------------------------------------------------------------- the hand-computed case
# 6 items, k = 3, relevant = rating >= 4.
#   user 0: ratings {0: 5, 2: 4, 4: 2, 5: 4} -> R = {0, 2, 5};       list [2, 1, 5]  hits [1, 0, 1]
#   user 1: ratings {1: 5}                  -> R = {1};              list [0, 1, -]  hits [0, 1, 0]
#   user 2: ratings {3: 3}                  -> R = {} (NaN);         list [3, 4, 5]
#   user 3: ratings {0..3: 4}               -> R = {0, 1, 2, 3};     list [5, 4, -]  hits [0, 0, 0]
RATINGS = np.array(
    [
        [5, 0, 4, 0, 2, 4],
        [0, 5, 0, 0, 0, 0],
        [0, 0, 0, 3, 0, 0],
        [4, 4, 4, 4, 0, 0],
    ],
    dtype=np.float64,
)
RECS = np.array([[2, 1, 5], [0, 1, -1], [3, 4, 5], [5, 4, -1]])
L2, L3 = 1 / math.log2(3), 1 / math.log2(4)  # discounts of ranks 2 and 3 (rank 1 has 1)

EXPECTED = {
    # P@3 = hits / 3
    "precision": [2 / 3, 1 / 3, np.nan, 0.0],
    # R@3 = hits / |R|: 2/3, 1/1, -, 0/4
    "recall": [2 / 3, 1.0, np.nan, 0.0],
    # user 0: DCG = 1 + 1/log2(4) = 1.5, IDCG over min(3, 3) = 3 ideal hits = 1 + 1/log2(3) + 1/log2(4)
    # user 1: DCG = 1/log2(3), IDCG over min(1, 3) = 1 ideal hit = 1 (the k-bug would divide by 2.13)
    "ndcg": [(1 + L3) / (1 + L2 + L3), L2, np.nan, 0.0],
    # user 0: (P@1 + P@3) / min(3, 3) = (1 + 2/3) / 3 = 5/9; user 1: P@2 / min(1, 3) = 1/2
    "map": [5 / 9, 1 / 2, np.nan, 0.0],
    # first hit at rank 1, rank 2, -, none
    "mrr": [1.0, 1 / 2, np.nan, 0.0],
    "hit_rate": [1.0, 1.0, np.nan, 0.0],
}


def truth_csr() -> sp.csr_matrix:
    return sp.csr_matrix(RATINGS)


@pytest.mark.parametrize("name", list(PER_USER))
def test_hand_computed_per_user(name: str) -> None:
    got = PER_USER[name](RECS, truth_csr(), threshold=4.0)
    np.testing.assert_allclose(got, EXPECTED[name], rtol=1e-12)


def test_hand_computed_report_and_aggregates() -> None:
    report = ranking_report(RECS, truth_csr(), threshold=4.0)
    for name, values in EXPECTED.items():
        # the mean skips user 2, who has no relevant item
        assert report[name] == pytest.approx(np.nanmean(values)), name
    assert report["users"] == 3.0
    assert report["precision"] == pytest.approx(1 / 3)  # (2/3 + 1/3 + 0) / 3
    assert report["map"] == pytest.approx(19 / 54)  # (5/9 + 1/2 + 0) / 3
    assert mean_average_precision(RECS, truth_csr(), threshold=4.0) == pytest.approx(19 / 54)
    assert mean_reciprocal_rank(RECS, truth_csr(), threshold=4.0) == pytest.approx(0.5)  # (1 + 1/2 + 0) / 3
    assert hit_rate(RECS, truth_csr(), threshold=4.0) == pytest.approx(2 / 3)


def test_cut_off_k() -> None:
    truth = truth_csr()
    # k=2 keeps [2, 1] for user 0: hits [1, 0]; P = 1/2; NDCG = 1 / (1 + 1/log2(3)) over min(3, 2) ideal hits
    assert precision(RECS, truth, threshold=4.0, k=2)[0] == pytest.approx(0.5)
    assert ndcg(RECS, truth, threshold=4.0, k=2)[0] == pytest.approx(1 / (1 + L2))
    # AP@2 = P@1 / min(3, 2) = 1/2
    assert average_precision(RECS, truth, threshold=4.0, k=2)[0] == pytest.approx(0.5)
    # k=4 is wider than recs: the empty 4th slot counts as a miss, P = 2/4
    assert precision(RECS, truth, threshold=4.0, k=4)[0] == pytest.approx(0.5)


def test_ndcg_gain_is_binary_and_discount_is_log2_of_rank_plus_one() -> None:
    # One relevant item at rank 2: 1/log2(3), where trec_eval's ndcg_cut (Järvelin & Kekäläinen
    # with b = 2, no discount at ranks 1 and 2) would give 1.
    one = sp.csr_matrix(np.array([[0, 1, 0]], dtype=bool))
    assert ndcg(np.array([[0, 1, 2]]), one)[0] == pytest.approx(1 / math.log2(3))
    assert ndcg(np.array([[0, 2, 1]]), one)[0] == pytest.approx(1 / math.log2(4))
    # A 5-star and a 4-star hit gain the same (exponential gain 2^r - 1 of the stars would not).
    graded = sp.csr_matrix(np.array([[5.0, 4.0, 0.0, 0.0]]))
    first, second = (
        ndcg(np.array([[0, 3, 1]]), graded, threshold=4.0),
        ndcg(np.array([[1, 3, 0]]), graded, threshold=4.0),
    )
    np.testing.assert_allclose(first, second)
    np.testing.assert_allclose(first, (1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3)))


def test_ndcg_docs_name_the_gain_and_the_discount() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "metrics.md").read_text(encoding="utf-8")
    for text, where in ((ndcg.__doc__ or "", "the ndcg docstring"), (docs, "docs/metrics.md")):
        flat = " ".join(text.split())
        assert "binary gain" in flat.lower(), where
        assert "exponential gain" in flat and "coincide" in flat, where  # binary: 2^rel - 1 = rel
        assert "log2(j + 1)" in flat and "Burges" in flat, where  # the discount, and whose it is
        assert "trec_eval" in flat and "ndcg_cut" in flat, where  # and who uses another one


def test_truth_forms_agree() -> None:
    as_bool = sp.csr_matrix(RATINGS >= 4)
    for name, fn in PER_USER.items():
        np.testing.assert_allclose(fn(RECS, as_bool), EXPECTED[name], err_msg=name)
    # without a threshold every stored rating is relevant: user 2 now has item 3 at rank 1
    assert reciprocal_rank(RECS, truth_csr())[2] == 1.0
    # sparse arrays and other sparse formats are accepted
    np.testing.assert_allclose(ndcg(RECS, sp.csr_array(RATINGS).tocoo(), threshold=4.0), EXPECTED["ndcg"])


def test_relevant_items() -> None:
    rel = relevant_items(truth_csr(), threshold=4.0)
    assert rel.dtype == np.bool_
    np.testing.assert_array_equal(rel.toarray(), RATINGS >= 4)
    assert rel.nnz == int((RATINGS >= 4).sum())
    # explicit False entries of a boolean truth are not relevant
    stored_false = sp.csr_matrix((np.array([True, False]), np.array([0, 1]), np.array([0, 2])), shape=(1, 3))
    np.testing.assert_array_equal(relevant_items(stored_false).toarray(), [[True, False, False]])


def test_hit_matrix() -> None:
    hits = hit_matrix(RECS, truth_csr(), threshold=4.0)
    np.testing.assert_array_equal(hits, [[1, 0, 1], [0, 1, 0], [0, 0, 0], [0, 0, 0]])


def test_mean_over_users() -> None:
    assert mean_over_users([1.0, np.nan, 0.0]) == 0.5
    assert math.isnan(mean_over_users([np.nan, np.nan]))  # no RuntimeWarning (warnings are errors here)
    assert math.isnan(mean_over_users([]))


def test_no_relevant_item_anywhere() -> None:
    truth = sp.csr_matrix((2, 4))
    recs = np.array([[0, 1], [2, -1]])
    for fn in PER_USER.values():
        assert np.isnan(fn(recs, truth)).all()
    assert all(math.isnan(v) for k, v in ranking_report(recs, truth).items() if k != "users")


def test_no_users() -> None:
    out = ndcg(np.zeros((0, 3), dtype=np.int64), sp.csr_matrix((0, 5)))
    assert out.shape == (0,)


# ---------------------------------------------------------------- a plain per-user reference
def reference(recs: np.ndarray, rel: np.ndarray) -> dict[str, list[float]]:
    """Textbook loops, one user at a time."""
    out: dict[str, list[float]] = {name: [] for name in PER_USER}
    k = recs.shape[1]
    for row, relevant_row in zip(recs, rel, strict=True):
        relevant = set(np.flatnonzero(relevant_row).tolist())
        listed = [int(i) for i in row if i >= 0]
        if not relevant:
            for values in out.values():
                values.append(np.nan)
            continue
        flags = [i in relevant for i in listed]
        n_hits = sum(flags)
        dcg = sum(1 / math.log2(rank + 2) for rank, f in enumerate(flags) if f)
        idcg = sum(1 / math.log2(rank + 2) for rank in range(min(len(relevant), k)))
        ap, seen = 0.0, 0
        for rank, f in enumerate(flags):
            if f:
                seen += 1
                ap += seen / (rank + 1)
        first = next((rank for rank, f in enumerate(flags) if f), None)
        out["precision"].append(n_hits / k)
        out["recall"].append(n_hits / len(relevant))
        out["ndcg"].append(dcg / idcg)
        out["map"].append(ap / min(len(relevant), k))
        out["mrr"].append(0.0 if first is None else 1 / (first + 1))
        out["hit_rate"].append(float(n_hits > 0))
    return out


@st.composite
def ranking_cases(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    """Random lists (distinct items, -1 padding at the end) and a boolean relevance matrix."""
    n_items = draw(st.integers(1, 9))
    n_users = draw(st.integers(1, 6))
    k = draw(st.integers(1, 6))
    rows = []
    for _ in range(n_users):
        perm = draw(st.permutations(range(n_items)))
        length = draw(st.integers(0, min(k, n_items)))
        rows.append(list(perm[:length]) + [-1] * (k - length))
    rel = draw(hnp.arrays(np.bool_, (n_users, n_items)))
    return np.array(rows, dtype=np.int64).reshape(n_users, k), rel


@settings(max_examples=150, deadline=None)
@given(ranking_cases())
def test_matches_reference_and_bounds(case: tuple[np.ndarray, np.ndarray]) -> None:
    recs, rel = case
    expected = reference(recs, rel)
    no_relevant = ~rel.any(axis=1)
    for name, fn in PER_USER.items():
        got = fn(recs, sp.csr_matrix(rel))
        np.testing.assert_allclose(got, expected[name], rtol=1e-12, atol=1e-15, err_msg=name)
        assert (np.isnan(got) == no_relevant).all()
        defined = got[~no_relevant]
        assert ((defined >= 0) & (defined <= 1 + 1e-12)).all(), name
    report = ranking_report(recs, sp.csr_matrix(rel))
    for name in PER_USER:
        values = np.array(expected[name])
        want = values[~np.isnan(values)].mean() if (~np.isnan(values)).any() else np.nan
        np.testing.assert_allclose(report[name], want, rtol=1e-12, err_msg=name)


@settings(max_examples=100, deadline=None)
@given(ranking_cases(), st.randoms(use_true_random=False))
def test_set_metrics_ignore_order_within_a_list(case: tuple[np.ndarray, np.ndarray], rnd) -> None:
    recs, rel = case
    shuffled = recs.copy()
    for row in shuffled:
        m = int((row >= 0).sum())
        part = row[:m].tolist()
        rnd.shuffle(part)
        row[:m] = part
    truth = sp.csr_matrix(rel)
    for fn in (precision, recall, hit):
        np.testing.assert_array_equal(fn(recs, truth), fn(shuffled, truth))


@settings(max_examples=100, deadline=None)
@given(ranking_cases(), st.randoms(use_true_random=False))
def test_ties_swapping_equally_relevant_items_changes_nothing(case: tuple[np.ndarray, np.ndarray], rnd) -> None:
    # With binary gain all relevant items are tied, as are all non-relevant ones: shuffling the items
    # among the relevant positions (and among the non-relevant positions) leaves every metric unchanged.
    recs, rel = case
    truth = sp.csr_matrix(rel)
    hits = hit_matrix(recs, truth)
    swapped = recs.copy()
    for u, row in enumerate(swapped):
        for mask in (hits[u], (row >= 0) & ~hits[u]):
            part = row[mask].tolist()
            rnd.shuffle(part)
            row[mask] = part
    for name, fn in PER_USER.items():
        np.testing.assert_array_equal(fn(recs, truth), fn(swapped, truth), err_msg=name)


@settings(max_examples=100, deadline=None)
@given(ranking_cases(), st.permutations(range(6)))
def test_users_are_independent(case: tuple[np.ndarray, np.ndarray], perm: list[int]) -> None:
    recs, rel = case
    order = np.array([p for p in perm if p < recs.shape[0]])
    for name, fn in PER_USER.items():
        whole = fn(recs, sp.csr_matrix(rel))
        np.testing.assert_array_equal(fn(recs[order], sp.csr_matrix(rel[order])), whole[order], err_msg=name)


@settings(max_examples=100, deadline=None)
@given(hnp.arrays(np.bool_, st.tuples(st.integers(1, 5), st.integers(1, 9))), st.integers(1, 6))
def test_perfect_ranking_scores_one(rel: np.ndarray, k: int) -> None:
    # relevant items first (in any order), then the others, then padding
    rows = []
    for r in rel:
        order = list(np.flatnonzero(r)) + list(np.flatnonzero(~r))
        rows.append((order + [-1] * k)[:k])
    recs = np.array(rows, dtype=np.int64)
    truth = sp.csr_matrix(rel)
    has = rel.any(axis=1)
    for fn in (ndcg, average_precision, reciprocal_rank, hit):
        got = fn(recs, truth)
        np.testing.assert_allclose(got[has], 1.0, rtol=1e-12)
        assert np.isnan(got[~has]).all()
    n_rel = rel.sum(axis=1)
    np.testing.assert_allclose(precision(recs, truth)[has], np.minimum(n_rel, k)[has] / k)
    np.testing.assert_allclose(recall(recs, truth)[has], np.minimum(n_rel, k)[has] / n_rel[has])


@settings(max_examples=100, deadline=None)
@given(ranking_cases(), st.integers(1, 4))
def test_padding(case: tuple[np.ndarray, np.ndarray], extra: int) -> None:
    recs, rel = case
    truth = sp.csr_matrix(rel)
    k = recs.shape[1]
    padded = np.concatenate([recs, np.full((recs.shape[0], extra), -1)], axis=1)
    # a wider k pads with -1: same as padding by hand
    for name, fn in PER_USER.items():
        np.testing.assert_array_equal(fn(recs, truth, k=k + extra), fn(padded, truth), err_msg=name)
        # cutting the padded lists back to k gives the original values
        np.testing.assert_array_equal(fn(padded, truth, k=k), fn(recs, truth), err_msg=name)
    # empty slots are misses: hits, recall and reciprocal rank do not move, precision divides by the wider k
    for fn in (recall, reciprocal_rank, hit):
        np.testing.assert_array_equal(fn(padded, truth), fn(recs, truth))
    np.testing.assert_allclose(precision(padded, truth), precision(recs, truth) * k / (k + extra))


# ---------------------------------------------------------------- input errors
@pytest.mark.parametrize(
    ("recs", "error", "message"),
    [
        (np.array([0, 1]), DataError, "2-D"),
        (np.array([[0.0, 1.0]]), DataError, "integer item indexes"),
        (np.array([[0, 6], [0, 1], [0, 1], [0, 1]]), DataError, r"recs\[0, 1\] = 6 is not an item index"),
        (np.array([[0, -2], [0, 1], [0, 1], [0, 1]]), DataError, "not an item index"),
        (np.array([[-1, 1], [0, 1], [0, 1], [0, 1]]), DataError, "after -1 padding"),
        (np.array([[1, 1], [0, 1], [0, 1], [0, 1]]), DataError, "lists item 1 more than once"),
        (np.array([[0, 1]]), DataError, "recs has 1 rows but truth has 4"),
        (np.zeros((4, 0), dtype=np.int64), DataError, "no columns"),
    ],
)
def test_bad_recs(recs: np.ndarray, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        ndcg(recs, truth_csr(), threshold=4.0)


def test_bad_k_and_threshold() -> None:
    for k in (0, -1, 2.5, True):
        with pytest.raises(ConfigError, match="k must be a positive integer"):
            precision(RECS, truth_csr(), k=k)
    with pytest.raises(ConfigError, match="already boolean"):
        precision(RECS, sp.csr_matrix(RATINGS >= 4), threshold=4.0)
    with pytest.raises(ConfigError, match="finite"):
        precision(RECS, truth_csr(), threshold=float("nan"))


def test_bad_truth() -> None:
    with pytest.raises(DataError, match="scipy sparse matrix"):
        precision(RECS, RATINGS, threshold=4.0)
    nan_truth = truth_csr()
    nan_truth.data[0] = np.nan
    with pytest.raises(DataError, match="NaN"):
        precision(RECS, nan_truth, threshold=4.0)
    # a CSR built from raw arrays can store (0, 1) twice; summing would turn two 3-star ratings into 6
    twice = sp.csr_matrix((np.array([3.0, 3.0]), np.array([1, 1]), np.array([0, 2, 2, 2, 2])), shape=(4, 6))
    with pytest.raises(DataError, match=r"stores \(0, 1\) more than once"):
        precision(RECS, twice, threshold=4.0)
