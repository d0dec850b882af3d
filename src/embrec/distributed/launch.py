"""Joining a run's process group from the environment ``torchrun`` sets, and starting local workers.

``torchrun --nnodes N --nproc-per-node M -m embrec train ...`` starts the workers of a cluster run and
gives each ``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT``; :func:`join` reads them and
joins the group (gloo on the CPU). ``embrec train --nproc M`` starts ``M`` workers on this machine the
same way (:func:`local_command`: torchrun's standalone rendezvous on 127.0.0.1).
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from dataclasses import dataclass

from embrec.errors import ConfigError, EmbrecError

__all__ = ["JOIN_TIMEOUT_S", "World", "join", "leave", "local_command", "world_from_env"]

#: Seconds a worker waits for the others at the rendezvous (and for any one collective) before it gives
#: up; ``EMBREC_RENDEZVOUS_TIMEOUT`` (seconds) changes it.
JOIN_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class World:
    """This worker's place in a run: its rank, the number of workers and where they meet."""

    rank: int
    size: int
    address: str

    @property
    def leader(self) -> bool:
        """Rank 0: the worker that writes the run folder and prints the result."""
        return self.rank == 0


def world_from_env() -> World | None:
    """The world ``torchrun`` describes in the environment, or ``None`` for a single process."""
    size = os.environ.get("WORLD_SIZE")
    if size is None or int(size) <= 1:
        return None
    address = f"{os.environ.get('MASTER_ADDR', '127.0.0.1')}:{os.environ.get('MASTER_PORT', '29500')}"
    return World(rank=int(os.environ.get("RANK", "0")), size=int(size), address=address)


def join(world: World, timeout_s: float | None = None) -> None:
    """Join the default process group (gloo) of ``world``, waiting at most ``timeout_s`` seconds
    (default ``EMBREC_RENDEZVOUS_TIMEOUT``, else :data:`JOIN_TIMEOUT_S`).

    Raises:
        EmbrecError: the others were not reached at ``world.address`` within ``timeout_s`` seconds.
    """
    import torch.distributed as dist

    if timeout_s is None:
        timeout_s = float(os.environ.get("EMBREC_RENDEZVOUS_TIMEOUT", JOIN_TIMEOUT_S))
    try:
        dist.init_process_group("gloo", timeout=dt.timedelta(seconds=timeout_s))
    except Exception as exc:  # torch raises several kinds (DistStoreError, RuntimeError, TimeoutError)
        raise EmbrecError(
            f"worker {world.rank} of {world.size} could not reach the rendezvous at {world.address} within "
            f"{timeout_s:.0f} s ({type(exc).__name__}); check MASTER_ADDR/MASTER_PORT (torchrun --rdzv-endpoint) "
            "and that every worker was started."
        ) from None


def leave() -> None:
    """Leave the default process group, if this process joined one."""
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()


def local_command(nproc: int, argv: list[str]) -> list[str]:
    """The command that runs ``embrec ARGV`` as ``nproc`` workers on this machine (torchrun, standalone)."""
    if nproc < 2:
        raise ConfigError(f"nproc={nproc} starts no workers; give 2 or more (1 trains in this process).")
    return [
        sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
        "--max-restarts=0", "--monitor-interval=0.5", "-m", "embrec", *argv,
    ]  # fmt: skip
