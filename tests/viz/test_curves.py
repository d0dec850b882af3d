"""Training curves, per-user distributions, the re-ranking trade-off and interval plots."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from embrec.errors import ConfigError, DataError, EmbrecError
from embrec.evaluation import evaluate, sweep
from embrec.models import create
from embrec.viz.curves import (
    lowest_val_loss_epoch,
    metric_distributions,
    metric_intervals,
    tradeoff_figure,
    training_curves,
)
from embrec.viz.save import figure_data_uri, figure_png_bytes, save_figure
from viz.helpers import assert_picture, assert_svg, train_run


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    run, model, split = train_run(tmp_path_factory.mktemp("curves"))
    pop = create("popularity").fit(split.train)
    result = evaluate([model, pop], split, names=["embedding", "popularity"], n_resamples=50)
    return model, split, result


def test_training_curves_show_train_and_validation(trained, tmp_path):
    model, _, _ = trained
    fig = training_curves(model.history_)
    loss_ax, rmse_ax = fig.axes
    labels = [line.get_label() for line in loss_ax.get_lines()]
    assert labels[:2] == ["training", "validation"] and labels[2].startswith("best epoch")
    assert len(loss_ax.get_lines()[0].get_xdata()) == len(model.history_)
    assert rmse_ax.get_ylabel() == "RMSE (stars)"
    assert_picture(save_figure(fig, tmp_path / "curves.png"))
    assert_svg(save_figure(fig, tmp_path / "curves.svg"))


def test_training_curves_of_a_ranking_history_without_rmse():
    history = [{"epoch": e, "train_loss": 5.0 / e, "val_loss": 5.5 / e + 0.05 * e, "seconds": 0.1} for e in range(1, 8)]
    fig = training_curves(history)
    assert len(fig.axes) == 1
    best = [line for line in fig.axes[0].get_lines() if line.get_label().startswith("best epoch")]
    assert best[0].get_label() == "best epoch (7)"  # lowest validation loss
    assert len(training_curves(history, best_epoch=3).axes[0].get_lines()) == 3


def test_empty_history_is_explained():
    with pytest.raises(DataError, match="closed-form"):
        training_curves([])


def test_distributions_one_panel_per_metric(trained, tmp_path):
    _, _, result = trained
    fig = metric_distributions(result, ("diversity", "genre_diversity", "novelty"))
    assert [ax.get_xlabel().split(" ")[0] for ax in fig.axes] == ["diversity", "genre", "novelty"]
    legend = [t.get_text() for t in fig.axes[2].get_legend().get_texts()]
    assert len(legend) == 2 and legend[0].startswith("embedding (mean ")
    assert_picture(figure_png_bytes(fig))
    assert figure_data_uri(fig).startswith("data:image/png;base64,")


def test_distributions_from_a_frame_and_errors(trained):
    _, _, result = trained
    frame = result["embedding"].per_user
    assert len(metric_distributions(frame, ["novelty"]).axes) == 1
    with pytest.raises(DataError, match="none of the requested metrics"):
        metric_distributions(pd.DataFrame({"novelty": [np.nan]}), ["novelty"])
    with pytest.raises(ConfigError, match="EvaluationResult"):
        metric_distributions(42)


def test_tradeoff_from_a_sweep(trained, tmp_path):
    model, split, _ = trained
    frame = sweep(model, split, [0.0, 0.5, 0.9], candidates=20)
    fig = tradeoff_figure(frame)
    panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert [ax.get_xlabel().split(" ")[0] for ax in panels] == ["diversity", "novelty"]
    texts = sorted(t.get_text() for t in panels[0].texts)
    assert texts == ["λ=0", "λ=0.5", "λ=0.9"]
    assert_picture(save_figure(fig, tmp_path / "tradeoff.png"))


def test_tradeoff_refuses_other_frames():
    with pytest.raises(DataError, match="sweep"):
        tradeoff_figure(pd.DataFrame({"x": [1]}))
    with pytest.raises(DataError, match="none of"):
        tradeoff_figure(pd.DataFrame({"lambda": [0.0], "ndcg": [0.1]}))


def test_metric_intervals(trained):
    _, _, result = trained
    fig = metric_intervals(result)
    assert len(fig.axes) == 4
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["embedding", "popularity"]
    assert_picture(figure_png_bytes(fig), min_size=150)
    with pytest.raises(ConfigError, match="EvaluationResult"):
        metric_intervals(object())


def test_save_figure_refuses_unknown_formats(trained, tmp_path):
    model, _, _ = trained
    with pytest.raises(ConfigError, match=".png or .svg"):
        save_figure(training_curves(model.history_), tmp_path / "curves.pdf")
    assert list(tmp_path.iterdir()) == []


def test_save_figure_writes_whole_files_or_nothing(trained, tmp_path):
    model, _, _ = trained
    fig = training_curves(model.history_)
    (tmp_path / "folder.png").mkdir()
    with pytest.raises(EmbrecError, match="it is a folder"):
        save_figure(fig, tmp_path / "folder.png")

    class Broken:
        def savefig(self, path, **kwargs):
            path.write_bytes(b"half a picture")
            raise OSError(28, "No space left on device")

    (tmp_path / "old.png").write_bytes(b"the old picture")
    with pytest.raises(EmbrecError, match="No space left"):
        save_figure(Broken(), tmp_path / "old.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder.png", "old.png"]
    assert (tmp_path / "old.png").read_bytes() == b"the old picture"


def test_best_epoch_is_the_lowest_finite_validation_loss():
    history = [{"val_loss": 3.0}, {"val_loss": float("nan")}, {"val_loss": 2.0}, {"train_loss": 1.0}, {"val_loss": 2.0}]
    assert lowest_val_loss_epoch(history) == 3  # the first of equal losses; epochs count from 1
    assert lowest_val_loss_epoch([{"epoch": 4, "val_loss": 1.0}, {"epoch": 9, "val_loss": 0.5}]) == 9
    assert lowest_val_loss_epoch([{"train_loss": 1.0}]) is None
