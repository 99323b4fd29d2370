"""Weights files under races, faults and bad input: ``Module.save`` / ``load`` /
``load_state_dict`` (issue 14).

Each test here failed on main before tinygrad_bp/serialization.py existed: the fixed
temporary name ``<name>.tmp.npz`` (shared by racing writers, and a user's own file of that
name deleted), assignments made before every entry was checked, object and complex arrays
accepted, and NumPy's own errors (a tokenizer error, a MemoryError, "pickled data") for
bad files.
"""

from __future__ import annotations

import io
import os
import stat
import struct
import subprocess
import sys
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tinygrad_bp import nn

ROOT = Path(__file__).resolve().parents[1]


def _npz(path: Path, entries: dict[str, bytes]) -> Path:
    """An .npz archive with the given raw ``name.npy`` entries."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name + ".npy", data)
    return path


def _npy(arr: np.ndarray, allow_pickle: bool = False) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr, allow_pickle=allow_pickle)
    return buf.getvalue()


def _state(net: nn.Module) -> dict[str, np.ndarray]:
    return {k: v.copy() for k, v in net.state_dict().items()}


# ---------------------------------------------------------------------- writing
def test_save_touches_no_other_file_and_keeps_permissions(tmp_path: Path) -> None:
    own = tmp_path / "m.tmp.npz"  # main deleted a user's file of exactly this name
    own.write_bytes(b"the user's own file")
    target = tmp_path / "m.npz"
    net = nn.mlp([4, 3], rng=0)
    net.save(target)
    assert sorted(os.listdir(tmp_path)) == ["m.npz", "m.tmp.npz"]
    assert own.read_bytes() == b"the user's own file"
    os.chmod(target, 0o640)
    net.save(target)
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o640
    assert sorted(os.listdir(tmp_path)) == ["m.npz", "m.tmp.npz"]


def test_save_into_a_missing_or_file_folder_names_the_users_path(tmp_path: Path) -> None:
    net = nn.mlp([4, 3], rng=0)
    path = tmp_path / "nope" / "m.npz"
    with pytest.raises(FileNotFoundError) as info:
        net.save(path)
    msg = str(info.value)
    assert str(path) in msg and "does not exist" in msg
    assert "tmp" not in msg.replace(str(tmp_path), "") and "[Errno" not in msg
    blocker = tmp_path / "afile"
    blocker.write_text("")
    with pytest.raises(NotADirectoryError, match=r"afile is a file, not a folder"):
        net.save(blocker / "m.npz")
    assert sorted(os.listdir(tmp_path)) == ["afile"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_save_into_an_unwritable_folder_names_the_users_path(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    os.chmod(ro, 0o500)
    try:
        with pytest.raises(PermissionError) as info:
            nn.mlp([4, 3], rng=0).save(ro / "m.npz")
        assert str(ro / "m.npz") in str(info.value) and ".tmp" not in str(info.value)
    finally:
        os.chmod(ro, 0o700)


# ---------------------------------------------------------------------- all or nothing
def test_load_checks_everything_before_assigning(tmp_path: Path) -> None:
    net = nn.mlp([4, 3], rng=0)
    before = _state(net)
    path = _npz(
        tmp_path / "bad.npz",
        {"0.W": _npy(np.ones((4, 3))), "0.b": _npy(np.array(["a", "b", "c"]))},
    )
    with pytest.raises(TypeError, match=r"'0.b' holds text"):
        net.load(path)
    for k, v in net.state_dict().items():  # 0.W was overwritten on main
        np.testing.assert_array_equal(v, before[k])
    with pytest.raises(TypeError, match=r"0.b in the state has dtype <U1 \(text\)"):
        net.load_state_dict({"0.W": np.ones((4, 3)), "0.b": np.array(["a", "b", "c"])})
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def test_object_and_complex_arrays_are_refused(tmp_path: Path) -> None:
    net = nn.mlp([4, 3], rng=0)
    before = _state(net)
    nones = np.array([None, None, None], dtype=object)
    with pytest.raises(TypeError, match="Python objects"):
        net.load_state_dict({"0.W": np.ones((4, 3)), "0.b": nones})  # main: NaN, silently
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # main: a ComplexWarning, then the real part
        with pytest.raises(TypeError, match="complex numbers"):
            net.load_state_dict({"0.W": np.ones((4, 3)) * 1j, "0.b": np.zeros(3)})
    pickled = _npz(
        tmp_path / "p.npz", {"0.W": _npy(np.ones((4, 3))), "0.b": _npy(nones, allow_pickle=True)}
    )
    with pytest.raises(TypeError, match=r"p.npz: the entry '0.b' holds Python objects"):
        net.load(pickled)
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


# ---------------------------------------------------------------------- bad files
def _header(shape: tuple[int, ...]) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": "<f8", "fortran_order": False, "shape": shape}
    )
    return buf.getvalue()


def _bad_file(tmp_path: Path, case: str) -> Path:
    path = tmp_path / f"{case}.npz"
    if case == "corrupt_header":
        good = _npy(np.ones(3))
        _npz(path, {"0.W": good[:10] + b"{'descr': <f8, 'fortran_order'" + good[40:]})
    elif case == "npy_named_npz":
        path.write_bytes(_npy(np.ones((4, 3))))
    elif case == "huge_header":
        _npz(path, {"0.W": _header((100_000_000_000,)) + b"\0" * 64})
    elif case == "text":
        path.write_text("0.W = [[1, 2, 3]]\nthis is not a weights file\n")
    elif case == "truncated":
        nn.mlp([4, 10, 3], rng=0).save(path)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif case == "empty":
        path.write_bytes(b"")
    elif case == "forged_size":  # a deflated entry whose zip headers claim 3 GB
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("0.W.npy", _header((375_000_000,)) + b"\0" * 1000)
        data = bytearray(path.read_bytes())
        for sig, off in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
            struct.pack_into("<I", data, data.find(sig) + off, 3_000_000_000)
        path.write_bytes(bytes(data))
    return path


BAD = {
    "corrupt_header": "corrupt .npy header",
    "npy_named_npz": "single .npy array",
    "huge_header": r"claims shape \(100000000000,\) \(1e\+11 elements",
    "text": "is a text file",
    "truncated": "corrupt or truncated",
    "empty": "it is empty",
    "forged_size": "claims 3,000,000,000 bytes but the archive holds",
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_file_is_one_clear_error_naming_it(tmp_path: Path, case: str) -> None:
    path = _bad_file(tmp_path, case)
    net = nn.mlp([4, 3], rng=0)
    with pytest.raises(ValueError, match=BAD[case]) as info:
        net.load(path)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("case", sorted(BAD))
def test_graph_weights_on_a_bad_file_is_one_line(tmp_path: Path, case: str, capsys) -> None:
    from tinygrad_bp.commands import cli

    path = _bad_file(tmp_path, case)
    code = cli.main(["graph", "--weights", str(path), "--out", str(tmp_path / "g.dot")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("tinygrad-bp graph: error: ") and err.count("\n") == 1, err
    assert str(path) in err and "Traceback" not in err
    assert not (tmp_path / "g.dot").exists()


# ---------------------------------------------------------------------- architecture
def test_saved_weights_record_the_architecture(tmp_path: Path) -> None:
    from tinygrad_bp import serialization
    from tinygrad_bp.commands import graph

    net = nn.mlp([3, 7, 2], activation="relu", rng=0)
    path = tmp_path / "r.npz"
    net.save(path, metadata={"task": "regress"})
    _, meta = serialization.read(path)
    assert meta is not None and meta["task"] == "regress"
    arch = meta["architecture"]
    assert arch["sizes"] == [3, 7, 2] and arch["activation"] == "relu"
    with zipfile.ZipFile(path) as zf:  # a plain uint8 array: loadable without pickle
        raw = np.lib.format.read_array(zf.open(serialization.META_KEY + ".npy"))
    assert raw.dtype == np.uint8
    model, info = graph.load_model(path)
    assert [m.activation for m in model] == ["relu", None]
    assert info["architecture_recorded"] is True
    x = np.random.default_rng(0).normal(size=(5, 3))
    np.testing.assert_array_equal(model(x).data, net(x).data)
    with pytest.raises(ValueError, match="saved with hidden activation 'relu', not 'tanh'"):
        graph.load_model(path, activation="tanh")


def test_a_sequential_with_activation_modules_is_rebuilt(tmp_path: Path) -> None:
    from tinygrad_bp.commands import graph

    net = nn.Sequential(nn.Dense(4, 5, rng=0), nn.ReLU(), nn.Dense(5, 2, rng=1))
    net.save(tmp_path / "s.npz")
    model, info = graph.load_model(tmp_path / "s.npz")
    assert [type(m).__name__ for m in model] == ["Dense", "ReLU", "Dense"]
    x = np.random.default_rng(0).normal(size=(3, 4))
    np.testing.assert_array_equal(model(x).data, net(x).data)


# ---------------------------------------------------------------------- races
_WRITER = """
import sys, time
import numpy as np
from tinygrad_bp import nn
path, who, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
net = nn.mlp([20, 50, 30, 4], rng=0)
end, k = time.monotonic() + seconds, 0
while time.monotonic() < end:
    k += 1
    value = who * 1_000_000 + k  # every array of one save holds this one value
    for p in net.parameters():
        p.data[...] = value
    net.save(path)
