"""The pinned TorchRec / fbgemm-gpu-cpu pair of ``embrec[distributed]`` works with this torch: a table
sharded row-wise by TorchRec's planner across two real gloo workers looks rows up and steps them with
its fused optimizer as an unsharded table does.

TorchRec is installed by ``make setup`` (``pip install --no-deps torchrec==1.8.0`` next to the extra:
its own requirement on ``fbgemm-gpu`` would pull the CUDA build). ``docs/distributed.md`` says what
embrec's trainers use instead of it, and ``benchmarks/bench_torchrec.py`` measures why.
"""

from __future__ import annotations

import importlib.util
import os
import socket
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("torchrec") is None or importlib.util.find_spec("fbgemm_gpu") is None,
    reason="TorchRec is not installed: pip install 'embrec[distributed]' && pip install --no-deps torchrec==1.8.0 "
    "(make setup does both)",
)

N, D, LR = 1_000, 8, 0.1
IDS = [3, 999, 500, 3, 499, 0]  # rows of both shards, one twice


def _table() -> torch.Tensor:
    return torch.arange(N * D, dtype=torch.float32).reshape(N, D) / (N * D)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _worker(rank: int, world: int, port: int, out: str) -> None:
    import torch.distributed as dist
    import torchrec
    from torchrec.distributed.embedding import EmbeddingCollectionSharder
    from torchrec.distributed.model_parallel import DistributedModelParallel
    from torchrec.distributed.planner import EmbeddingShardingPlanner, ParameterConstraints, Topology
    from torchrec.distributed.types import ShardingType
    from torchrec.optim.apply_optimizer_in_backward import apply_optimizer_in_backward
    from torchrec.sparse.jagged_tensor import KeyedJaggedTensor

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), LOCAL_RANK=str(rank), LOCAL_WORLD_SIZE=str(world))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        config = torchrec.EmbeddingConfig(name="item_table", embedding_dim=D, num_embeddings=N, feature_names=["item"])
        collection = torchrec.EmbeddingCollection(tables=[config], device=torch.device("meta"))
        apply_optimizer_in_backward(torch.optim.SGD, collection.parameters(), {"lr": LR})
        planner = EmbeddingShardingPlanner(
            topology=Topology(world_size=world, compute_device="cpu"),
            constraints={"item_table": ParameterConstraints(sharding_types=[ShardingType.ROW_WISE.value])},
        )
        sharders = [EmbeddingCollectionSharder()]
        plan = planner.collective_plan(collection, sharders, dist.GroupMember.WORLD)
        model = DistributedModelParallel(collection, device=torch.device("cpu"), plan=plan, sharders=sharders)
        full = _table()
        shards = []
        for value in model.state_dict().values():  # each rank's shard of the table, filled from the full one
            for shard in value.local_shards():
                start, rows = shard.metadata.shard_offsets[0], shard.metadata.shard_sizes[0]
                with torch.no_grad():
                    shard.tensor.copy_(full[start : start + rows])
                shards.append((start, shard.tensor))
        ids = torch.tensor(IDS)
        batch = KeyedJaggedTensor.from_lengths_sync(
            keys=["item"], values=ids, lengths=torch.ones(len(IDS), dtype=torch.int64)
        )
        looked_up = model(batch)["item"].values()
        weights = torch.arange(1, len(IDS) + 1, dtype=torch.float32)[:, None]
        (looked_up * weights).sum().backward()  # the fused optimizer steps the rows in the backward pass
        (start, tensor), *_ = shards
        np.savez(
            f"{out}.rank{rank}.npz", looked_up=looked_up.detach().numpy(), start=start, shard=tensor.detach().numpy()
        )
    finally:
        dist.destroy_process_group()


def test_a_row_wise_sharded_table_looks_up_and_steps_rows_as_a_whole_table_does(tmp_path: Path):
    out = str(tmp_path / "got")
    mp.start_processes(_worker, args=(2, _free_port(), out), nprocs=2, join=True, start_method="spawn")
    full = _table()
    expected = full.clone()
    for n, i in enumerate(IDS):  # d/d(row) of sum(weight * row) is the weight, for every time it is looked up
        expected[i] -= LR * (n + 1)
    parts = [dict(np.load(f"{out}.rank{r}.npz")) for r in (0, 1)]
    assert sorted(int(p["start"]) for p in parts) == [0, 500]  # the planner split the rows in two
    for part in parts:
        np.testing.assert_allclose(part["looked_up"], full[IDS].numpy(), rtol=1e-6)  # the rows before the step
        start = int(part["start"])
        np.testing.assert_allclose(part["shard"], expected[start : start + len(part["shard"])].numpy(), atol=1e-6)
