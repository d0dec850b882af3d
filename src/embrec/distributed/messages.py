"""What rank 0 tells the other ranks of a fit: which training run comes next, and each rank's share.

Rank 0 alone reads the data and decides the fit (the objective, the validation rows, the refit);
before each training run it announces the run to every rank (``broadcast``), then sends each rank
its share of the data and of the start (point to point), and all train together. The other ranks
follow (:func:`embrec.distributed.training.fit_distributed`): they never read the data file.
"""

from __future__ import annotations

from typing import Any

import torch.distributed as dist

__all__ = ["DONE", "FAILED", "announce", "hear", "receive_share", "send_share"]

#: The fit is over: the ranks that follow stop listening.
DONE = "done"
#: Rank 0 failed before training (the data, the settings): the ranks that follow stop, saying nothing.
FAILED = "failed"


def announce(message: Any, group: dist.ProcessGroup | None = None) -> None:
    """Rank 0: tell every rank ``message`` (a run to train, :data:`DONE` or :data:`FAILED`)."""
    if dist.get_world_size(group) > 1:
        dist.broadcast_object_list([message], src=0, group=group)


def hear(group: dist.ProcessGroup | None = None) -> Any:
    """A rank that follows: wait for rank 0's next message."""
    box: list[Any] = [None]
    dist.broadcast_object_list(box, src=0, group=group)
    return box[0]


def send_share(share: Any, rank: int, group: dist.ProcessGroup | None = None) -> None:
    """Rank 0: send ``rank`` its share."""
    dist.send_object_list([share], dst=rank, group=group)


def receive_share(group: dist.ProcessGroup | None = None) -> Any:
    """A rank that follows: its share from rank 0."""
    box: list[Any] = [None]
    dist.recv_object_list(box, src=0, group=group)
    return box[0]
