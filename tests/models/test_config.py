"""The one config base (``ModelConfig``) and the settings parser (``parse_settings``)."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import textwrap
from pathlib import Path
from typing import ClassVar

import pytest

from embrec import models
from embrec.errors import ConfigError
from embrec.models.baselines import ALSConfig, BiasConfig, BPRConfig, EASEConfig, EASERecommender, PopularityConfig
from embrec.models.config import EmbeddingConfig, ModelConfig, PositiveInt, parse_settings
from embrec.models.embedding import EmbeddingRecommender

CONFIGS = [EmbeddingConfig, PopularityConfig, BiasConfig, EASEConfig, ALSConfig, BPRConfig]


@pytest.mark.parametrize("name", ["embedding", "popularity", "biases", "ease", "als", "bpr"])
def test_every_model_config_derives_from_the_one_base(name: str) -> None:
    config_class = models.get(name).config_class
    assert issubclass(config_class, ModelConfig)
    assert config_class.model_name == name
    assert dataclasses.is_dataclass(config_class)
    config = config_class()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.seed = 1  # type: ignore[misc]


@pytest.mark.parametrize("config_class", CONFIGS, ids=lambda c: c.__name__)
def test_every_setting_has_a_docstring(config_class: type[ModelConfig]) -> None:
    undocumented = []
    for klass in config_class.__mro__:
        if klass is ModelConfig or not dataclasses.is_dataclass(klass):
            continue
        body = ast.parse(textwrap.dedent(inspect.getsource(klass))).body[0].body  # type: ignore[attr-defined]
        for node, after in zip(body, body[1:] + [None]):
            if isinstance(node, ast.AnnAssign) and "ClassVar" not in ast.unparse(node.annotation):
                documented = isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant)
                if not documented:
                    undocumented.append(ast.unparse(node.target))
    assert not undocumented, f"{config_class.__name__}: settings without a docstring: {undocumented}"


def test_create_with_an_unknown_setting_names_it_the_model_and_the_allowed_ones() -> None:
    with pytest.raises(ConfigError, match=r"unknown setting 'epochs' for the ease model; allowed: device, max_items"):
        models.create("ease", epochs=5)
    with pytest.raises(ConfigError, match=r"'embeding_dim' \(did you mean 'embedding_dim'\?\) for the embedding model"):
        models.create("embedding", embeding_dim=5)
    with pytest.raises(ConfigError, match=r"'regularization' \(did you mean 'weight_decay'\?\)"):
        EASERecommender(regularization=5.0)
    with pytest.raises(ConfigError, match=r"'regularization' \(did you mean 'decay_mode'\?\)"):
        EmbeddingRecommender(regularization="per_row")
    with pytest.raises(ConfigError, match="allowed: none"):
        models.create("popularity", n=3)


def test_settings_are_given_by_name_and_checked_by_their_annotations() -> None:
    with pytest.raises(ConfigError, match="takes its settings by name"):
        EASEConfig(250.0)  # type: ignore[misc]
    with pytest.raises(ConfigError, match=r"epochs=1\.5 is not allowed for the als model; give a whole number"):
        ALSConfig(epochs=1.5)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"early_stopping='no' .* give True or False"):
        EmbeddingConfig(early_stopping="no")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"n_negatives=0 .* at least 1, or None"):
        EmbeddingConfig(n_negatives=0)
    with pytest.raises(ConfigError, match=r"decay_mode='l2' .* use 'per_row' or 'decoupled', or None"):
        EmbeddingConfig(decay_mode="l2")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"validation_fraction=1\.0 .* between 0 and 1"):
        EmbeddingConfig(validation_fraction=1.0)
    with pytest.raises(ConfigError, match=r"seed=-1"):
        BPRConfig(seed=-1)
    assert EmbeddingConfig(device="cuda:1").device == "cuda:1"
    assert EASEConfig(weight_decay=10).weight_decay == 10  # a whole number is a number


def test_dict_round_trip_and_replace() -> None:
    config = EmbeddingConfig(objective="ranking", n_negatives=64)
    assert EmbeddingConfig.from_dict(config.to_dict()) == config
    assert config.replace(epochs=5) == EmbeddingConfig(objective="ranking", n_negatives=64, epochs=5)
    with pytest.raises(ConfigError, match="epochs=0"):
        config.replace(epochs=0)
    with pytest.raises(ConfigError, match="'epoch' \\(did you mean 'epochs'\\?\\)"):
        config.replace(epoch=5)
    with pytest.raises(ConfigError, match="must be a mapping"):
        EmbeddingConfig.from_dict([("epochs", 3)])  # type: ignore[arg-type]


def test_models_keep_the_config_exactly_as_given() -> None:
    config = EmbeddingConfig(objective="ranking")
    model = EmbeddingRecommender(config)
    assert model.config is config and model.config.embedding_dim is None
    assert EmbeddingRecommender(config, epochs=3).config == config.replace(epochs=3)
    with pytest.raises(ConfigError, match="takes a EmbeddingConfig"):
        EmbeddingRecommender(EASEConfig())  # type: ignore[arg-type]


def test_a_rule_across_settings_goes_in_validate() -> None:
    @dataclasses.dataclass(frozen=True, kw_only=True)
    class WindowConfig(ModelConfig):
        model_name: ClassVar[str] = "window"
        shortest: PositiveInt = 1
        """Shortest window."""
        longest: PositiveInt = 5
        """Longest window."""

        def _validate(self) -> None:
            if self.longest < self.shortest:
                raise self._bad("longest", f"give at least shortest={self.shortest}")

    assert WindowConfig(shortest=2, longest=2).longest == 2
    with pytest.raises(ConfigError, match=r"longest=1 is not allowed for the window model; give at least shortest=2"):
        WindowConfig(shortest=2, longest=1)
    with pytest.raises(ConfigError, match="shortest=0"):
        WindowConfig(shortest=0)


# ---------------------------------------------------------------------------- parse_settings
def test_pairs_are_typed_by_the_fields() -> None:
    pairs = [
        "epochs=5",
        "learning_rate=1e-3",
        "early_stopping=no",
        "objective=ranking",
        "n_negatives=none",
        "device=cuda:0",
        "liked_rating=3.5",
        "embedding-dim=64",
        "refit=TRUE",
    ]
    assert parse_settings(pairs, None, EmbeddingConfig) == {
        "epochs": 5,
        "learning_rate": 1e-3,
        "early_stopping": False,
        "objective": "ranking",
        "n_negatives": None,
        "device": "cuda:0",
        "liked_rating": 3.5,
        "embedding_dim": 64,
        "refit": True,
    }
    assert parse_settings(["threads=none"], None, EASEConfig) == {"threads": None}
    assert parse_settings([], None, EASEConfig) == {}
    settings = parse_settings(["weight_decay=500", "threads=2"], None, EASEConfig)
    assert models.create("ease", **settings).config == EASEConfig(weight_decay=500.0, threads=2)


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        (["epochs=five"], r"epochs='five' is not allowed for the embedding model; give a whole number of at least 1"),
        (["epochs=2.5"], r"epochs='2.5' .* whole number"),
        (["epochs=0"], r"epochs=0 is not allowed"),
        (["objective=stars"], r"objective='stars' .* use 'rating' or 'ranking'"),
        (["early_stopping=maybe"], r"early_stopping='maybe' .* True or False"),
        (["epochs=none"], r"epochs='none' .* whole number of at least 1\."),
        (["learning_rate=nan"], r"learning_rate=nan .* number above 0, or None"),
        (["device=tpu"], r"device='tpu' .* 'cuda:N'"),
        (["epoch=3"], r"unknown setting 'epoch' \(did you mean 'epochs'\?\) for the embedding model; allowed:"),
        (["epochs"], r"setting 'epochs' is not name=value; write it as, for example, epochs=\.\.\."),
        (["=3"], r"is not name=value"),
    ],
)
def test_bad_pairs_name_the_setting_and_what_is_allowed(pairs: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_settings(pairs, None, EmbeddingConfig)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "model.toml"
    path.write_text(textwrap.dedent(text))
    return path


def test_a_toml_file_of_top_level_settings(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        objective = "ranking"
        embedding_dim = 48
        learning_rate = 1     # a whole number is a number
        early_stopping = false
        n_negatives = "none"
        epochs = 7
    """,
    )
    settings = parse_settings([], path, EmbeddingConfig)
    assert settings == {
        "objective": "ranking",
        "embedding_dim": 48,
        "learning_rate": 1,
        "early_stopping": False,
        "n_negatives": None,
        "epochs": 7,
    }
    # pairs override the file, and a later pair an earlier one
    settings = parse_settings(["epochs=3", "embedding_dim=16", "epochs=4"], str(path), EmbeddingConfig)
    assert settings["epochs"] == 4 and settings["embedding_dim"] == 16 and settings["objective"] == "ranking"
    assert EmbeddingConfig(**settings).n_negatives is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('epochs = "many"\n', r"epochs='many' \(in .*model\.toml\) is not allowed for the embedding model"),
        ("epochs = 1.5\n", r"epochs=1\.5 \(in .*model\.toml\) .* whole number"),
        ("early_stopping = 1\n", r"early_stopping=1 .* True or False"),
        ("embedding_dimension = 8\n", r"unknown setting 'embedding_dimension' \(did you mean 'embedding_dim'\?\)"),
        ("[model]\nepochs = 3\n", r"has the table\(s\) \[model\]; the settings of the embedding model are top-level"),
        ("epochs = \n", r"is not valid TOML"),
    ],
)
def test_bad_toml_files_say_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_settings([], write(tmp_path, text), EmbeddingConfig)


