"""TorchRec's row-wise sharded table against embrec's sharded softmax: one full-softmax step, two processes.

The ranking objective's step scores a batch of users against every item. Two ways to shard the item
table row-wise over two gloo workers on 127.0.0.1, timed side by side in one run:

* **TorchRec**: an ``EmbeddingCollection`` sharded row-wise by TorchRec's planner (fbgemm's fused
  SGD in the backward pass). Each worker scores its half of the batch, so it looks up every item:
  the all-to-all brings it the other worker's rows and takes their gradients back.
* **embrec** (``embrec.distributed.softmax``): each worker keeps its half of the items and scores the
  whole batch against them; the batch's user vectors, the log-sum-exp and their gradients are
  all-reduced (``SumOverRanks``), and no item row moves.

Both take the same softmax cross-entropy of a batch of 64 users (d = 64) and step the item rows;
the seconds are the median of 20 steps after 3 warm-up steps, per worker (the slower worker's).
Writes the "## TorchRec against torch's collectives" section of docs/benchmarks.md:

    .venv/bin/python benchmarks/bench_torchrec.py
"""

from __future__ import annotations

import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.multiprocessing as mp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import machine, write_section  # noqa: E402

BATCH, DIM, WARM, STEPS = 64, 64, 3, 20
CATALOGUES = [("ml-100k", 1_682), ("ml-latest-small", 9_742), ("ML-25M shape", 59_047)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _timed(step) -> float:
    for _ in range(WARM):
        step()
    times = []
    for _ in range(STEPS):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _torchrec_step(rank: int, world: int, n_items: int):
    import torch.distributed as dist
    import torchrec
    from torchrec.distributed.embedding import EmbeddingCollectionSharder
    from torchrec.distributed.model_parallel import DistributedModelParallel
    from torchrec.distributed.planner import EmbeddingShardingPlanner, ParameterConstraints, Topology
    from torchrec.distributed.types import ShardingType
    from torchrec.optim.apply_optimizer_in_backward import apply_optimizer_in_backward
    from torchrec.sparse.jagged_tensor import KeyedJaggedTensor

    config = torchrec.EmbeddingConfig(
        name="item_table", embedding_dim=DIM, num_embeddings=n_items, feature_names=["item"]
    )
    collection = torchrec.EmbeddingCollection(tables=[config], device=torch.device("meta"))
    apply_optimizer_in_backward(torch.optim.SGD, collection.parameters(), {"lr": 0.01})
    planner = EmbeddingShardingPlanner(
        topology=Topology(world_size=world, compute_device="cpu"),
        constraints={"item_table": ParameterConstraints(sharding_types=[ShardingType.ROW_WISE.value])},
    )
    sharders = [EmbeddingCollectionSharder()]
    plan = planner.collective_plan(collection, sharders, dist.GroupMember.WORLD)
    model = DistributedModelParallel(collection, device=torch.device("cpu"), plan=plan, sharders=sharders)
    every = KeyedJaggedTensor.from_lengths_sync(
        keys=["item"], values=torch.arange(n_items), lengths=torch.ones(n_items, dtype=torch.int64)
    )
    gen = torch.Generator().manual_seed(rank)
    users = torch.randn(BATCH // world, DIM, generator=gen) * 0.1  # this worker's half of the batch
    targets = torch.randint(0, n_items, (BATCH // world,), generator=gen)

    def step() -> None:
        q = model(every)["item"].values()  # every item's row, from whichever worker holds it
        loss = torch.nn.functional.cross_entropy(users @ q.T, targets)
        loss.backward()  # the rows' gradients go back to their owners, whose fused optimizer steps them

    return step


def _embrec_step(rank: int, world: int, n_items: int):
    from embrec.distributed.softmax import SumOverRanks, shares

    bounds = shares(n_items, world)
    rows = int(bounds[rank + 1] - bounds[rank])
    gen = torch.Generator().manual_seed(0)  # the same batch on every worker
    q = (torch.randn(rows, DIM, generator=gen) * 0.1).requires_grad_(True)
    optimizer = torch.optim.SGD([q], lr=0.01)
    mine = torch.randn(BATCH, DIM, generator=gen) * 0.1
    own = torch.arange(BATCH) % world == rank  # the batch users this worker owns
    targets = torch.randint(0, n_items, (BATCH,), generator=gen) - int(bounds[rank])
    local = (targets >= 0) & (targets < rows)

    def step() -> None:
        p = SumOverRanks.apply(torch.where(own[:, None], mine, 0.0), None)
        logits = p @ q.T
        top = logits.detach().max(1).values
        torch.distributed.all_reduce(top, op=torch.distributed.ReduceOp.MAX)
        lse = top + torch.log(SumOverRanks.apply(torch.exp(logits - top[:, None]).sum(1), None))
        picked = logits[local, targets[local]].sum()
        loss = (lse.sum() / world - picked) / BATCH
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def _worker(rank: int, world: int, port: int, out: str) -> None:
    import torch.distributed as dist

    torch.set_num_threads(1)  # two workers on two cores
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), LOCAL_RANK=str(rank), LOCAL_WORLD_SIZE=str(world))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        got = []
        for _, n_items in CATALOGUES:
            for make in (_torchrec_step, _embrec_step):
                step = make(rank, world, n_items)
                dist.barrier()
                seconds = torch.tensor([_timed(step)])
                dist.all_reduce(seconds, op=dist.ReduceOp.MAX)
                got.append(float(seconds))
        if rank == 0:
            np.save(out, np.array(got))
        dist.barrier()
    finally:
        dist.destroy_process_group()


def main() -> None:
    world = 2
    with tempfile.TemporaryDirectory() as tmp:
        out = str(Path(tmp) / "seconds.npy")
        mp.start_processes(_worker, args=(world, _free_port(), out), nprocs=world, join=True, start_method="spawn")
        seconds = np.load(out).reshape(len(CATALOGUES), 2)
    body = [
        f"Measured {time.strftime('%Y-%m-%d')} on {machine()}; torchrec 1.8.0, fbgemm-gpu-cpu 1.8.0.",
        "",
        "Reproduce: `.venv/bin/python benchmarks/bench_torchrec.py`",
        "",
        f"One full-softmax step of a batch of {BATCH} users at d={DIM} on {world} gloo workers on 127.0.0.1 (one "
        "thread each), the item table split row-wise between them: through TorchRec's row-wise sharded "
        "`EmbeddingCollection` (each worker looks up every item for its half of the batch: the all-to-all moves "
        "the other half of the table and its gradients every step), or as `embrec.distributed.softmax` does it "
        "(each worker scores the whole batch against its own items; the batch's user vectors and log-sum-exp are "
        "all-reduced). Median of 20 steps after 3 warm-up steps, the slower worker. *Sent per step*: the bytes one "
        "worker sends, forward and backward (the rows or user vectors, and their gradients).",
        "",
        "| catalogue | items | TorchRec (ms) | embrec (ms) | TorchRec / embrec | TorchRec sent | embrec sent |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for (label, n_items), (torchrec_s, embrec_s) in zip(CATALOGUES, seconds, strict=True):
        sent_torchrec = 2 * (n_items // world) * DIM  # its rows to the other worker, their gradients back
        sent_embrec = 2 * (BATCH * DIM + 2 * BATCH)  # user rows + log-sum-exp terms, forward and backward
        body.append(
            f"| {label} | {n_items:,} | {torchrec_s * 1e3:.2f} | {embrec_s * 1e3:.2f} | {torchrec_s / embrec_s:.1f} | "
            f"{sent_torchrec * 4 / 2**20:.2f} MiB | {sent_embrec * 4 / 2**10:.1f} KiB |"
        )
        print(label, round(torchrec_s * 1e3, 2), round(embrec_s * 1e3, 2), flush=True)
    write_section("TorchRec against torch's collectives", "bench_torchrec", "\n".join(body))


if __name__ == "__main__":
    main()
