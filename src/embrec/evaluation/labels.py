"""Labels of compared models in tables: each name once, repeats numbered (``ease``, ``ease#2``)."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["unique_labels"]


def unique_labels(names: Iterable[str]) -> list[str]:
    """``names`` with the second and later repeats of a name numbered: ``["a", "a#2", "b", "a#3"]``."""
    labels: list[str] = []
    for base in names:
        label, n = base, 2
        while label in labels:
            label, n = f"{base}#{n}", n + 1
        labels.append(label)
    return labels