print(k)
"""

_READER = """
import sys, time
import numpy as np
from tinygrad_bp import nn
path, seconds = sys.argv[1], float(sys.argv[2])
net = nn.mlp([20, 50, 30, 4], rng=0)
end, reads, bad = time.monotonic() + seconds, 0, 0
while time.monotonic() < end:
    try:
        net.load(path)
    except Exception as exc:
        bad += 1
        print("BAD", type(exc).__name__, exc, file=sys.stderr)
        continue
    values = {float(v) for p in net.parameters() for v in np.unique(p.data)}
    if len(values) != 1:  # pieces of two saves
        bad += 1
        print("MIXED", sorted(values)[:4], file=sys.stderr)
    reads += 1
print(reads, bad)
"""


def _soak(tmp_path: Path, seconds: float) -> None:
    path = tmp_path / "w.npz"
    first = nn.mlp([20, 50, 30, 4], rng=0)
    for p in first.parameters():  # one value throughout, as every save of the writers
        p.data[...] = 0.0
    first.save(path)
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    run = [sys.executable, "-c"]
    procs = [
        subprocess.Popen(
            [*run, _WRITER, str(path), str(w), str(seconds)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for w in (1, 2)
    ]
    procs.append(
        subprocess.Popen(
            [*run, _READER, str(path), str(seconds)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
    )
    outs = [p.communicate(timeout=seconds + 60) for p in procs]
    for p, (_, err) in zip(procs, outs):
        assert p.returncode == 0, err
    saves = [int(outs[0][0]), int(outs[1][0])]
    reads, bad = map(int, outs[2][0].split())
    assert min(saves) > 0 and reads > 0
    assert bad == 0, outs[2][1][:2000]
    assert sorted(os.listdir(tmp_path)) == ["w.npz"]  # no temporary file left behind
    net = nn.mlp([20, 50, 30, 4], rng=0)
    net.load(path)  # the final file is one whole save
    assert len({float(v) for p in net.parameters() for v in np.unique(p.data)}) == 1


def test_two_writers_and_a_reader_short(tmp_path: Path) -> None:
    _soak(tmp_path, 2.0)


@pytest.mark.slow
def test_two_writers_and_a_reader_soak_20s(tmp_path: Path) -> None:
    _soak(tmp_path, 20.0)


def test_many_threads_saving_one_file(tmp_path: Path) -> None:
    import threading

    path = tmp_path / "t.npz"
    errors: list[BaseException] = []

    def work(seed: int) -> None:
        try:
            net = nn.mlp([4, 8, 3], rng=seed)
            for _ in range(20):
                net.save(path)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(s,)) for s in range(4)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert time.monotonic() - start < 60 and not errors
    assert sorted(os.listdir(tmp_path)) == ["t.npz"]
    nn.mlp([4, 8, 3], rng=0).load(path)


# ---------------------------------------------------------------------- issue 21
# Each test below failed before issue 21: Module.load inflated every entry before
# comparing names and shapes (a small file cost hundreds of MiB), a FIFO hung load and
# graph --weights forever, a garbled .npy header escaped as tokenize's TokenError,
# load(None) and a ragged list gave Python's and NumPy's own messages, and an optimizer's
# bad state "invalid literal for int()".
def _deflated(path: Path, entries: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name + ".npy", data)
    return path


def _peak_mib(fn) -> float:
    import tracemalloc

    tracemalloc.start()
    try:
        fn()
    except (ValueError, KeyError, TypeError, OSError):
        pass
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


BOMB = 64 * 2**20  # bytes of zeros an entry inflates to (about 64 KiB deflated)


@pytest.mark.parametrize("where", ["extra_entry", "wrong_shape", "metadata"])
def test_graph_weights_inflates_only_the_models_entries(tmp_path: Path, where: str) -> None:
    """``graph --weights`` rebuilds the model from the metadata (or the headers' shapes)
    first, then inflates only its entries, as Module.load does."""
    from tinygrad_bp.commands.graph import load_model

    net = nn.mlp([4, 3], rng=0)
    good = tmp_path / "good.npz"
    net.save(good)
    with zipfile.ZipFile(good) as zf:
        entries = {n[:-4]: zf.read(n) for n in zf.namelist()}
    bomb = _header((BOMB // 8,)) + b"\0" * BOMB
    if where == "extra_entry":
        entries["extra"] = bomb
        want = r"unexpected keys \['extra'\]"
    elif where == "wrong_shape":
        entries["0.W"] = bomb
        want = r"0.W has shape \(8388608,\) in the file"
    else:
        entries["__tinygrad_bp__"] = _header((BOMB,)).replace(b"<f8", b"|u1") + b"\0" * BOMB
        want = "metadata"
    path = _deflated(tmp_path / "bomb.npz", entries)
    with pytest.raises(ValueError, match=want) as info:
        load_model(path, "graph")
    assert str(path) in str(info.value)
    assert _peak_mib(lambda: load_model(path, "graph")) < 8  # before: > 64 MiB
    model, meta = load_model(good, "graph")  # the good file still loads
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, net.state_dict()[k])


@pytest.mark.parametrize("where", ["extra_entry", "wrong_shape", "padded_entry", "metadata"])
def test_load_inflates_only_what_the_module_takes(tmp_path: Path, where: str) -> None:
    net = nn.mlp([4, 3], rng=0)
    good = tmp_path / "good.npz"
    net.save(good)
    with zipfile.ZipFile(good) as zf:
        entries = {n[:-4]: zf.read(n) for n in zf.namelist()}
    bomb = _header((BOMB // 8,)) + b"\0" * BOMB
    if where == "extra_entry":  # a name the module does not have
        entries["extra"] = bomb
        want = (KeyError, r"unexpected keys \['extra'\]")
    elif where == "wrong_shape":  # the module's name, another shape
        entries["0.W"] = bomb
        want = (ValueError, r"0.W.*\(8388608,\)")
    elif where == "padded_entry":  # the module's name and shape, then 64 MiB more
        entries["0.W"] = _npy(np.ones((4, 3))) + b"\0" * BOMB
        want = (ValueError, "holds 67,108,960 bytes of data")
    else:  # the metadata entry
        entries["__tinygrad_bp__"] = _header((BOMB,)).replace(b"<f8", b"|u1") + b"\0" * BOMB
        want = None
    path = _deflated(tmp_path / "bomb.npz", entries)
    assert path.stat().st_size < 200 * 2**10
    before = _state(net)
    if want is not None:
        with pytest.raises(want[0], match=want[1]) as info:
            net.load(path)
        assert str(path) in str(info.value)
    assert _peak_mib(lambda: net.load(path)) < 8  # before: > 64 MiB for each of these
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def test_load_states_its_bound() -> None:
    from tinygrad_bp import serialization

    doc = serialization.__doc__ + serialization.load_module.__doc__
    assert "header" in doc and "inflate" in doc and "bound" in doc


def _hangs(fn, fifo: Path, seconds: float = 10.0):
    """Run ``fn`` in a thread; if it is still blocked after ``seconds``, open the FIFO's
    other end to release it and report the hang."""
    import threading

    result: list = []

    def run():
        try:
            result.append(("ok", fn()))
        except BaseException as exc:  # noqa: BLE001 - reported below
            result.append(("raised", exc))

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(seconds)
    if t.is_alive():
        with open(fifo, "wb"):
            pass
        t.join(5)
        raise AssertionError(f"blocked on the FIFO {fifo} for {seconds} s")
    return result[0]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_load_and_graph_refuse_a_fifo(tmp_path: Path, capsys) -> None:
    from tinygrad_bp.commands import cli

    fifo = tmp_path / "w.npz"
    os.mkfifo(fifo)
    link = tmp_path / "link.npz"
    link.symlink_to(fifo)
    net = nn.mlp([4, 3], rng=0)
    for path in (fifo, link):
        kind, exc = _hangs(lambda p=path: net.load(p), fifo)
        assert kind == "raised" and isinstance(exc, OSError), exc
        assert str(path) in str(exc) and "not a regular file" in str(exc)
        kind, code = _hangs(
            lambda p=path: cli.main(["graph", "--weights", str(p), "--out",
                                     str(tmp_path / "g.dot")]), fifo)  # fmt: skip
        err = capsys.readouterr().err
        assert (kind, code) == ("ok", 2) and "not a regular file" in err, err
        assert err.count("\n") == 1


def test_a_garbled_npy_header_is_one_value_error(tmp_path: Path) -> None:
    net = nn.mlp([4, 3], rng=0)
    head = b"{'descr': '<f8', 'fortran_order': False, 'shape': "
    for text in (head + b"(4, 3 }", head + b"((((4, 3), }", head + b"(4, 3), 'x': '''}"):
        hdr = text.ljust(117) + b"\n"
        npy = b"\x93NUMPY\x01\x00" + len(hdr).to_bytes(2, "little") + hdr + b"\0" * 96
        path = _npz(tmp_path / "g.npz", {"0.W": npy, "0.b": _npy(np.zeros(3))})
        with pytest.raises(ValueError, match=r"g.npz: the entry '0.W' has a corrupt .npy header"):
            net.load(path)


def test_load_of_a_non_path_names_what_came() -> None:
    net = nn.mlp([4, 3], rng=0)
    for bad in (None, 3, ["m.npz"]):
        with pytest.raises(TypeError, match=r"^load: expected a path to a weights file .*, got"):
            net.load(bad)


def test_a_ragged_list_in_load_state_dict_names_the_key() -> None:
    net = nn.mlp([4, 3], rng=0)
    state = {"0.W": [[1.0, 2.0, 3.0]] * 3 + [[1.0]], "0.b": [0.0, 0.0, 0.0]}
    with pytest.raises(ValueError, match=r"^load_state_dict: 0.W .*not an array of numbers"):
        net.load_state_dict(state)
    with pytest.raises(TypeError, match=r"^load_state_dict: 0.b .*text"):
        net.load_state_dict({"0.W": np.ones((4, 3)), "0.b": ["a", "b", "c"]})


def _adam_state():
    from tinygrad_bp import optim
    from tinygrad_bp.tensor import Tensor

    net = nn.mlp([3, 2], rng=0)
    opt = optim.Adam(net.parameters(), lr=0.1)
    net(Tensor(np.ones((2, 3)))).sum().backward()
    opt.step()
    return opt, opt.state_dict()


OPT_BAD = {
    "step text": (lambda d: d["state"][0].update(step="abc"), "step"),
    "step None": (lambda d: d["state"][0].update(step=None), "step"),
    "step 1.5": (lambda d: d["state"][0].update(step=1.5), "step"),
    "step -3": (lambda d: d["state"][0].update(step=-3), "step"),
    "ragged exp_avg": (lambda d: d["state"][0].update(exp_avg=[[1, 2], [3]]), "exp_avg"),
    "text exp_avg": (lambda d: d["state"][0].update(exp_avg=np.array([["a"] * 2] * 3)), "exp_avg"),
    "param_groups 5": (lambda d: d.update(param_groups=5), "param_groups"),
    "a group 5": (lambda d: d.update(param_groups=[5]), "param group 0"),
    "no params": (lambda d: d["param_groups"][0].pop("params"), "params"),
    "params 7": (lambda d: d["param_groups"][0].update(params=7), "params"),
    "params of lists": (lambda d: d["param_groups"][0].update(params=[[1], [2]]), "params"),
    "state a list": (lambda d: d.update(state=[1]), "'state'"),
}


@pytest.mark.parametrize("case", sorted(OPT_BAD))
def test_bad_optimizer_state_is_one_error_naming_the_key(case: str) -> None:
    import copy

    opt, saved = _adam_state()
    before = copy.deepcopy(opt.state_dict())
    change, key = OPT_BAD[case]
    bad = copy.deepcopy(saved)
    change(bad)
    with pytest.raises((ValueError, TypeError)) as info:
        opt.load_state_dict(bad)
    msg = str(info.value)
    assert msg.startswith("Adam.load_state_dict") and key in msg, msg
    after = opt.state_dict()  # nothing was changed
    assert after["param_groups"] == before["param_groups"]
    for k, st in before["state"].items():
        for name, v in st.items():
            np.testing.assert_array_equal(after["state"][k][name], v)
