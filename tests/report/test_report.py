"""The HTML report: built from a run folder, self-contained, escaped, and clean in a browser."""

from __future__ import annotations

import html
import json
import re
import shutil

import pytest

from conftest import real_dataset
from embrec.errors import ConfigError, DataError
from embrec.report import build_report
from embrec.runs import Run
from viz.helpers import EVIL_TITLE, assert_picture, browser_or_skip, open_page, train_run


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report")
    path, model, split = train_run(folder)
    return path, model, split


@pytest.fixture(scope="module")
def report(run, tmp_path_factory):
    path, _, _ = run
    out = tmp_path_factory.mktemp("out") / "nested" / "report.html"
    written = build_report(path, out, n_resamples=100, n_best=10)
    assert written == out
    return out


def test_run_data_recreates_the_training_split(run):
    path, model, split = run
    data, again = Run.open(path).data_and_split()
    assert again.train.fingerprint() == split.train.fingerprint() == model.data_fingerprint_
    assert data.n_ratings == split.train.n_ratings + split.test.n_ratings


def test_run_data_refuses_a_run_without_recorded_data(run, tmp_path):
    path, model, _ = run
    bare = model.save(tmp_path / "bare")
    with pytest.raises(ConfigError, match="does not record the data"):
        Run.open(bare).data_and_split()


def test_run_data_notices_other_data(run, tmp_path):
    path, _, _ = run
    copy = tmp_path / "run"
    shutil.copytree(path, copy)
    info = json.loads((copy / "embrec.json").read_text())
    info["extra"]["split"]["seed"] = 2
    (copy / "embrec.json").write_text(json.dumps(info))
    with pytest.raises(DataError, match="trained on other data"):
        Run.open(copy).data_and_split()


def test_report_holds_every_section(report):
    text = report.read_text()
    for anchor in ("data", "training", "evaluation", "map", "best", "users"):
        assert f'id="{anchor}"' in text
    for label in (
        "popularity",
        "ease",
        "ndcg",
        "novelty",
        "Paired differences",
        "damped mean",
        "Rated highly",
        "Recommended",
    ):
        assert label in text
    assert (
        len(re.findall(r'<img src="data:image/png;base64,', text)) == 4
    )  # histogram, curves, intervals, distributions
    assert re.search(r"\d\.\d{4}<span class=\"ci\">\[\d\.\d{4}, \d\.\d{4}\]</span>", text)  # means with intervals


def test_report_is_self_contained(report):
    text = report.read_text()
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=[\"']?(https?:)?//", text)
    assert len(re.findall(r"<script>", text)) == 2  # plotly.js once, the map once
    assert text.count("Plotly.newPlot") == 1 or text.count("newPlot(") >= 1


def test_report_escapes_titles(report):
    text = report.read_text()
    assert EVIL_TITLE not in text
    assert "<b>Bold</b>" not in text
    from markupsafe import escape

    assert str(escape(EVIL_TITLE)) in text  # in the tables, as text
    # in the map's hover data, escaped for plotly (which shows entities as characters) inside JSON
    assert html.escape(EVIL_TITLE).replace("/", "\\u002f") in text


def test_report_checks_the_output_name(run, tmp_path):
    path, _, _ = run
    with pytest.raises(ConfigError, match=".html"):
        build_report(path, tmp_path / "report.pdf")
    assert list(tmp_path.iterdir()) == []


def test_report_from_data_in_memory_and_without_baselines(run, tmp_path):
    path, _, split = run
    out = build_report(path, tmp_path / "r.html", baselines=(), split=split, n_resamples=20, n_users=1)
    text = out.read_text()
    assert "Paired differences" not in text
    assert text.count('class="user"') == 1


def test_report_refuses_a_split_of_other_data(run, tmp_path):
    path, _, split = run
    from embrec.data.splits import make_split

    other = make_split(split.train, "random", test_fraction=0.2, seed=5)
    with pytest.raises(DataError, match="other data"):
        build_report(path, tmp_path / "r.html", split=other)


def test_report_opens_cleanly_in_a_browser(report, tmp_path):
    browser_or_skip()
    found = open_page(report, tmp_path / "report.png", wait_ms=1200)
    assert found["console_errors"] == [], found["console_errors"]
    assert found["page_errors"] == [] and found["dialogs"] == []
    assert found["external_requests"] == []
    body = found["text"][0]
    assert EVIL_TITLE.split(" (")[0] in body  # the markup shows as text
    assert "Best-rated films" in body
    assert_picture(tmp_path / "report.png", min_size=800)


@pytest.mark.slow
@pytest.mark.realdata
def test_report_of_a_real_run(tmp_path):
    """ml-latest-small, the demo's settings: the report must finish well under a minute."""
    from embrec.data.load import load_data
    from embrec.data.splits import make_split
    from embrec.models.embedding import EmbeddingRecommender

    folder = real_dataset("ml-latest-small")
    data = load_data(folder)
    split = make_split(data, "random", test_fraction=0.1, seed=42)
    model = EmbeddingRecommender(objective="rating").fit(split.train)
    run = model.save(
        tmp_path / "run",
        extra={"data": {"data": str(folder)}, "split": {"split": "random", "test_fraction": 0.1, "seed": 42}},
    )
    out = build_report(run, tmp_path / "report.html")
    text = out.read_text()
    assert "Shawshank Redemption, The (1994)" in text
    assert "296" in text  # films with a perfect raw mean
    assert out.stat().st_size < 12_000_000


def test_report_says_which_test_pairs_rmse_scored(report, run):
    # the counts beside RMSE: scored pairs and those left out for a user or item new to training
    found = re.search(
        r"RMSE and MAE score the ([\d,]+) test pairs .*?; ([\d,]+) pairs with a user or item new", report.read_text()
    )
    assert found is not None
    rated, cold = (int(g.replace(",", "")) for g in found.groups())
    assert rated > 0 and rated + cold == run[2].test.n_ratings
