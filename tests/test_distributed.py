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
import torch
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


def _worker(rank: int, world: int, port: int, out: str, settings: dict) -> None:
    import torch.distributed as dist

    from embrec.distributed import fit_distributed

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        # rank 0 alone holds the data: it sends the other rank its share of each training run
        model = fit_distributed(create("embedding", **settings), _data() if rank == 0 else None)
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
        dist.barrier()  # leave together, as `embrec train` does
    finally:
        dist.destroy_process_group()


def _across(world: int, tmp_path: Path, settings: dict = SETTINGS) -> dict[str, np.ndarray]:
    out = tmp_path / f"world{world}.npz"
    args = (world, _free_port(), str(out), settings)
    mp.start_processes(_worker, args=args, nprocs=world, join=True, start_method="spawn")
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


#: the ranking objective's full softmax (torch engine), both tables split across the ranks
RANKING = dict(objective="ranking", epochs=5, patience=2, seed=3)


@pytest.mark.parametrize("world", [1, 2])
def test_ranks_fit_the_ranking_model_one_process_fits(world, tmp_path):
    alone = create("embedding", **RANKING).fit(_data())
    assert alone.resolved_config_.engine == "torch" and alone.resolved_config_.n_negatives is None
    got = _across(world, tmp_path, RANKING)
    net = alone.net_
    # the same batches and steps; the log-sum-exp and the user rows' gradients are sums over ranks,
    # added in another order, so the tables agree to float rounding, not bit for bit
    for key, table in [("users", net.user_embedding), ("items", net.item_embedding), ("item_bias", net.item_bias)]:
        np.testing.assert_allclose(got[key], table.weight.detach().numpy(), rtol=0, atol=1e-4)
    assert (int(got["best"]), int(got["run"])) == (alone.best_epoch_, alone.epochs_run_)
    np.testing.assert_allclose(got["val"], [r["val_loss"] for r in alone.history_], rtol=1e-6)


def test_each_rank_holds_only_its_share_of_the_items_and_their_ratings():
    from embrec.distributed.softmax import item_share, shares
    from embrec.models.training import UserRows

    rows = UserRows(
        indptr=torch.tensor([0, 2, 3, 3, 6, 7]), items=torch.tensor([0, 6, 3, 1, 2, 5, 4]),
        weights=torch.tensor([1.0, 0.5, 1.0, 1.0, 1.0, 0.25, 1.0]), n_items=7,
    )  # fmt: skip
    bounds = shares(7, 2)
    assert bounds.tolist() == [0, 3, 7] and shares(5, 2).tolist() == [0, 2, 5]
    parts = [item_share(rows, int(bounds[r]), int(bounds[r + 1])) for r in (0, 1)]
    assert [p[0].items.tolist() for p in parts] == [[0, 1, 2], [3, 0, 2, 1]]  # renumbered from each share's first
    assert [p[0].indptr.tolist() for p in parts] == [[0, 1, 1, 1, 3, 3], [0, 1, 2, 2, 3, 4]]
    assert sum(len(p[0].items) for p in parts) == len(rows.items)  # each rating on one rank
    # summed over the ranks, each user's totals are the whole catalogue's
    assert (parts[0][1] + parts[1][1]).tolist() == [1.5, 1.0, 0.0, 2.25, 1.0]
    assert (parts[0][2] + parts[1][2]).tolist() == [2, 1, 0, 3, 1]


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
    ranks = [ShardedRatingTrainer.whole(blocked, params, None, rank=r, world=2) for r in (0, 1)]
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
    peaks = info["peak_rss_mib_per_worker"]
    assert len(peaks) == 2 and all(p > 50 for p in peaks) and peaks[0] <= info["peak_rss_mib"]
    one = _embrec("train", *common, "--out", str(tmp_path / "one"))
    assert one.returncode == 0, one.stderr[-3000:]
    alone = json.loads(one.stdout)
    assert alone["world_size"] == 1 and "sharding" not in alone
    assert info["test_rmse"] == alone["test_rmse"] and info["best_epoch"] == alone["best_epoch"]
    # the run folder is an ordinary one: it loads and recommends the same lists
    lists = [_embrec("recommend", str(tmp_path / run), "--user", "1", "-n", "5", "--json") for run in ("two", "one")]
    assert all(r.returncode == 0 for r in lists), lists[0].stderr
    assert json.loads(lists[0].stdout) == json.loads(lists[1].stdout)


