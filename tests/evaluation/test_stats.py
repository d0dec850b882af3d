"""Bootstrap intervals and paired tests: coverage of the mean, width, seeds, real and null differences."""

from __future__ import annotations

import numpy as np
import pytest

from embrec.errors import ConfigError, DataError
from embrec.evaluation.stats import (
    bootstrap_ci,
    bootstrap_means,
    paired_bootstrap,
    paired_comparison,
    wilcoxon_p,
)


def test_interval_contains_the_mean_and_narrows_with_more_users() -> None:
    rng = np.random.default_rng(1)
    few = bootstrap_ci(rng.random(30), seed=0)
    many = bootstrap_ci(rng.random(3000), seed=0)
    for ci in (few, many):
        assert ci.low <= ci.mean <= ci.high
        assert ci.level == 0.95
    assert few.n == 30 and many.n == 3000
    assert (many.high - many.low) < (few.high - few.low) / 5  # width shrinks like 1/sqrt(n)


def test_interval_matches_the_percentiles_of_resampled_means() -> None:
    values = np.random.default_rng(2).normal(size=200)
    ci = bootstrap_ci(values, n_resamples=500, level=0.9, seed=7)
    means = bootstrap_means(values, n_resamples=500, seed=7)
    assert ci.low == pytest.approx(np.quantile(means, 0.05))
    assert ci.high == pytest.approx(np.quantile(means, 0.95))
    assert ci.mean == pytest.approx(values.mean())


def test_same_seed_same_interval_and_nan_left_out() -> None:
    values = np.r_[np.random.default_rng(3).random(50), np.nan, np.nan]
    a, b = bootstrap_ci(values, seed=11), bootstrap_ci(values, seed=11)
    assert a == b
    assert a.n == 50 and a.mean == pytest.approx(np.nanmean(values))
    assert bootstrap_ci(values, seed=12) != a


def test_degenerate_samples() -> None:
    one = bootstrap_ci([0.4])
    assert (one.mean, one.low, one.high, one.n) == (0.4, 0.4, 0.4, 1)
    empty = bootstrap_ci([np.nan, np.nan])
    assert empty.n == 0 and np.isnan(empty.mean) and np.isnan(empty.low)
    constant = bootstrap_ci(np.full(10, 0.3))
    assert constant.low == pytest.approx(0.3) and constant.high == pytest.approx(0.3)


def test_bad_settings_are_named() -> None:
    with pytest.raises(ConfigError, match="level"):
        bootstrap_ci([1.0, 2.0], level=95)
    with pytest.raises(ConfigError, match="n_resamples"):
        bootstrap_ci([1.0, 2.0], n_resamples=0)
    with pytest.raises(DataError, match="1-D"):
        bootstrap_ci(np.ones((2, 2)))
    with pytest.raises(DataError, match="one value per user"):
        paired_comparison([1.0, 2.0], [1.0])


def test_paired_tests_detect_a_real_difference() -> None:
    rng = np.random.default_rng(4)
    a = rng.random(300)
    b = a + 0.05 + rng.normal(scale=0.1, size=300)  # better for most users, not all
    cmp = paired_comparison(a, b, seed=0)
    assert cmp.n == 300
    assert cmp.difference == pytest.approx((b - a).mean())
    assert cmp.low > 0 and cmp.low <= cmp.difference <= cmp.high
    assert cmp.p_bootstrap < 0.01
    assert cmp.p_wilcoxon < 0.01
    # The reverse comparison is the mirror image.
    rev = paired_comparison(b, a, seed=0)
    assert rev.difference == pytest.approx(-cmp.difference) and rev.p_wilcoxon == pytest.approx(cmp.p_wilcoxon)


def test_paired_tests_do_not_detect_a_null_difference() -> None:
    rng = np.random.default_rng(5)
    a = rng.random(300)
    noise = rng.normal(scale=0.1, size=150)
    b = a + np.r_[noise, -noise]  # differences symmetric around 0: no effect
    cmp = paired_comparison(a, b, seed=0)
    assert cmp.difference == pytest.approx(0.0, abs=1e-12)
    assert cmp.low < 0 < cmp.high
    assert cmp.p_bootstrap > 0.5
    assert cmp.p_wilcoxon > 0.5


def test_identical_models_give_p_one_and_pairs_with_nan_are_dropped() -> None:
    a = np.r_[np.linspace(0, 1, 20), np.nan]
    b = np.r_[np.linspace(0, 1, 20), 0.5]
    diff, low, high, p = paired_bootstrap(a, b)
    assert (diff, low, high, p) == (0.0, 0.0, 0.0, 1.0)
    assert wilcoxon_p(a, b) == 1.0
    assert paired_comparison(a, b).n == 20
    nothing = paired_comparison([np.nan], [1.0])
    assert nothing.n == 0 and np.isnan(nothing.p_bootstrap) and np.isnan(nothing.p_wilcoxon)


def test_wilcoxon_p_is_scipys() -> None:
    from scipy.stats import wilcoxon

    rng = np.random.default_rng(6)
    a, b = rng.random(40), rng.random(40)
    assert wilcoxon_p(a, b) == pytest.approx(wilcoxon(b - a).pvalue)
