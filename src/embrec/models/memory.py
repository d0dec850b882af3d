"""What fitting the embedding model needs in memory, and a refusal before training when there is not that much.

:func:`embedding_fit_needs` adds up, from the sizes alone, the arrays a fit of
:class:`~embrec.models.embedding.EmbeddingRecommender` holds at its peak: the parameters
(``(n_users + n_items) x (embedding_dim + 1)`` float32 numbers: the vectors and the biases), the
optimizer's state (and the gradients of a dense optimizer), the copy of the best epoch that early
stopping keeps, the engine's arrays of the training rows, the seen-items matrix and the largest
batch of scores. :func:`check_fits` compares each total with what is free where it lives (the
process's memory, or a GPU's) and raises :class:`~embrec.errors.ConfigError` with the estimate
and what to change. The model calls it at the start of ``fit``, before anything large is
allocated, so the command line and library users are refused alike.

The figures are upper bounds of what stays allocated at once, rounded up where an engine stores
less (the numba engine keeps 5 bytes a rating when it can, counted here as 12); short-lived copies
smaller than the parts are not counted. This module imports neither torch nor numpy; the free
memory of a GPU is asked of torch only for a CUDA device.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from embrec.errors import ConfigError
from embrec.models.config import DEFAULT_NEGATIVES, ResolvedEmbeddingConfig

__all__ = ["MemoryNeeds", "Need", "available_bytes", "available_device_bytes", "check_fits", "embedding_fit_needs"]

#: Bytes of one float32 number.
_F32 = 4
#: Bytes a training row takes in each engine's arrays, beyond the data itself: torch keeps int64 user
#: and item indexes, float32 targets, the rows' numbers and each epoch's shuffled order (int64); for
#: the ranking objective also the sort order and the target weights; numba keeps its blocked copy
#: (at most 12 bytes) and two masks. On a GPU the tensors (``_DEVICE_ROW_BYTES``) live there.
_HOST_ROW_BYTES = {"rating": 40, "ranking": 40, "numba": 16}
_DEVICE_ROW_BYTES = {"rating": 28, "ranking": 12}
#: The seen-items matrix the model keeps: a float32 value and an int32 column a row, an int64 pointer a user.
_SEEN_ROW_BYTES = 8
#: Rows scored at once by the validation loss of the rating objective, and users by that of the ranking
#: objective (as :mod:`embrec.models.training` chunks them).
_RATING_EVAL_ROWS = 65_536
_RANKING_EVAL_USERS = 1_024


@dataclass(frozen=True)
class Need:
    """One part of what a fit needs: its name, its size in bytes and what sets it."""

    name: str
    bytes: int
    detail: str = ""


@dataclass(frozen=True)
class MemoryNeeds:
    """What a fit needs in one place: ``device`` is ``cpu`` (the process's memory) or a CUDA device;
    ``advice`` says what would lower it."""

    device: str
    parts: tuple[Need, ...]
    advice: str

    @property
    def total(self) -> int:
        return sum(part.bytes for part in self.parts)


def size_text(n: float) -> str:
    """``41.2 GiB``, ``12.0 MiB``, ``3.5 KiB``: a size in the largest binary unit that keeps it at 1 or more."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{int(n)} bytes"


def _validation_rows(n_ratings: int, config: ResolvedEmbeddingConfig) -> int:
    """The rows ``fit`` carves out for early stopping (none without it)."""
    if not config.early_stopping or n_ratings <= 1:
        return 0
    return min(n_ratings, max(1, round(config.validation_fraction * n_ratings)))


def _optimizer_state(config: ResolvedEmbeddingConfig, params: int, vocabulary: int) -> Need:
    """The optimizer's state, and the gradients a dense optimizer adds, for ``params`` bytes of parameters."""
    if config.optimizer in ("adam", "adamw"):
        return Need("optimizer state", 3 * params, f"for the gradients and {config.optimizer}'s two moments")
    if config.optimizer == "sparse_adam":
        return Need("optimizer state", 2 * params, "for sparse_adam's two moments")
    if config.optimizer == "lazy_adamw":
        return Need("optimizer state", 2 * params + vocabulary * _F32, "for lazy_adamw's two moments")
    # row-wise Adagrad: one accumulator per vector and per bias, and the engine's copy of the weights
    return Need(
        "optimizer state", params + 2 * vocabulary * _F32, "for row-wise Adagrad and the engine's copy of the weights"
    )


def _score_buffers(
    config: ResolvedEmbeddingConfig, n_users: int, n_items: int, n_ratings: int, n_validation: int
) -> Need | None:
    """The largest batch of scores a step or the validation loss holds at once (logits, targets, gradients)."""
    dim = config.embedding_dim
    if config.engine == "numba":
        return None  # one rating at a time
    if config.objective == "rating":
        rows = min(config.batch_size, n_ratings - n_validation)
        batch = 6 * rows * dim * _F32  # the batch's vectors, their product and the gradients of each
        evaluation = 3 * min(_RATING_EVAL_ROWS, n_validation) * dim * _F32
        detail = f"for batches of {rows:,} rows at dim {dim}"
        if evaluation > batch:
            detail = f"for the validation loss over {min(_RATING_EVAL_ROWS, n_validation):,} rows at dim {dim}"
        return Need("score buffers", max(batch, evaluation), detail)
    users = min(config.batch_size, n_users)
    columns = n_items if config.n_negatives is None else min(n_items, config.n_negatives)
    batch = 5 * users * columns * _F32  # logits, targets, softmax, their gradient
    evaluation = 4 * min(_RANKING_EVAL_USERS, n_users) * n_items * _F32 if n_validation else 0
    detail = f"for batches of {users:,} users x {columns:,} items"
    if evaluation > batch:
        detail = f"for the validation loss over {min(_RANKING_EVAL_USERS, n_users):,} users x {n_items:,} items"
    return Need("score buffers", max(batch, evaluation), detail)


def embedding_fit_needs(
    *, n_users: int, n_items: int, n_ratings: int, config: ResolvedEmbeddingConfig
) -> list[MemoryNeeds]:
    """What fitting the embedding model with ``config`` on ``n_ratings`` rows of ``n_users`` x
    ``n_items`` needs: in the process's memory, and (training on a GPU) in the GPU's."""
    vocabulary = n_users + n_items
    dim = config.embedding_dim
    params = vocabulary * (dim + 1) * _F32 + _F32
    n_validation = _validation_rows(n_ratings, config)
    kind = "numba" if config.engine == "numba" else config.objective
    parameters = Need("parameters", params, f"for {n_users:,} users + {n_items:,} items at dim {dim}")
    on_model = [parameters, _optimizer_state(config, params, vocabulary)]
    if n_validation:
        on_model.append(Need("best-epoch copy", params, "kept by early stopping"))
    buffers = _score_buffers(config, n_users, n_items, n_ratings, n_validation)
    if buffers is not None:
        on_model.append(buffers)
    rows = Need("rating arrays", _HOST_ROW_BYTES[kind] * n_ratings, f"for {n_ratings:,} rows")
    seen = Need("seen-items matrix", _SEEN_ROW_BYTES * n_ratings + 8 * (n_users + 1))
    if not config.device.startswith("cuda"):
        return [_needs("cpu", [*on_model, rows, seen], config)]
    device_rows = Need("rating arrays", _DEVICE_ROW_BYTES[config.objective] * n_ratings, f"for {n_ratings:,} rows")
    # the net is made on the CPU and moved to the GPU; the trained one comes back
    return [_needs("cpu", [rows, seen, parameters], config), _needs(config.device, [*on_model, device_rows], config)]


def _needs(device: str, parts: list[Need], config: ResolvedEmbeddingConfig) -> MemoryNeeds:
    """``parts`` in ``device``'s memory, the largest first, and what would lower them, the change that saves most first."""
    parts = sorted((p for p in parts if p.bytes > 0), key=lambda p: -p.bytes)
    size = {p.name: p.bytes for p in parts}
    with_dim = size.get("parameters", 0) + size.get("optimizer state", 0) + size.get("best-epoch copy", 0)
    buffers = size.get("score buffers", 0)
    if config.objective == "rating":  # its batches are vectors: they shrink with the dimension
        with_dim, buffers = with_dim + buffers, 0
    batch = f"lower batch_size={config.batch_size}"
    if config.n_negatives is None:
        batch += f" or sample negatives (n_negatives={DEFAULT_NEGATIVES})"
    changes = [
        (with_dim, f"lower embedding_dim={config.embedding_dim}"),
        (size.get("rating arrays", 0) + size.get("seen-items matrix", 0), "train on fewer rows"),
        (buffers, batch),
    ]
    advice = [text for saved, text in sorted(changes, key=lambda c: -c[0]) if saved]
    if "best-epoch copy" in size:
        advice.append("turn early stopping off (early_stopping=False keeps no copy of the best epoch)")
    if device != "cpu":
        advice.append("train on the CPU (device='cpu')")
    return MemoryNeeds(device, tuple(parts), ", ".join([*advice, "or free memory"]))


# ---------------------------------------------------------------------- what is free
def _meminfo_available(path: Path = Path("/proc/meminfo")) -> int | None:
    """``MemAvailable`` of ``/proc/meminfo`` in bytes (None where there is no such file or line)."""
    try:
        for line in path.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024  # the kernel writes kB, meaning KiB
    except (OSError, ValueError, IndexError):
        return None
    return None


def _cgroup_room(root: Path = Path("/sys/fs/cgroup")) -> int | None:
    """Bytes left under this process's cgroup (v2) memory limit, its reclaimable file cache counted
    as free; None without a limit. A container's limit is not in ``/proc/meminfo``, and going over it
    gets the process killed."""
    try:
        limit = (root / "memory.max").read_text().strip()
        if limit == "max":
            return None
        used = int((root / "memory.current").read_text())
        cache = 0
        for line in (root / "memory.stat").read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == "inactive_file":
                cache = int(value)
        return max(0, int(limit) - used + cache)
    except (OSError, ValueError):
        return None


def available_bytes() -> int | None:
    """Memory the process can still take, in bytes: psutil's available memory when psutil is
    installed, else ``MemAvailable`` of ``/proc/meminfo``, lowered to the room under a cgroup
    limit; None where none of them can be read (then nothing is refused)."""
    try:
        import psutil  # not a dependency: used when it is there (macOS, Windows)

        system: int | None = int(psutil.virtual_memory().available)
    except ImportError:
        system = _meminfo_available()
    room = _cgroup_room()
    known = [b for b in (system, room) if b is not None]
    return min(known) if known else None


def available_device_bytes(device: str) -> int | None:
    """Free memory of the CUDA ``device`` in bytes (None where torch cannot tell)."""
    import torch

    try:
        free, _ = torch.cuda.mem_get_info(torch.device(device))
    except (RuntimeError, AssertionError, ValueError):
        return None
    return int(free)


def check_fits(needs: list[MemoryNeeds]) -> None:
    """Raise :class:`ConfigError` when any of ``needs`` is more than is free where it lives."""
    for need in needs:
        free = available_bytes() if need.device == "cpu" else available_device_bytes(need.device)
        if free is None or need.total <= free:
            continue
        where = "memory" if need.device == "cpu" else f"{need.device} memory"
        parts = ", ".join(f"{p.name} {size_text(p.bytes)}" + (f" {p.detail}" if p.detail else "") for p in need.parts)
        raise ConfigError(
            f"training needs about {size_text(need.total)} of {where} ({parts}) but {size_text(free)} "
            f"is available; {need.advice}."
        )