def test_a_missing_toml_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        parse_settings([], tmp_path / "nope.toml", EmbeddingConfig)


def test_presets_take_overrides_checked_the_same_way() -> None:
    assert models.preset("notebook", epochs=3).decay_mode == "per_row"
    with pytest.raises(ConfigError, match="unknown preset"):
        models.preset("fast")
    with pytest.raises(ConfigError, match="unknown setting 'dimension'"):
        models.preset("default", dimension=3)


# ---------------------------------------------------------------------------- ceilings
@pytest.mark.parametrize(
    ("name", "setting", "too_big", "ceiling", "allowed"),
    [
        ("embedding", "embedding_dim", 10**9, 4096, "from 1 to 4096, or None"),
        ("embedding", "threads", 10**6, 256, "from 1 to 256, or None"),
        ("ease", "threads", 10**6, 256, "from 1 to 256, or None"),
        ("als", "embedding_dim", 4097, 4096, "from 1 to 4096"),
        ("bpr", "embedding_dim", 10**9, 4096, "from 1 to 4096"),
        ("als", "threads", 257, 256, "from 1 to 256"),
        ("bpr", "threads", 10**6, 256, "from 1 to 256"),
    ],
)
def test_sizes_and_threads_have_a_ceiling_named_in_the_message(
    name: str, setting: str, too_big: int, ceiling: int, allowed: str
) -> None:
    # 10**9 dimensions asked for terabytes and 10**6 threads crashed torch: both are refused at once
    expected = rf"{setting}={too_big} is not allowed for the {name} model; give a whole number {allowed}\."
    with pytest.raises(ConfigError, match=expected):
        models.create(name, **{setting: too_big})
    config_class = models.get(name).config_class
    with pytest.raises(ConfigError, match=expected):
        parse_settings([f"{setting}={too_big}"], None, config_class)
    assert getattr(models.create(name, **{setting: ceiling}).config, setting) == ceiling


def test_the_ceilings_are_listed_with_the_settings() -> None:
    allowed = {name: text for name, text, _ in EmbeddingConfig.describe()}
    assert allowed["embedding_dim"] == "give a whole number from 1 to 4096, or None"
    assert allowed["threads"] == "give a whole number from 1 to 256, or None"
