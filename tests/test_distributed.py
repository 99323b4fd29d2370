"""Data-parallel training on MPI (tinygrad_bp.distributed, DistributedSampler).

The MPI tests start ``mpiexec -n N python tests/mpi/mpi_worker.py MODE OUT`` (N = 2 and 3 on a
2-core machine: MPICH runs more processes than cores without a flag) with a timeout on
every call, and compare with the same training in this process, without MPI.  They skip,
saying why, only where MPI cannot start (mpi4py or mpiexec missing, or a 2-process hello
failing).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import tinygrad_bp as tg
from tinygrad_bp import distributed as dist
from tinygrad_bp import nn
from tinygrad_bp.data import DistributedSampler

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKER = os.path.join(ROOT, "tests", "mpi", "mpi_worker.py")
sys.path.insert(0, os.path.join(ROOT, "tests", "mpi"))
import mpi_worker as worker  # noqa: E402

TIMEOUT = 120  # seconds for any one mpiexec call: a hang fails the test instead


def _mpiexec() -> str | None:
    exe = shutil.which(
        "mpiexec", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")
    )
    return exe


@functools.lru_cache(maxsize=1)
def _mpi_unavailable() -> str | None:
    """Why MPI cannot start here, or None."""
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return "mpi4py is not installed (pip install 'tinygrad-bp[mpi]')"
    exe = _mpiexec()
    if exe is None:
        return "no mpiexec on PATH (the mpich wheel provides one)"
    try:
        hello = "from mpi4py import MPI; MPI.COMM_WORLD.Barrier()"
        r = subprocess.run(
            [exe, "-n", "2", sys.executable, "-c", hello],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"mpiexec -n 2 could not start: {exc}"
    if r.returncode != 0:
        return f"mpiexec -n 2 failed: {(r.stderr or r.stdout).strip()[-300:]}"
    return None


def _run(n: int, mode: str, out: str) -> subprocess.CompletedProcess:
    why = _mpi_unavailable()
    if why is not None:
        pytest.skip(f"MPI cannot start here: {why}")
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run(
        [_mpiexec(), "-n", str(n), sys.executable, WORKER, mode, out],
        capture_output=True, text=True, timeout=TIMEOUT, env=env, cwd=ROOT,
    )  # fmt: skip


def _ok(r: subprocess.CompletedProcess) -> None:
    assert r.returncode == 0, f"mpiexec failed ({r.returncode}):\n{r.stdout}\n{r.stderr}"


@functools.cache
def _reference(name: str) -> dict[str, np.ndarray]:
    return worker.train(name)  # one process, no MPI, the whole global batch


# ---------------------------------------------------------------- equal to one process
@pytest.mark.parametrize("n", [2, 3])
def test_n_processes_equal_one_after_100_steps(n, tmp_path):
    out = str(tmp_path / "params.npz")
    _ok(_run(n, "equal", out))
    got = np.load(out)
    for name in worker.problems():
        ref = _reference(name)
        assert ref, name
        for key, value in ref.items():
            np.testing.assert_allclose(
                got[f"{name}/{key}"], value, rtol=0, atol=1e-12, err_msg=f"{name} {key}"
            )
            # every process holds the same parameters, exactly
            assert not got[f"spread/{name}/{key}"].any(), f"{name} {key} differs across ranks"
        # and training moved them (a run that did nothing would also be "equal")
        assert any(
            not np.allclose(v, worker.problems()[name][0]().state_dict()[k]) for k, v in ref.items()
        )


@pytest.mark.parametrize("n", [2, 3])
def test_no_sync_accumulation_equals_one_big_batch(n, tmp_path):
    out = str(tmp_path / "grads.npz")
    _ok(_run(n, "nosync", out))
    got = np.load(out)
    ref = worker.nosync(micro=1)
    for key, value in ref.items():
        np.testing.assert_allclose(got[key], value, rtol=0, atol=1e-14, err_msg=key)


def test_seeded_sampler_over_mpi_covers_the_data_once_per_epoch(tmp_path):
    out = str(tmp_path / "indices.npz")
    _ok(_run(3, "sampler", out))
    got = np.load(out)
    orders = []
    for epoch in range(3):
        every = got[f"epoch{epoch}"]  # (3 ranks, 16): 48 slots for 47 items
        dealt = every.T.ravel()  # back in the epoch's order
        assert sorted(dealt[:47].tolist()) == list(range(47))
        assert dealt[47] == dealt[0]  # the padding repeats the order's start
        orders.append(dealt[:47].tolist())
    assert orders[0] != orders[1] != orders[2]  # set_epoch draws a new order


def test_parameters_unused_in_some_processes(tmp_path):
    out = str(tmp_path / "u.npz")
    _ok(_run(2, "unused", out))
    got = np.load(out)
    np.testing.assert_allclose(got["a"], [[1.5, 1.5]])  # d(sum)/dW = x, times (1 + 2) / 2
    np.testing.assert_allclose(got["b"], [[0.5, 0.5]])  # process 1's 1, process 0's 0
    assert bool(got["c_is_none"])


def test_a_rank_that_raises_ends_every_rank(tmp_path):
    r = _run(2, "raise", str(tmp_path / "x.npz"))  # rank 0 waits in all_reduce meanwhile
    assert r.returncode != 0
    text = r.stdout + r.stderr
    assert "[rank 1 of 2]" in text and "ValueError: rank 1 fails on purpose" in text


def test_mismatched_models_raise_in_every_rank(tmp_path):
    out = str(tmp_path / "m.npz")
    r = _run(2, "mismatch", out)
    _ok(r)
    assert int(np.load(out)["raised"]) == 1
    for k in range(2):
        assert f"rank {k}: DistributedDataParallel: the processes' models differ" in r.stdout
    assert "(4, 3)" in r.stdout and "(5, 3)" in r.stdout


# ---------------------------------------------------------------- one process, no MPI
def test_ddp_without_init_says_what_to_call():
    with pytest.raises(RuntimeError, match=r"distributed\.init\(\) first"):
        dist.DistributedDataParallel(nn.Linear(2, 1, rng=0))
    with pytest.raises(RuntimeError, match=r"all_reduce: call tinygrad_bp\.distributed\.init"):
        dist.all_reduce(np.zeros(2))
    with pytest.raises(TypeError, match="expected an nn.Module"):
        dist.DistributedDataParallel(lambda x: x)


def test_missing_mpi4py_is_one_line_naming_the_extra(monkeypatch):
    from tinygrad_bp.distributed import comm

    monkeypatch.setitem(comm._state, "MPI", None)
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # import mpi4py -> ImportError
    with pytest.raises(ImportError) as info:
        comm._import_mpi()
    msg = str(info.value)
    assert "\n" not in msg and "pip install 'tinygrad-bp[mpi]'" in msg
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_importing_distributed_does_not_import_mpi4py():
    code = "import sys, tinygrad_bp.distributed; print('mpi4py' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, PYTHONPATH=ROOT))  # fmt: skip
    assert r.stdout.strip() == "False", r.stderr


def test_sampler_matches_pytorch_padding_and_sharding():
    torch = pytest.importorskip("torch")
    from torch.utils.data.distributed import DistributedSampler as TorchSampler

    for n_items in (1, 5, 7, 12):
        for replicas in (1, 2, 3, 5, 8):
            for drop_last in (False, True):
                for rank in range(replicas):
                    ours = DistributedSampler(
                        range(n_items), replicas, rank, shuffle=False, drop_last=drop_last
                    )
                    theirs = TorchSampler(
                        range(n_items), replicas, rank, shuffle=False, drop_last=drop_last
                    )
                    assert list(ours) == list(theirs), (n_items, replicas, drop_last, rank)
                    assert len(ours) == len(theirs)
    del torch


def test_sampler_shards_are_disjoint_and_cover_each_epoch():
    ds = tg.data.TensorDataset(np.arange(60.0))
    for replicas in (2, 3, 4):
        seen = []
        for epoch in range(3):
            shards = []
            for r in range(replicas):
                s = DistributedSampler(ds, num_replicas=replicas, rank=r, seed=5)
                s.set_epoch(epoch)
                shards.append(list(s))
            flat = [i for sh in shards for i in sh]
            assert sorted(flat) == list(range(60))  # disjoint, and all of it
            seen.append(flat)
        assert seen[0] != seen[1]
        # the same seed and epoch: the same shards
        s = DistributedSampler(ds, num_replicas=replicas, rank=0, seed=5)
        s.set_epoch(2)
        assert list(s) == seen[2][: len(s)]


def test_dataloader_takes_the_sampler():
    ds = tg.data.TensorDataset(np.arange(10.0), np.arange(10))
    s = DistributedSampler(ds, num_replicas=2, rank=1, shuffle=False)
    loader = tg.data.DataLoader(ds, batch_size=2, sampler=s)
    assert len(loader) == 3
    assert [yb.tolist() for _, yb in loader] == [[1, 3], [5, 7], [9]]
    with pytest.raises(ValueError, match="sampler and shuffle=True"):
        tg.data.DataLoader(ds, batch_size=2, sampler=s, shuffle=True)


def test_sampler_bad_input():
    with pytest.raises(RuntimeError, match=r"init\(\) first, or pass num_replicas= and rank="):
        DistributedSampler(range(4))
    with pytest.raises(ValueError, match="rank must be below num_replicas=2"):
        DistributedSampler(range(4), num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="num_replicas must be a positive int"):
        DistributedSampler(range(4), num_replicas=0, rank=0)
    with pytest.raises(ValueError, match="epoch must be a non-negative int"):
        DistributedSampler(range(4), 1, 0).set_epoch(-1)


# ---------------------------------------------------------------- the engine's hook
def test_post_accumulate_grad_hook_sees_the_accumulated_grad_as_torch():
    torch = pytest.importorskip("torch")
    seen, seen_t = [], []
    w = tg.Tensor([1.0, -2.0, 3.0], requires_grad=True)
    wt = torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64, requires_grad=True)
    h = w.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.copy()))
    wt.register_post_accumulate_grad_hook(lambda t: seen_t.append(t.grad.clone().numpy()))
    for _ in range(2):  # the second call sees the sum of both
        (w * w * w).sum().backward()
        (wt * wt * wt).sum().backward()
    assert len(seen) == len(seen_t) == 2
    for a, b in zip(seen, seen_t):
        np.testing.assert_allclose(a, b)
    h.remove()
    (w * w).sum().backward()
    assert len(seen) == 2
    # a hook may change .grad in place: what the optimizer then reads
    w.register_post_accumulate_grad_hook(lambda t: t.grad.__imul__(0.5))
    w.grad = None
    (w * 4.0).sum().backward()
    np.testing.assert_allclose(w.grad, [2.0, 2.0, 2.0])
    with pytest.raises(RuntimeError, match="only a leaf tensor that requires grad"):
        (w * 2).register_post_accumulate_grad_hook(print)
    del torch


# ---------------------------------------------------------------- the ring picture
@pytest.mark.parametrize("n", [2, 3, 4, 5])
def test_ring_picture_schedule_is_an_allreduce(n):
    """Run the schedule the frames draw on numbers: every process ends with the sum, each
    sending 2(n-1) chunks, and each frame's cells say what its arrays hold."""
    from tinygrad_bp.viz.ring import ring_allreduce_states

    rng = np.random.default_rng(n)
    grads = rng.normal(size=(n, n, 3))  # process, chunk, values
    held = grads.copy()
    states = ring_allreduce_states(n)
    assert len(states) == 2 * (n - 1) + 1
    for k, (who, sends, _) in enumerate(states[1:], start=1):
        assert sorted(r for r, _ in sends) == list(range(n))  # each process sends one chunk
        new = held.copy()
        for r, c in sends:
            dst = (r + 1) % n
            new[dst, c] = held[dst, c] + held[r, c] if k < n else held[r, c]
        held = new
        for r in range(n):
            for c in range(n):
                np.testing.assert_allclose(held[r, c], grads[sorted(who[r][c]), c].sum(axis=0))
    np.testing.assert_allclose(held, np.broadcast_to(grads.sum(axis=0), held.shape))


