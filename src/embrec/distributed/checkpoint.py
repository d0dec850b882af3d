"""Per-epoch checkpoints of a run across processes, and resuming from them.

After every epoch each rank writes its own share of the training state (its rows of the tables, the
optimizer's, the random generators', early stopping's best epoch) to one file; once every rank has
written (a barrier), rank 0 moves the folder's manifest to that epoch. A run stopped at any point
(a worker killed, a machine lost) resumes from the manifest's epoch and ends with the model the
uninterrupted run would have trained: every rank takes back its state and walks the same epochs.

A fit can train twice (the search with early stopping, then the refit on every training row): each
of those runs has its own manifest (``run0.json``, ``run1.json``) and files, ``run{n}.rank{r}.epoch{e}``
(``.safetensors`` for arrays, ``.json`` for the rest: no pickle, as in run folders). A rank keeps its
last two epochs, so the manifest's epoch is always on disk.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch.distributed as dist
from safetensors.numpy import load_file, save_file

from embrec import atomic
from embrec.errors import ConfigError

__all__ = ["FORMAT", "Checkpoints", "RunCheckpoint", "State", "checkpoint_folder"]

FORMAT = 1

#: A rank's training state: named arrays, and everything else as JSON-able values.
State = tuple[dict[str, np.ndarray], dict[str, Any]]


def checkpoint_folder(out: Path) -> Path:
    """Where a run written to the run folder ``out`` keeps its checkpoints: a hidden folder beside it."""
    out = out.expanduser()
    return out.parent / f".{out.name}.checkpoint"


def _json(value: Any) -> Any:
    """``value`` as it reads back from JSON (tuples become lists), to compare fingerprints."""
    return json.loads(json.dumps(value))


@dataclass
class Checkpoints:
    """The checkpoint folder of one run across ``world`` ranks; ``resume`` to continue from it."""

    folder: Path
    rank: int
    world: int
    resume: bool = False
    group: dist.ProcessGroup | None = None
    #: write every this many epochs (and when early stopping stops); 0: never
    every: int = 1

    def __post_init__(self) -> None:
        self.runs = 0

    def latest(self) -> int | None:
        """The last epoch the first training run's manifest records (``None``: no checkpoint)."""
        manifest = self.folder / "run0.json"
        if not manifest.is_file():
            return None
        return int(json.loads(manifest.read_text())["epoch"])

    def clear(self) -> None:
        """Remove every checkpoint (rank 0, before a new run; and after the run folder is written)."""
        shutil.rmtree(self.folder, ignore_errors=True)

    def next_run(
        self, fingerprint: dict[str, Any], get: Callable[[], State], put: Callable[[State], None]
    ) -> RunCheckpoint:
        """The checkpoints of the fit's next training run; ``get``/``put`` read and restore the engine's state."""
        run = RunCheckpoint(self, self.runs, _json({"format": FORMAT, "world": self.world, **fingerprint}), get, put)
        self.runs += 1
        return run


@dataclass
class RunCheckpoint:
    """The checkpoints of one training run of a fit (what :func:`embrec.models.training.run_epochs` takes)."""

    owner: Checkpoints
    index: int
    fingerprint: dict[str, Any]
    get: Callable[[], State]
    put: Callable[[State], None]

    @property
    def manifest(self) -> Path:
        return self.owner.folder / f"run{self.index}.json"

    def _file(self, epoch: int, suffix: str) -> Path:
        return self.owner.folder / f"run{self.index}.rank{self.owner.rank}.epoch{epoch}{suffix}"

    def resume(self) -> tuple[dict[str, Any], State | None] | None:
        """Take back this rank's state at the manifest's epoch; return the loop's progress then (``epoch``,
        ``history``, ``stopped``, early stopping's figures) and the best epoch's kept state. ``None``: no
        checkpoint of this run, start from epoch 1."""
        if not self.owner.resume or not self.manifest.is_file():
            return None
        manifest = json.loads(self.manifest.read_text())
        if manifest["fingerprint"] != self.fingerprint:
            differ = sorted(
                k for k in {**manifest["fingerprint"], **self.fingerprint}
                if manifest["fingerprint"].get(k) != self.fingerprint.get(k)
            )  # fmt: skip
            raise ConfigError(
                f"the checkpoint in {str(self.owner.folder)!r} is of another run (it differs in {', '.join(differ)}); "
                "resume with the same data, split, settings and number of workers, or train again without --resume."
            )
        epoch = int(manifest["epoch"])
        arrays_at, rest_at = self._file(epoch, ".safetensors"), self._file(epoch, ".json")
        if not arrays_at.is_file() or not rest_at.is_file():
            raise ConfigError(
                f"worker {self.owner.rank} finds no checkpoint of epoch {epoch} at {str(arrays_at)!r}; every worker must "
                "see the checkpoint folder (a shared file system), or train again without --resume."
            )
        rest = json.loads(rest_at.read_text())
        arrays = load_file(str(arrays_at))
        self.put((_part(arrays, "now."), rest["now"]))
        best = None if rest["best"] is None else (_part(arrays, "best."), rest["best"])
        return rest["progress"], best

    def save(self, progress: dict[str, Any], best: State | None) -> None:
        """Write this rank's state after ``progress["epoch"]`` and early stopping's ``best``, wait for every
        rank, then move the manifest to that epoch."""
        epoch, every = int(progress["epoch"]), self.owner.every
        if not every or (epoch % every and not progress["stopped"]):
            return
        now, meta = self.get()
        arrays = {f"now.{k}": v for k, v in now.items()}
        if best is not None:
            arrays |= {f"best.{k}": v for k, v in best[0].items()}
        self.owner.folder.mkdir(parents=True, exist_ok=True)
        atomic.write_with(self._file(epoch, ".safetensors"), lambda tmp: save_file(arrays, str(tmp)))
        payload = {"progress": progress, "now": meta, "best": None if best is None else best[1]}
        atomic.write_text(self._file(epoch, ".json"), json.dumps(payload))
        if self.owner.world > 1:
            dist.barrier(group=self.owner.group)
        if self.owner.rank == 0:
            atomic.write_text(self.manifest, json.dumps({"epoch": epoch, "fingerprint": self.fingerprint}))
        for old in self.owner.folder.glob(f"run{self.index}.rank{self.owner.rank}.epoch*"):
            if int(old.name.split(".epoch")[1].split(".")[0]) < epoch - 1:
                old.unlink(missing_ok=True)


def _part(arrays: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    return {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