@pytest.mark.parametrize(
    ("argv", "says"),
    [(["--set", "engine=torch"], "--nproc trains on the CPU"), (["--model", "ease"], "model 'ease' trains in one")],
)
def test_nproc_refuses_what_it_cannot_train_before_starting_workers(ratings_csv, tmp_path, argv, says):
    done = _embrec("train", "--data", str(ratings_csv), *argv, "--nproc", "2", "--out", str(tmp_path / "r"))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert says in done.stderr and not (tmp_path / "r").exists()


def test_ranking_with_two_workers_reaches_the_one_process_quality(ratings_csv, tmp_path):
    common = ("--data", str(ratings_csv), "--objective", "ranking", "--epochs", "6", "--json")
    two = _embrec("train", *common, "--out", str(tmp_path / "two"), "--nproc", "2")
    assert two.returncode == 0, two.stderr[-3000:]
    one = _embrec("train", *common, "--out", str(tmp_path / "one"))
    assert one.returncode == 0, one.stderr[-3000:]
    info, alone = json.loads(two.stdout), json.loads(one.stdout)
    assert info["world_size"] == 2 and info["sharding"]["method"] == "softmax-row-wise"
    assert info["best_epoch"] == alone["best_epoch"]
    assert info["test_ndcg@10"] == pytest.approx(alone["test_ndcg@10"], rel=0.02)


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


def _weights(run: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    return load_file(str(run / "weights.safetensors"))


def _manifest_epoch(folder: Path) -> int:
    with contextlib.suppress(OSError, ValueError, KeyError):  # not written yet, or being replaced
        return int(json.loads((folder / "run0.json").read_text())["epoch"])
    return 0


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads the process tree from /proc (Linux)")
def test_a_worker_killed_mid_training_stops_the_run_and_resume_finishes_it(tmp_path):
    import signal
    import time

    big = tmp_path / "big.csv"
    planted("ml-1m", rows=400_000, seed=1, figures=False)[0].to_frame().to_csv(big, index=False)
    out, checkpoints = tmp_path / "run", tmp_path / ".run.checkpoint"
    first = _embrec("train", "--data", str(big), "--epochs", "2", "--out", str(out), "--json")
    assert first.returncode == 0, first.stderr[-2000:]
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    argv = ["train", "--data", str(big), "--no-early-stopping", "--epochs", "60", "--out", str(out), "--force"]
    parent = subprocess.Popen(
        [sys.executable, "-m", "embrec", *argv, "--nproc", "2"], stderr=subprocess.PIPE, text=True
    )
    try:
        workers: list[int] = []
        deadline = time.monotonic() + 120
        while (len(workers) < 2 or _manifest_epoch(checkpoints) < 3) and time.monotonic() < deadline:
            workers = [w for t in _children(parent.pid) for w in _children(t)]  # parent -> torchrun -> workers
            time.sleep(0.02)
        assert len(workers) == 2 and _manifest_epoch(checkpoints) >= 3, "the workers did not get to epoch 3"
        os.kill(workers[1], signal.SIGKILL)
        killed = time.monotonic()
        _, err = parent.communicate(timeout=90)
    finally:
        if parent.poll() is None:
            parent.kill()
    assert parent.returncode == 2 and "Traceback" not in err
    assert "error:" in err and "nothing was written" in err and "--resume" in err, err[-2000:]
    assert time.monotonic() - killed < 60  # the other worker was stopped, not left waiting
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before  # the old run, untouched
    stopped_at = _manifest_epoch(checkpoints)
    assert 3 <= stopped_at < 60  # killed part-way

    resumed = _embrec(*argv, "--nproc", "2", "--resume", "--json")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert len(json.loads(resumed.stdout)["history"]) == 60 and not checkpoints.exists()
    # the model the uninterrupted run trains (one process trains the same tables bit for bit)
    whole = _embrec(*argv[:-3], "--out", str(tmp_path / "whole"), "--json")
    assert whole.returncode == 0, whole.stderr[-2000:]
    got, expected = _weights(out), _weights(tmp_path / "whole")
    assert got.keys() == expected.keys()
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key], err_msg=key)


class _Stop(Exception):
    pass


