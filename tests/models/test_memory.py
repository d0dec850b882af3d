"""The memory a fit of the embedding model needs, what is free, and the refusal before training."""

from __future__ import annotations

import sys

import pytest

from embrec.errors import ConfigError
from embrec.models import memory
from embrec.models.config import EmbeddingConfig, ResolvedEmbeddingConfig
from embrec.models.embedding import EmbeddingRecommender

ML25M = dict(n_users=162_541, n_items=59_047, n_ratings=25_000_095)


def resolved(*, n_users: int, n_items: int, n_ratings: int, device: str = "cpu", **settings) -> ResolvedEmbeddingConfig:
    return EmbeddingConfig(**settings).resolve(n_users=n_users, n_items=n_items, device=device, n_ratings=n_ratings)


def needs(device: str = "cpu", *, shape: dict | None = None, **settings) -> list[memory.MemoryNeeds]:
    shape = shape or ML25M
    return memory.embedding_fit_needs(**shape, config=resolved(**shape, device=device, **settings))


def parts(need: memory.MemoryNeeds) -> dict[str, int]:
    return {p.name: p.bytes for p in need.parts}


def test_the_parameters_are_the_vectors_and_biases_in_float32():
    (host,) = needs(embedding_dim=64)
    # (users + items) x (64 numbers + 1 bias), 4 bytes each, and the global bias
    assert parts(host)["parameters"] == (162_541 + 59_047) * 65 * 4 + 4
    assert "for 162,541 users + 59,047 items at dim 64" in [p.detail for p in host.parts]
    assert host.total == sum(parts(host).values()) and [p.bytes for p in host.parts] == sorted(
        (p.bytes for p in host.parts), reverse=True
    )


@pytest.mark.parametrize(
    ("settings", "optimizer", "times_params"),
    [
        (dict(engine="torch", optimizer="adam"), "adam", 3),  # dense gradients and two moments
        (dict(engine="torch", optimizer="sparse_adam"), "sparse_adam", 2),  # two dense moments
        (dict(objective="ranking"), "lazy_adamw", 2),  # 59,047 items: the sampled softmax
        (dict(engine="numba"), "rowwise_adagrad", 1),  # the engine's copy (and one number a row)
    ],
)
def test_the_optimizer_state_follows_the_optimizer(settings, optimizer, times_params):
    config = resolved(**ML25M, embedding_dim=32, **settings)
    assert config.optimizer == optimizer
    (host,) = memory.embedding_fit_needs(**ML25M, config=config)
    size = parts(host)
    assert size["parameters"] * times_params <= size["optimizer state"] < size["parameters"] * (times_params + 0.1)


def test_early_stopping_keeps_a_copy_of_the_best_epoch():
    on, off = parts(needs(embedding_dim=32)[0]), parts(needs(embedding_dim=32, early_stopping=False)[0])
    assert on["best-epoch copy"] == on["parameters"] and "best-epoch copy" not in off
    assert on["rating arrays"] == off["rating arrays"] == 16 * ML25M["n_ratings"]  # the numba engine's rows


def test_the_full_softmax_s_scores_grow_with_the_batch_and_the_catalogue():
    shape = dict(n_users=10_000, n_items=20_000, n_ratings=1_000_000)
    small, large = (needs(shape=shape, objective="ranking", embedding_dim=8, batch_size=b)[0] for b in (64, 4096))
    assert parts(large)["score buffers"] == 5 * 4096 * 20_000 * 4  # logits, targets, softmax and its gradient
    assert parts(small)["score buffers"] < parts(large)["score buffers"]
    # the largest part comes first in the advice: here the batch, not the vectors
    assert large.advice.startswith("lower batch_size=4096 or sample negatives (n_negatives=1024)")


def test_on_a_gpu_the_training_arrays_live_there_and_the_data_stays_on_the_host():
    host, gpu = needs("cuda:0", embedding_dim=32, engine="torch")
    assert (host.device, gpu.device) == ("cpu", "cuda:0")
    assert {"parameters", "rating arrays", "seen-items matrix"} == set(parts(host))  # made on the CPU, moved
    assert {"parameters", "optimizer state", "best-epoch copy", "rating arrays"} <= set(parts(gpu))
    assert "seen-items matrix" not in parts(gpu) and "device='cpu'" in gpu.advice and "device=" not in host.advice


