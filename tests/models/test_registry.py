"""The registry: a static table of built-ins imported on first use, plus ``register`` for plugins."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from embrec import models
from embrec.errors import ConfigError
from embrec.models import registry
from embrec.models.baselines.popularity import PopularityRecommender


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys; print('\\n'.join(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        check=True,
    )
    return set(out.stdout.split())


def test_importing_the_registry_and_the_settings_imports_no_model_and_no_torch() -> None:
    loaded = _modules_after(
        "from embrec.models import registry, parse_settings\n"
        "from embrec.models.config import EmbeddingConfig\n"
        "print(registry.available())\n"
        "parse_settings(['epochs=3'], None, EmbeddingConfig)"
    )
    assert "torch" not in loaded and "numpy" not in loaded
    assert not {m for m in loaded if m.startswith(("embrec.models.embedding", "embrec.models.baselines"))}


def test_a_model_is_imported_when_first_asked_for() -> None:
    loaded = _modules_after("from embrec.models import registry\nregistry.get('ease')")
    assert "embrec.models.baselines.ease" in loaded and "embrec.models.embedding" not in loaded


def test_every_builtin_is_one_table_line() -> None:
    assert set(registry.BUILTINS) == {"embedding", "popularity", "biases", "ease", "als", "bpr", "item_knn", "user_knn"}
    for name in registry.BUILTINS:
        assert models.get(name).name == name


def test_unknown_model_suggests_the_closest() -> None:
    with pytest.raises(ConfigError, match=r"unknown model 'eas' \(did you mean 'ease'\?\); choose one of als"):
        models.create("eas")


@pytest.fixture
def clean() -> Iterator[None]:
    yield
    for name in ("popular-too", "by-path"):
        models.unregister(name)


class PopularToo(PopularityRecommender):
    name = "popular-too"


class ByPath(PopularityRecommender):
    name = "by-path"


def test_register_a_class_or_a_path(clean: None) -> None:
    models.register("popular-too", PopularToo)
    models.register("popular-too", PopularToo)  # again: nothing happens
    assert models.get("popular-too") is PopularToo
    assert isinstance(models.create("popular-too"), PopularToo)
    assert "popular-too" in models.available()
    models.register("by-path", f"{ByPath.__module__}:ByPath")  # imported on first use
    assert models.get("by-path") is ByPath


def test_register_refuses_mistakes(clean: None) -> None:
    with pytest.raises(ConfigError, match=r"PopularToo.name is 'popular-too'; set name = 'other'"):
        models.register("other", PopularToo)
    with pytest.raises(ConfigError, match="'ease' is taken by embrec.models.baselines.ease:EASERecommender"):
        models.register("ease", "somewhere:Else")
    models.register("by-path", "no_such_module_anywhere:Model")
    with pytest.raises(ConfigError, match="cannot be imported"):
        models.get("by-path")
    models.unregister("ease")  # built-in models stay
    assert "ease" in models.available()
