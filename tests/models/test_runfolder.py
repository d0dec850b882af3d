"""Run folders: format 2 keeps the settings asked for and those used; format 1 runs still load."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from embrec import models
from embrec.errors import ModelFileError
from embrec.models.io import FORMAT_VERSION, read_run_info

FORMAT1 = Path(__file__).parent / "data" / "format1"


@pytest.mark.parametrize("name", ["embedding", "popularity", "biases", "ease", "als", "bpr"])
def test_format_2_stores_config_and_resolved(name, tiny, tmp_path):
    fast = {
        "embedding": dict(epochs=2, embedding_dim=4),
        "als": dict(epochs=2, embedding_dim=4),
        "bpr": dict(epochs=2, embedding_dim=4),
    }
    model = models.create(name, **fast.get(name, {})).fit(tiny)
    info = json.loads((model.save(tmp_path / "run") / "embrec.json").read_text())
    assert info["format_version"] == FORMAT_VERSION == 2
    assert info["config"] == model.config.to_dict()
    assert info["resolved"] == model.resolved_config_.to_dict()
    if "device" in info["config"]:
        assert info["config"]["device"] == "auto" and info["resolved"]["device"] in ("cpu", "cuda")
    loaded = models.load(tmp_path / "run")
    assert loaded.resolved_config_ == model.resolved_config_


@pytest.mark.parametrize("folder", sorted(p.name for p in FORMAT1.iterdir() if p.is_dir()))
def test_format_1_runs_load_and_score_as_saved(folder, tmp_path):
    run = shutil.copytree(FORMAT1 / folder, tmp_path / folder)
    assert read_run_info(run)["format_version"] == 1
    old_config = json.loads((run / "embrec.json").read_text())["config"]
    model = models.load(run)
    expected = np.load(run / "expected_scores.npz", allow_pickle=False)["scores"]
    np.testing.assert_array_equal(model.score(model.user_ids_), expected)
    assert "regularization" not in model.config.to_dict()
    if model.name == "embedding":
        assert model.config.decay_mode == old_config["regularization"]
        used = model.resolved_config_
        assert used.embedding_dim == 8 and used.decay_mode == old_config["regularization"]
        assert used.optimizer == ("adam" if model.config.objective == "rating" else "adamw")
        if model.config.objective == "rating":
            vector, _ = model.fold_in([1000, 1001], [5.0, 2.0])
            assert np.isfinite(vector).all()
    else:
        assert model.config.weight_decay == old_config["regularization"]
        assert model.resolved_config_ == model.config
    model.save(tmp_path / "again")  # and saves as format 2
    again = models.load(tmp_path / "again")
    assert again.run_info_["format_version"] == 2 and again.config == model.config
    np.testing.assert_array_equal(again.score(again.user_ids_), expected)


def test_settings_a_run_cannot_use_are_a_model_file_error(tiny, tmp_path):
    run = models.create("ease", weight_decay=10.0).fit(tiny).save(tmp_path / "run")
    info = json.loads((run / "embrec.json").read_text())
    (run / "embrec.json").write_text(json.dumps({**info, "config": {**info["config"], "shrinkage": 3}}))
    with pytest.raises(ModelFileError, match="settings this embrec cannot use.*'shrinkage'"):
        models.load(run)
    (run / "embrec.json").write_text(json.dumps({**info, "model": "no-such-model"}))
    with pytest.raises(ModelFileError, match="does not know.*'no-such-model'"):
        models.load(run)