# ---------------------------------------------------------------------------- the refusal
def test_a_fit_larger_than_the_free_memory_is_refused_with_the_estimate(monkeypatch):
    monkeypatch.setattr(memory, "available_bytes", lambda: 2**30)
    with pytest.raises(ConfigError) as caught:
        memory.check_fits(needs(embedding_dim=4096))
    message = str(caught.value)
    assert message.startswith("training needs about ") and "\n" not in message
    assert "parameters 3.4 GiB for 162,541 users + 59,047 items at dim 4096" in message
    assert "rating arrays 381.5 MiB for 25,000,095 rows" in message
    assert "but 1.0 GiB is available; lower embedding_dim=4096" in message and message.endswith("or free memory.")


def test_a_fit_that_fits_or_memory_that_cannot_be_read_is_let_through(monkeypatch):
    monkeypatch.setattr(memory, "available_bytes", lambda: 2**50)
    memory.check_fits(needs(embedding_dim=4096))
    monkeypatch.setattr(memory, "available_bytes", lambda: None)
    memory.check_fits(needs(embedding_dim=4096))


def test_a_gpu_too_small_is_named(monkeypatch):
    monkeypatch.setattr(memory, "available_bytes", lambda: 2**50)
    monkeypatch.setattr(memory, "available_device_bytes", lambda device: 2**30 if device == "cuda:0" else pytest.fail())
    with pytest.raises(ConfigError, match=r"of cuda:0 memory .* but 1\.0 GiB is available.*\(device='cpu'\)"):
        memory.check_fits(needs("cuda:0", embedding_dim=4096, engine="torch"))


def test_fit_refuses_before_it_allocates_and_stays_unfitted(tiny, monkeypatch):
    monkeypatch.setattr(memory, "available_bytes", lambda: 64 * 2**10)
    model = EmbeddingRecommender(embedding_dim=512)
    with pytest.raises(ConfigError, match="at dim 512"):
        model.fit(tiny)
    assert not model.is_fitted and not hasattr(model, "user_ids_")
    monkeypatch.setattr(memory, "available_bytes", lambda: 2**40)
    assert model.fit(tiny).is_fitted


# ---------------------------------------------------------------------------- what is free
def test_meminfo_s_available_memory_is_read_in_bytes(tmp_path):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       24683584 kB\nMemFree:  1000 kB\nMemAvailable:   23176936 kB\n")
    assert memory._meminfo_available(meminfo) == 23176936 * 1024
    meminfo.write_text("MemTotal:       24683584 kB\n")
    assert memory._meminfo_available(meminfo) is None
    assert memory._meminfo_available(tmp_path / "absent") is None


def test_a_cgroup_limit_leaves_its_room_and_its_file_cache(tmp_path):
    (tmp_path / "memory.max").write_text("1073741824\n")
    (tmp_path / "memory.current").write_text("805306368\n")
    (tmp_path / "memory.stat").write_text("anon 700000000\ninactive_file 100\nactive_file 5\n")
    assert memory._cgroup_room(tmp_path) == 2**30 - 805306368 + 100
    (tmp_path / "memory.max").write_text("max\n")
    assert memory._cgroup_room(tmp_path) is None
    assert memory._cgroup_room(tmp_path / "absent") is None


def test_the_free_memory_is_the_smaller_of_the_system_s_and_the_cgroup_s(monkeypatch):
    monkeypatch.setitem(sys.modules, "psutil", None)  # not installed: /proc/meminfo is read
    monkeypatch.setattr(memory, "_meminfo_available", lambda: 8 * 2**30)
    monkeypatch.setattr(memory, "_cgroup_room", lambda: 2 * 2**30)
    assert memory.available_bytes() == 2 * 2**30
    monkeypatch.setattr(memory, "_cgroup_room", lambda: None)
    assert memory.available_bytes() == 8 * 2**30
    monkeypatch.setattr(memory, "_meminfo_available", lambda: None)
    assert memory.available_bytes() is None


@pytest.mark.parametrize(
    ("n", "text"), [(3 * 2**30 + 2**29, "3.5 GiB"), (12 * 2**20, "12.0 MiB"), (1536, "1.5 KiB"), (10, "10 bytes")]
)
def test_sizes_are_written_in_binary_units(n, text):
    assert memory.size_text(n) == text
