"""The validation split a study scores on, carved from the training part of a split only.

:func:`validation_split` applies :func:`~embrec.data.splits.make_split` to ``split.train`` with
the outer split's own method and sizes, so validation imitates the test protocol: a temporal
split holds out each user's latest training ratings, a random split random training rows, a
leave-one-out split each user's latest training rating. Its seed is derived from the tuning
seed (:func:`validation_seed`), so it differs from the outer split's draw but is the same on
every run. The test rows are never read.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from embrec.data.choices import SplitMethod
from embrec.data.splits import Split, make_split
from embrec.errors import ConfigError, SplitError

__all__ = ["validation_seed", "validation_split", "describe_validation"]

_MAX_SEED = 2**32 - 1


def validation_seed(seed: int) -> int:
    """The seed of the validation carve-out for the tuning ``seed``.

    The first 32-bit word of ``numpy.random.SeedSequence(seed, spawn_key=(1,))``: the same for
    the same seed, and unrelated to the draw that ``seed`` makes for the outer split.
    """
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or not 0 <= int(seed) <= _MAX_SEED:
        raise ConfigError(f"seed={seed!r} is not allowed; give a whole number from 0 to {_MAX_SEED}.")
    return int(np.random.SeedSequence(int(seed), spawn_key=(1,)).generate_state(1)[0])


def validation_split(split: Split, *, seed: int | None = None) -> Split:
    """A split of ``split.train`` made as ``split`` was made: its ``train`` fits, its ``test`` validates.

    * ``random``: the same share (or count) of the training rows, at random.
    * ``user`` / ``temporal``: the same share or count of each user's training rows (random / latest).
    * ``loo``: each user's latest training row (a random one without timestamps).
    * ``cutoff``: the latest ``test_fraction`` of the training rows' time; a split made with a
      cutoff time (no fraction) holds out the latest 10% (the default share).

    ``drop_unseen`` is as in ``split``. ``seed`` (default ``split.seed``) gives the carve-out's
    seed through :func:`validation_seed`. A fold of a reference protocol
    (:class:`embrec.data.protocols.Fold`) is carved the protocol's own way instead
    (:func:`embrec.data.protocols.validation_split`: held-out users for strong generalisation and
    LensKit's user crossfold, the fold's own valid part for RecBole's 8:1:1, ...).

    Raises:
        SplitError: the training part is too small to carve from with these settings.
    """
    if not isinstance(split, Split):
        raise ConfigError(f"split must be a Split (see make_split), got {type(split).__name__}.")
    from embrec.data.protocols import Fold
    from embrec.data.protocols import validation_split as protocol_validation

    if isinstance(split, Fold):
        seed_used = validation_seed(split.seed if seed is None else seed)
        return protocol_validation(split if split.validation is not None else split.train, split.protocol, seed_used)
    method = split.method
    fraction, count = split.test_fraction, split.test_count
    if method is SplitMethod.loo:
        fraction, count = None, None  # leave-one-out takes no size
    elif method is SplitMethod.cutoff:
        count = None  # a cutoff time becomes the latest share of the training time
    try:
        return make_split(
            split.train,
            method,
            test_fraction=fraction,
            test_count=count,
            seed=validation_seed(split.seed if seed is None else seed),
            drop_unseen=split.drop_unseen,
        )
    except SplitError as exc:
        raise SplitError(f"cannot carve a validation split from the training part: {exc}") from None


def describe_validation(validation: Split) -> dict[str, Any]:
    """How the validation split was carved, and its size (JSON-ready).

    ``fraction`` and ``count`` are the ``test_fraction`` and ``test_count`` given to ``make_split``.
    """
    s = validation.summary()
    return {
        "carved_from": "train",
        "method": s["method"],
        "fraction": s["test_fraction"],
        "count": s["test_count"],
        "cutoff_utc": s["cutoff_utc"],
        "seed": s["seed"],
        "drop_unseen": s["drop_unseen"],
        "fit_rows": s["train_rows"],
        "validation_rows": s["test_rows"],
        "validation_users": s["test_users"],
    }