def test_ring_picture_files_and_bad_input(tmp_path):
    res = tg.viz.ring_allreduce_steps(tmp_path, n=3)
    assert len(res.frames) == 5 and os.path.getsize(res.gif) > 0
    for f in res.frames:
        with open(f, "rb") as fh:
            assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="n must be an int from 2 to 8"):
        tg.viz.ring_allreduce_graph(1)
    with pytest.raises(ValueError, match="step must be an int from 0 to 4"):
        tg.viz.ring_allreduce_graph(3, 5)
    with pytest.raises(ValueError, match="ending in .gif"):
        tg.viz.ring_allreduce_steps(tmp_path, n=3, gif=tmp_path / "x.png")


def test_the_chapter_example_trains_over_two_processes():
    script = os.path.join(ROOT, "examples", "distributed_digits.py")
    why = _mpi_unavailable()
    if why is not None:
        pytest.skip(f"MPI cannot start here: {why}")
    env = dict(os.environ, PYTHONPATH=ROOT)
    r = subprocess.run(
        [_mpiexec(), "-n", "2", sys.executable, script, "--epochs", "1", "--batch", "300"],
        capture_output=True, text=True, timeout=TIMEOUT, env=env,
    )  # fmt: skip
    _ok(r)
    assert r.stdout.count("epoch 1: held-out accuracy") == 1  # rank 0 alone prints
    assert "2 processes" in r.stdout
    assert "largest difference between the processes' weights: 0.0" in r.stdout


