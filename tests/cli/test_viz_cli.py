"""``embrec best-rated``, ``embrec plot ...`` and ``embrec report`` through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from conftest import real_dataset
from embrec.cli.viz_cmd import register
from viz.helpers import assert_picture, assert_svg, train_run, write_catalogue

runner = CliRunner()


def make_app() -> typer.Typer:
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)

    @app.callback()
    def main() -> None:
        """A stand-in for the embrec app."""

    register(app)
    return app


APP = make_app()


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    return train_run(tmp_path_factory.mktemp("cli"))[0]


def invoke(*args: str):
    return runner.invoke(APP, [str(a) for a in args])


def test_best_rated_table_and_json(tmp_path):
    ratings, items = write_catalogue(tmp_path)
    result = invoke("best-rated", "--data", ratings, "--items", items, "-n", "5")
    assert result.exit_code == 0, result.output
    assert "best-rated films" in result.output and "damped mean" in result.output
    assert "1 films have a raw mean of 5 (1 of them from a single rating)" in result.output
    result = invoke(
        "best-rated", "--data", ratings, "--items", items, "-n", "3", "--m", "10", "--min-ratings", "5", "--json"
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["m"] == 10 and out["m_rule"] == "given" and len(out["films"]) == 3
    assert all(f["n_ratings"] >= 5 for f in out["films"])
    assert out["perfect_score_films"] == {"rating": 5.0, "films": 1, "by_number_of_ratings": {"1": 1}}
    assert [f["rank"] for f in out["films"]] == [1, 2, 3]


def test_best_rated_errors_are_one_line(tmp_path):
    ratings, items = write_catalogue(tmp_path)
    result = invoke("best-rated", "--data", ratings, "--min-ratings", "1000")
    assert result.exit_code == 2
    assert "lower min_ratings" in result.output and "Traceback" not in result.output
    result = invoke("best-rated")
    assert result.exit_code == 2 and "--data" in result.output


@pytest.mark.parametrize("suffix", ["png", "svg", "html"])
def test_plot_map(run, tmp_path, suffix):
    out = tmp_path / f"map.{suffix}"
    result = invoke("plot", "map", run, "--out", out, "--min-ratings", "1", "--labels", "8")
    assert result.exit_code == 0, result.output
    assert f"wrote {out}" in result.output.replace("\n", "")
    if suffix == "png":
        assert_picture(out, min_size=800)
    elif suffix == "svg":
        assert_svg(out)
    else:
        assert "plotly" in out.read_text()[:20000].lower()


def test_plot_map_for_a_user_with_tsne(run, tmp_path):
    out = tmp_path / "user.png"
    result = invoke("plot", "map", run, "--out", out, "--method", "tsne", "--user", "1000", "--min-ratings", "1")
    assert result.exit_code == 0, result.output
    assert_picture(out)


def test_plot_map_errors(run, tmp_path):
    result = invoke("plot", "map", run, "--out", tmp_path / "map.jpg")
    assert result.exit_code == 2 and ".png, .svg or .html" in result.output
    result = invoke("plot", "map", run, "--out", tmp_path / "map.png", "--user", "nobody")
    assert result.exit_code == 2 and "unknown user id" in result.output
    result = invoke("plot", "map", tmp_path / "missing", "--out", tmp_path / "map.png")
    assert result.exit_code == 2 and "no run folder" in result.output
    assert not list(tmp_path.glob("map.*"))


def test_plot_curves(run, tmp_path):
    out = tmp_path / "curves.png"
    result = invoke("plot", "curves", run, "--out", out)
    assert result.exit_code == 0, result.output
    assert_picture(out)


def test_plot_distributions_and_tradeoff(run, tmp_path):
    out = tmp_path / "dist.svg"
    result = invoke("plot", "distributions", run, "--out", out, "--metric", "novelty")
    assert result.exit_code == 0, result.output
    assert_svg(out)
    result = invoke("plot", "distributions", run, "--out", out, "--metric", "fun")
    assert result.exit_code == 2 and "unknown metric 'fun'" in result.output
    out = tmp_path / "tradeoff.png"
    table = tmp_path / "sweep.csv"
    result = invoke("plot", "tradeoff", run, "--out", out, "--lambdas", "0,0.5,1", "--candidates", "20", "--csv", table)
    assert result.exit_code == 0, result.output
    assert_picture(out)
    assert table.read_text().splitlines()[0].startswith("lambda,ndcg")
    result = invoke("plot", "tradeoff", run, "--out", out, "--lambdas", "0,x")
    assert result.exit_code == 2 and "comma-separated" in result.output


def test_report(run, tmp_path):
    out = tmp_path / "report.html"
    result = invoke("report", run, "--out", out, "--baselines", "popularity", "--resamples", "30", "--users", "2")
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert "popularity" in text and text.count('class="user"') == 2
    result = invoke("report", run, "--out", tmp_path / "r.html", "--baselines", "nonsense")
    assert result.exit_code == 2 and "unknown model 'nonsense'" in result.output


@pytest.mark.slow
@pytest.mark.realdata
def test_best_rated_on_real_data():
    folder = real_dataset("ml-latest-small")
    result = invoke("best-rated", "--data", folder, "-n", "3", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["m"] == 27.0
    assert out["perfect_score_films"]["films"] == 296
    assert out["films"][0]["title"] == "Shawshank Redemption, The (1994)"


def test_the_flags_ceilings_are_the_librarys():
    from embrec.cli import viz_cmd
    from embrec.evaluation.context import MAX_K
    from embrec.evaluation.rerank import MAX_CANDIDATES
    from embrec.evaluation.stats import MAX_RESAMPLES
    from embrec.report.build import MAX_USERS

    assert (viz_cmd._MAX_K, viz_cmd._MAX_RESAMPLES, viz_cmd._MAX_CANDIDATES, viz_cmd._MAX_USERS) == (
        MAX_K,
        MAX_RESAMPLES,
        MAX_CANDIDATES,
        MAX_USERS,
    )


@pytest.mark.parametrize(
    ("argv", "flag", "ceiling"),
    [
        (["report", "RUN", "--users", "1000000000"], "--users", "100"),
        (["report", "RUN", "--resamples", "1000000000"], "--resamples", "100000"),
        (["report", "RUN", "--k", "1000000000"], "--k", "1000"),
        (["plot", "tradeoff", "RUN", "--out", "t.png", "--candidates", "1000000000"], "--candidates", "1000"),
        (["plot", "distributions", "RUN", "--out", "d.png", "--k", "5000"], "--k", "1000"),
    ],
)
def test_values_above_a_ceiling_are_refused(run, tmp_path, argv, flag, ceiling):
    args = [run if a == "RUN" else tmp_path / a if a.endswith(".png") else a for a in argv]
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and flag in result.stderr and ceiling in result.stderr
    assert not list(tmp_path.iterdir())


def test_report_settings_are_checked_before_any_work(tmp_path):
    from embrec.errors import ConfigError
    from embrec.report import build_report

    missing = tmp_path / "no-run"  # never opened: the settings fail first
    with pytest.raises(ConfigError, match=r"n_users=1000000000 is not allowed; give a whole number from 0 to 100"):
        build_report(missing, tmp_path / "r.html", n_users=10**9)
    with pytest.raises(ConfigError, match=r"n_resamples=1000000000 is not allowed"):
        build_report(missing, tmp_path / "r.html", n_resamples=10**9)
    with pytest.raises(ConfigError, match=r"map method 'nope'"):
        build_report(missing, tmp_path / "r.html", map_method="nope")


def test_report_k_longer_than_the_catalogue_is_one_line(run, tmp_path):
    result = invoke("report", run, "--out", tmp_path / "r.html", "--k", "500", "--baselines", "")
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1
    assert "--k 500 is too long: the catalogue has 40 items" in result.stderr
