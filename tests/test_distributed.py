"""Training across real processes: two (and one) gloo workers on 127.0.0.1 fit the same model as one process.

The workers are started with ``torch.multiprocessing`` (spawn), each fits on its own copy of the same
planted data, and rank 0 writes its model's tables for the test to compare.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
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


# ---------------------------------------------------------------------------- the command line
def _embrec(*argv: str, env: dict[str, str] | None = None, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "embrec", *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )


@pytest.fixture(scope="module")
def ratings_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "ratings.csv"
    _data().to_frame().to_csv(path, index=False)
    return path


def test_train_with_two_workers_writes_the_run_one_process_writes(ratings_csv, tmp_path):
    common = ("--data", str(ratings_csv), "--epochs", "8", "--set", "refit=false", "--json")
    two = _embrec("train", *common, "--out", str(tmp_path / "two"), "--nproc", "2")
    assert two.returncode == 0, two.stderr[-3000:]
    info = json.loads(two.stdout)  # rank 0 alone prints
    assert info["world_size"] == 2 and info["sharding"]["method"] == "dsgd-row-wise"
    one = _embrec("train", *common, "--out", str(tmp_path / "one"))
    assert one.returncode == 0, one.stderr[-3000:]
    alone = json.loads(one.stdout)
    assert alone["world_size"] == 1 and "sharding" not in alone
    assert info["test_rmse"] == alone["test_rmse"] and info["best_epoch"] == alone["best_epoch"]
    # the run folder is an ordinary one: it loads and recommends the same lists
    lists = [_embrec("recommend", str(tmp_path / run), "--user", "1", "-n", "5", "--json") for run in ("two", "one")]
    assert all(r.returncode == 0 for r in lists), lists[0].stderr
    assert json.loads(lists[0].stdout) == json.loads(lists[1].stdout)


def test_nproc_refuses_what_it_cannot_train_before_starting_workers(ratings_csv, tmp_path):
    done = _embrec(
        "train", "--data", str(ratings_csv), "--objective", "ranking", "--nproc", "2", "--out", str(tmp_path / "r")
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "--nproc trains the rating objective" in done.stderr and not (tmp_path / "r").exists()


def test_a_worker_that_cannot_reach_the_rendezvous_names_the_address(ratings_csv, tmp_path):
    port = _free_port()  # nobody listens there
    env = {"WORLD_SIZE": "2", "RANK": "1", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port),
           "EMBREC_RENDEZVOUS_TIMEOUT": "3"}  # fmt: skip
    done = _embrec("train", "--data", str(ratings_csv), "--out", str(tmp_path / "r"), env=env, timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"127.0.0.1:{port}" in done.stderr and "worker 1 of 2" in done.stderr
    assert not (tmp_path / "r").exists()


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):  # the task ended while we looked
            found += [int(p) for p in (task / "children").read_text().split()]
    return found


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads the process tree from /proc (Linux)")
def test_a_worker_killed_mid_training_stops_the_run_and_leaves_the_old_run_intact(tmp_path):
    import signal
    import time

    big = tmp_path / "big.csv"
    planted("ml-1m", rows=400_000, seed=1, figures=False)[0].to_frame().to_csv(big, index=False)
    out = tmp_path / "run"
    ratings = big
    first = _embrec("train", "--data", str(ratings), "--epochs", "2", "--out", str(out), "--json")
    assert first.returncode == 0, first.stderr[-2000:]
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    argv = ["train", "--data", str(ratings), "--no-early-stopping", "--epochs", "2000", "--out", str(out), "--force"]
    parent = subprocess.Popen(
        [sys.executable, "-m", "embrec", *argv, "--nproc", "2"], stderr=subprocess.PIPE, text=True
    )
    try:
        workers: list[int] = []
        deadline = time.monotonic() + 120
        while len(workers) < 2 and time.monotonic() < deadline:  # parent -> torchrun -> two workers
            workers = [w for t in _children(parent.pid) for w in _children(t)]
            time.sleep(0.5)
        assert len(workers) == 2, "the workers did not start"
        time.sleep(8)  # loading the data, then into the epochs
        os.kill(workers[1], signal.SIGKILL)
        killed = time.monotonic()
        _, err = parent.communicate(timeout=90)
    finally:
        if parent.poll() is None:
            parent.kill()
    assert parent.returncode == 2 and "Traceback" not in err
    assert "error:" in err and "nothing was written" in err, err[-2000:]
    assert time.monotonic() - killed < 60  # the other worker was stopped, not left waiting
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before  # the old run, untouched


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_top_n_for_every_user_split_across_workers_is_the_one_process_file(ratings_csv, tmp_path, suffix):
    run = tmp_path / "run"
    trained = _embrec("train", "--data", str(ratings_csv), "--epochs", "3", "--out", str(run), "--json")
    assert trained.returncode == 0, trained.stderr[-2000:]
    one, two = tmp_path / f"one{suffix}", tmp_path / f"two{suffix}"
    assert _embrec("recommend", str(run), "--all-users", "-n", "7", "--out", str(one)).returncode == 0
    done = _embrec("recommend", str(run), "--all-users", "-n", "7", "--out", str(two), "--nproc", "2")
    assert done.returncode == 0, done.stderr[-2000:]
    if suffix == ".csv":
        assert two.read_bytes() == one.read_bytes()
    else:
        import pandas as pd

        pd.testing.assert_frame_equal(pd.read_parquet(two), pd.read_parquet(one))
    assert sorted(p.name for p in tmp_path.iterdir() if ".part" in p.name) == []  # no part file left behind