# ---------------------------------------------------------------- tinygrad-bp train
def _train_cli(n: int, args: list[str], cwd) -> subprocess.CompletedProcess:
    why = _mpi_unavailable()
    if why is not None:
        pytest.skip(f"MPI cannot start here: {why}")
    env = dict(os.environ, PYTHONPATH=ROOT)
    cmd = [_mpiexec(), "-n", str(n), sys.executable, "-m", "tinygrad_bp", "train", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, env=env, cwd=cwd)


def test_train_command_under_mpiexec_equals_one_process(tmp_path):
    import csv

    from tinygrad_bp.commands.train import train, train_model

    r = _train_cli(2, ["--data", "digits", "--model", "mlp", "--steps", "20", "--out", "run"],
                   tmp_path)  # fmt: skip
    _ok(r)
    assert r.stdout.count("trained digits mlp") == 1  # process 0 alone prints
    with open(tmp_path / "run" / "history.csv", newline="") as f:
        got = [float(row["train_loss"]) for row in csv.DictReader(f)]
    ref = train_model("digits", "mlp", steps=20).history["train_loss"]  # float32
    np.testing.assert_allclose(got, ref, rtol=1e-5)
    # the tutorial's network, full batch, float64: 2 processes, the same run
    r = _train_cli(2, ["--epochs", "30", "--out", "iris"], tmp_path)
    _ok(r)
    with open(tmp_path / "iris" / "history.csv", newline="") as f:
        got = [float(row["train_loss"]) for row in csv.DictReader(f)]
    ref = train(epochs=30).history["train_loss"]
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-12)


def test_train_command_failing_on_one_process_ends_all(tmp_path):
    (tmp_path / "taken").write_text("a file of the user's\n")  # --out: not a folder
    r = _train_cli(2, ["--data", "digits", "--model", "cnn", "--out", "taken"], tmp_path)
    assert r.returncode != 0
    assert "tinygrad-bp train: error:" in r.stderr
    assert (tmp_path / "taken").read_text() == "a file of the user's\n"


@pytest.mark.parametrize("n", [2, 3])
def test_train_loop_weights_padded_shares_to_the_whole_batch(n, tmp_path):
    """The command's loop (models.fit with _parallel) on padded names, whose processes'
    shares hold different numbers of targets: float64, the same losses and parameters as
    one process."""
    out = str(tmp_path / "fit.npz")
    _ok(_run(n, "fit", out))
    got = np.load(out)
    ref = worker.fit_names()
    np.testing.assert_allclose(got["losses"], ref["losses"], rtol=0, atol=1e-12)
    for key, value in ref.items():
        np.testing.assert_allclose(got[key], value, rtol=0, atol=1e-12, err_msg=key)
