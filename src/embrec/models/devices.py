"""Where torch computes and on how many CPU threads: shared by the training loop and the closed-form models."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from embrec.errors import ConfigError

__all__ = ["resolve_device", "torch_threads"]


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA when present, else CPU; a named CUDA device must exist."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device={name!r} was asked for but no CUDA GPU is available; use device='cpu' or 'auto'.")
    return torch.device(name)


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run with ``n`` torch CPU threads, restoring the previous setting afterwards (``None``: leave it)."""
    if n is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
