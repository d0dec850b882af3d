"""How messages quote what came in: values, lines, column lists and other programs' messages, cut short.

A value in a message is there to be recognised, not read in full: a 2 GB line of NUL bytes, a
100,000-character cell or a header of 5,000 columns would otherwise make an error message of
megabytes. Every :class:`~embrec.errors.DataError` and :class:`~embrec.errors.SplitError` of
the data layer quotes through these helpers, which keep about :data:`MAX_QUOTED` characters and
end a cut with ``...`` and the full length.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["MAX_QUOTED", "clipped", "quoted", "quoted_list"]

#: About how many characters of one value, line or list a message shows.
MAX_QUOTED = 200


def _fit_repr(value: str | bytes, limit: int) -> str:
    """``repr`` of the longest prefix of ``value`` whose ``repr`` fits in ``limit`` characters."""
    keep = min(len(value), limit)
    text = repr(value[:keep])
    while len(text) > limit and keep > 1:
        # an escaped character takes up to 10 characters (\U0001f600): shrink in proportion
        keep = max(1, min(keep - 1, keep * limit // len(text)))
        text = repr(value[:keep])
    return text


def quoted(value: Any, limit: int = MAX_QUOTED) -> str:
    """``repr(value)``, or for a longer one its start and ``... (N characters)``.

    Text and bytes are cut before quoting, so the quote stays a valid literal of the start; NumPy
    scalars are quoted as the Python values they hold (``True``, not ``np.True_``).
    """
    if type(value).__module__ == "numpy" and hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        value = value.item()  # told apart without importing NumPy: `embrec --help` imports this module
    if isinstance(value, (list, tuple)):
        return quoted_list(value, limit)
    if isinstance(value, (str, bytes)):
        text = repr(value)
        if len(text) <= limit:
            return text
        unit = "characters" if isinstance(value, str) else "bytes"
        return f"{_fit_repr(value, limit)}... ({len(value):,} {unit})"
    return clipped(repr(value), limit)


def quoted_list(values: Iterable[Any], limit: int = MAX_QUOTED) -> str:
    """A list as ``['a', 'b', ...]``: as many quoted entries as fit in ``limit``, then how many in all."""
    items = list(values)
    shown: list[str] = []
    used = 2
    per_item = max(20, limit // 4)
    for item in items:
        text = quoted(item, per_item)
        if shown and used + len(text) + 2 > limit:
            break
        shown.append(text)
        used += len(text) + 2
    if len(shown) == len(items):
        return "[" + ", ".join(shown) + "]"
    return "[" + ", ".join(shown) + f", ...] ({len(items):,} in all)"


def clipped(text: str, limit: int = MAX_QUOTED) -> str:
    """Free text (such as another library's error message) on one line, cut to ``limit`` characters with ``...``.

    Control characters (NUL, newlines, ...) are written escaped, as ``repr`` writes them.
    """
    text = str(text)
    cut = len(text) > limit
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text[:limit])
    if len(text) > limit:
        text, cut = text[:limit], True
    return text.rstrip() + "..." if cut else text