def _stopping_worker(rank: int, world: int, port: int, folder: str, settings: dict, out: str) -> None:
    import torch.distributed as dist

    from embrec.distributed import fit_distributed
    from embrec.distributed.checkpoint import Checkpoints

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)

    def stop_at_3(epoch, total, record):  # rank 0 alone reports progress
        if epoch == 3 and not out:
            raise _Stop  # after epoch 2's checkpoint, before epoch 3's

    try:
        try:
            model = fit_distributed(
                create("embedding", **settings), _data() if rank == 0 else None, progress=stop_at_3,
                checkpoints=Checkpoints(Path(folder), rank, world, resume=bool(out)),
            )  # fmt: skip
        except (_Stop, RuntimeError):  # rank 0 stops; the other loses it, as when a worker is killed
            assert not out
            return
        if rank == 0:
            net = model.net_
            np.savez(out, users=net.user_embedding.weight.detach().numpy(),
                     items=net.item_embedding.weight.detach().numpy(), n=len(model.history_))  # fmt: skip
        dist.barrier()
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize("settings", [dict(SETTINGS, refit=True), RANKING], ids=["rating-refit", "ranking"])
def test_a_fit_stopped_part_way_resumes_to_the_uninterrupted_model(settings, tmp_path):
    folder, out = tmp_path / "checkpoint", tmp_path / "resumed.npz"
    for resumed in ("", str(out)):  # stopped at epoch 3, then resumed from epoch 2's checkpoint
        args = (2, _free_port(), str(folder), settings, resumed)
        mp.start_processes(_stopping_worker, args=args, nprocs=2, join=True, start_method="spawn")
        if not resumed:
            assert _manifest_epoch(folder) == 2
    got, whole = dict(np.load(out)), _across(2, tmp_path, settings)
    np.testing.assert_array_equal(got["users"], whole["users"])  # the same state taken back: the same steps
    np.testing.assert_array_equal(got["items"], whole["items"])
    assert int(got["n"]) == len(whole["val"])


def test_resume_refuses_when_there_is_nothing_to_resume(ratings_csv, tmp_path):
    common = ("train", "--data", str(ratings_csv), "--out", str(tmp_path / "r"), "--resume")
    alone = _embrec(*common)
    assert alone.returncode == 2 and "a run in one process has no checkpoints" in alone.stderr
    none = _embrec(*common, "--nproc", "2")
    assert none.returncode == 2 and "--resume found no checkpoint" in none.stderr and ".r.checkpoint" in none.stderr
    assert "Traceback" not in alone.stderr + none.stderr


def test_a_checkpoint_of_another_run_is_refused(tmp_path):
    from embrec.distributed.checkpoint import Checkpoints

    saved = Checkpoints(tmp_path, 0, 1).next_run({"epochs": 5}, lambda: ({"x": np.zeros(2)}, {}), lambda s: None)
    saved.save({"epoch": 1, "history": [], "stopped": False, "best_loss": 1.0, "best_epoch": 1}, None)
    other = Checkpoints(tmp_path, 0, 1, resume=True).next_run({"epochs": 6}, saved.get, saved.put)
    with pytest.raises(ConfigError, match="differs in epochs"):
        other.resume()
    again = Checkpoints(tmp_path, 0, 1, resume=True).next_run({"epochs": 5}, saved.get, lambda s: None)
    progress, best = again.resume()
    assert progress["epoch"] == 1 and best is None


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


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_more_workers_than_users_leave_some_without_a_share_and_the_file_whole(tmp_path, suffix):
    import pandas as pd

    ratings = tmp_path / "two-users.csv"
    pd.DataFrame(
        {"user": [1] * 6 + [2] * 6, "item": list(range(6)) + list(range(3, 9)), "rating": [5, 4, 3, 2, 1, 5] * 2}
    ).to_csv(ratings, index=False)
    run = tmp_path / "run"
    trained = _embrec("train", "--data", str(ratings), "--model", "popularity", "--out", str(run), "--json")
    assert trained.returncode == 0, trained.stderr[-2000:]
    one, three = tmp_path / f"one{suffix}", tmp_path / f"three{suffix}"
    assert _embrec("recommend", str(run), "--all-users", "-n", "2", "--out", str(one)).returncode == 0
    done = _embrec("recommend", str(run), "--all-users", "-n", "2", "--out", str(three), "--nproc", "3")
    assert done.returncode == 0, done.stderr[-2000:]
    if suffix == ".csv":
        assert three.read_bytes() == one.read_bytes()
    else:
        pd.testing.assert_frame_equal(pd.read_parquet(three), pd.read_parquet(one))
