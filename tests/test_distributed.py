"""Training across real processes: two (and one) gloo workers on 127.0.0.1 fit the same model as one process.

The workers are started with ``torch.multiprocessing`` (spawn), each fits on its own copy of the same
planted data, and rank 0 writes its model's tables for the test to compare.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import numpy as np
import pytest
import torch.multiprocessing as mp

from embrec.data.synthetic import planted
from embrec.errors import ConfigError
from embrec.models import create

#: 60,000 ratings: the engine deals them into 3 x 3 blocks, which two ranks share unevenly (2 + 1)
ROWS = 60_000
SETTINGS = dict(objective="rating", epochs=12, patience=2, refit=False, seed=3)


def _data():
    return planted("ml-100k", rows=ROWS, seed=5, figures=False)[0]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _worker(rank: int, world: int, port: int, out: str) -> None:
    import torch.distributed as dist

    from embrec.distributed import fit_distributed

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        model = fit_distributed(create("embedding", **SETTINGS), _data())
        if rank == 0:
            net = model.net_
            np.savez(
                out,
                users=net.user_embedding.weight.detach().numpy(),
                items=net.item_embedding.weight.detach().numpy(),
                item_bias=net.item_bias.weight.detach().numpy(),
                best=model.best_epoch_,
                run=model.epochs_run_,
                val=[r["val_loss"] for r in model.history_],
            )
    finally:
        dist.destroy_process_group()


def _across(world: int, tmp_path: Path) -> dict[str, np.ndarray]:
    out = tmp_path / f"world{world}.npz"
    mp.start_processes(_worker, args=(world, _free_port(), str(out)), nprocs=world, join=True, start_method="spawn")
    return dict(np.load(out))


@pytest.fixture(scope="module")
def alone():
    model = create("embedding", **SETTINGS).fit(_data())
    assert model.resolved_config_.engine == "numba"
    return model


@pytest.mark.parametrize("world", [1, 2])
def test_ranks_fit_the_same_model_as_one_process(world, alone, tmp_path):
    got = _across(world, tmp_path)
    net = alone.net_
    # the same cells in the same order with the same kernel: the same tables, bit for bit
    np.testing.assert_array_equal(got["users"], net.user_embedding.weight.detach().numpy())
    np.testing.assert_array_equal(got["items"], net.item_embedding.weight.detach().numpy())
    np.testing.assert_array_equal(got["item_bias"], net.item_bias.weight.detach().numpy())
    assert (int(got["best"]), int(got["run"])) == (alone.best_epoch_, alone.epochs_run_)
    expected = [r["val_loss"] for r in alone.history_]
    np.testing.assert_allclose(got["val"], expected, rtol=1e-9)  # sums over ranks add in another order


def test_the_blocks_are_shared_unevenly_and_every_rank_holds_only_its_own():
    from embrec.distributed.dsgd import Placement, ShardedRatingTrainer
    from embrec.models import engine_numba as engine

    data = _data()
    blocked = engine.block_ratings(
        data.users, data.items, data.ratings, rating_scale=data.rating_scale, n_users=data.n_users,
        n_items=data.n_items, skip=None, seed=1,
    )  # fmt: skip
    assert blocked.k == 3
    rng = np.random.default_rng(0)
    P = rng.normal(0, 0.01, (data.n_users, 8)).astype(np.float32)
    Q = rng.normal(0, 0.01, (data.n_items, 8)).astype(np.float32)
    params = blocked.to_engine_order(
        (P, Q, np.zeros(data.n_users, np.float32), np.zeros(data.n_items, np.float32), 0.0)
    )
    ranks = [ShardedRatingTrainer(blocked, params, None, rank=r, world=2) for r in (0, 1)]
    assert [t.mine for t in ranks] == [[0, 2], [1]]
    assert sorted(j for t in ranks for j in t.items) == [0, 1, 2]  # each item block on one rank
    held = sum(len(u.bias) for t in ranks for u in t.users.values())
    assert held == data.n_users  # the user table split, no row twice
    place = Placement(3, 2)
    assert [place.item_holder(j, 1) for j in range(3)] == [0, 0, 1]  # block j meets user block (j - 1) mod 3


def test_fit_distributed_needs_a_process_group_and_the_rating_engine():
    from embrec.distributed import fit_distributed

    with pytest.raises(ConfigError, match="torchrun"):
        fit_distributed(create("embedding", **SETTINGS), _data())
