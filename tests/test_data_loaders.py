"""tinygrad_bp.data: the shipped digits and names, MNIST's IDX files, TensorDataset and
DataLoader (against torch.utils.data where it has the same thing), splits."""

from __future__ import annotations

import gzip
import hashlib
import os
from collections import Counter

import numpy as np
import pytest

import tinygrad_bp as tg
from tinygrad_bp import data
from tinygrad_bp.data import (
    DataLoader,
    TensorDataset,
    load_digits,
    load_mnist,
    load_names,
    read_idx,
    train_test_split,
)

SHARED = "/work/shared/data"

# ---------------------------------------------------------------------- shipped sets


def test_digits_shape_dtype_range_and_classes():
    X, y = load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float64
    assert y.shape == (1797,) and y.dtype == np.int64
    assert X.min() == 0 and X.max() == 16 and (X == np.round(X)).all()
    counts = np.bincount(y)
    assert len(counts) == 10 and counts.min() >= 170  # about 180 of each digit
    X2, _ = load_digits()
    X2[0, 0] = 99  # each call gets its own arrays
    assert load_digits()[0][0, 0] == X[0, 0]


def test_digits_equal_the_shared_file():
    path = os.path.join(SHARED, "digits.csv.gz")
    if not os.path.exists(path):
        pytest.skip("the shared data folder is not on this machine")
    table = np.loadtxt(gzip.open(path, "rt"), delimiter=",")
    X, y = load_digits()
    np.testing.assert_array_equal(X, table[:, :64])
    np.testing.assert_array_equal(y, table[:, 64])


def test_names_count_distinct_and_alphabet():
    names = load_names()
    assert len(names) == 32033 and len(set(names)) == 29494
    assert set("".join(names)) == set("abcdefghijklmnopqrstuvwxyz")
    assert max(map(len, names)) == 15 and min(map(len, names)) >= 2
    assert names[:3] == ["emma", "olivia", "ava"] and names[-1] == "zzyzx"
    digest = hashlib.sha256("\n".join(names).encode()).hexdigest()
    path = os.path.join(SHARED, "names.txt")
    if os.path.exists(path):
        with open(path, "rb") as f:
            assert hashlib.sha256(f.read()).hexdigest() == digest
    names.append("x")
    assert len(load_names()) == 32033


def test_shipped_files_are_package_data():
    from importlib import resources

    root = resources.files("tinygrad_bp").joinpath("data_files")
    for name in ("iris.csv", "digits.csv.gz", "names.txt"):
        assert root.joinpath(name).is_file()
    with open(os.path.join(os.path.dirname(__file__), "..", "pyproject.toml")) as f:
        text = f.read()
    assert '"data_files/*.csv.gz"' in text and '"data_files/*.txt"' in text


def test_old_names_still_import():
    from tinygrad_bp.data import (  # noqa: F401
        IRIS_CLASSES,
        batches,
        load_iris,
        make_regression,
        read_csv_dataset,
        read_csv_regression,
        standardize,
    )

    assert tg.data.load_digits is load_digits


# ---------------------------------------------------------------------- IDX / MNIST


def _idx(arr: np.ndarray, type_code: int = 0x08) -> bytes:
    dt = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    header = bytes([0, 0, type_code, arr.ndim]) + b"".join(
        int(n).to_bytes(4, "big") for n in arr.shape
    )
    return header + arr.astype(dt[type_code]).tobytes()


def _write(path, payload: bytes, gz: bool = False):
    if gz:
        payload = gzip.compress(payload)
    with open(path, "wb") as f:
        f.write(payload)


def _mnist_folder(tmp_path, n=5, kind="train", gz=False, rows=28, cols=28):
    prefix = "train" if kind == "train" else "t10k"
    rng = np.random.default_rng(n)
    images = rng.integers(0, 256, size=(n, rows, cols), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    sfx = ".gz" if gz else ""
    _write(tmp_path / f"{prefix}-images-idx3-ubyte{sfx}", _idx(images), gz)
    _write(tmp_path / f"{prefix}-labels-idx1-ubyte{sfx}", _idx(labels), gz)
    return images, labels


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("kind", ["train", "test"])
def test_load_mnist_reads_what_was_written(tmp_path, kind, gz):
    images, labels = _mnist_folder(tmp_path, n=7, kind=kind, gz=gz)
    X, y = load_mnist(tmp_path, kind=kind)
    assert X.dtype == np.uint8 and X.shape == (7, 28, 28)
    assert y.dtype == np.int64
    np.testing.assert_array_equal(X, images)
    np.testing.assert_array_equal(y, labels)
    other = "test" if kind == "train" else "train"
    with pytest.raises(FileNotFoundError, match="no (train|t10k)-images-idx3-ubyte"):
        load_mnist(tmp_path, kind=other)


def test_load_mnist_finds_dotted_names_and_any_image_size(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(3, 5, 4), dtype=np.uint8)
    _write(tmp_path / "train-images.idx3-ubyte", _idx(images))
    _write(tmp_path / "train-labels.idx1-ubyte", _idx(np.array([1, 2, 3], np.uint8)))
    X, y = load_mnist(str(tmp_path))
    np.testing.assert_array_equal(X, images)
    assert y.tolist() == [1, 2, 3]


@pytest.mark.parametrize("code", [0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E])
def test_read_idx_every_type(tmp_path, code):
    rng = np.random.default_rng(code)
    arr = rng.integers(-100, 100, size=(2, 3, 4)) if code != 0x08 else rng.integers(0, 255, 24)
    if code in (0x0D, 0x0E):
        arr = rng.normal(size=(3, 2))
    _write(tmp_path / "a.idx", _idx(np.asarray(arr), code))
    out = read_idx(tmp_path / "a.idx")
    assert out.dtype.isnative
    np.testing.assert_array_equal(out, np.asarray(arr).astype(out.dtype))


def test_mnist_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such folder"):
        load_mnist(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="kind must be 'train' or 'test'"):
        load_mnist(tmp_path, kind="val")
    images, labels = _mnist_folder(tmp_path, n=4)
    img = tmp_path / "train-images-idx3-ubyte"
    lab = tmp_path / "train-labels-idx1-ubyte"
    # labels where the images should be: the magic number says so
    _write(img, _idx(labels))
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte: magic number 0x00000801"):
        load_mnist(tmp_path)
    # not an IDX file at all
    _write(img, b"\x89PNG\r\n\x1a\n" + bytes(100))
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte: not an IDX file"):
        load_mnist(tmp_path)
    # truncated data, and a file cut inside its header
    full = _idx(images)
    _write(img, full[:-10])
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte: truncated: .*need 3136"):
        load_mnist(tmp_path)
    _write(img, full[:9])
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte: truncated: the header"):
        load_mnist(tmp_path)
    _write(img, full + b"\x00")
    with pytest.raises(ValueError, match="too long"):
        load_mnist(tmp_path)
    # a truncated gzip file
    _write(img, gzip.compress(full)[:-20])
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte: a damaged or truncated gzip"):
        load_mnist(tmp_path)
    # counts that differ
    _write(img, full)
    _write(lab, _idx(labels[:3]))
    with pytest.raises(ValueError, match="holds 4 images but .*labels-idx1-ubyte holds 3"):
        load_mnist(tmp_path)
    os.remove(lab)
    with pytest.raises(FileNotFoundError, match="no train-labels-idx1-ubyte"):
        load_mnist(tmp_path)
    with pytest.raises(FileNotFoundError, match="no such file"):
        read_idx(tmp_path / "missing")


# ---------------------------------------------------------------------- datasets, loader


def test_tensor_dataset_matches_torch():
    torch = pytest.importorskip("torch")
    X = np.arange(24.0).reshape(6, 4)
    y = np.arange(6) % 3
    ds = TensorDataset(X, y)
    tds = torch.utils.data.TensorDataset(torch.from_numpy(X), torch.from_numpy(y))
    assert len(ds) == len(tds) == 6
    for i in (0, 3, -1):
        for ours, theirs in zip(ds[i], tds[i]):
            np.testing.assert_array_equal(ours, theirs.numpy())
    np.testing.assert_array_equal(ds[1:3][0], X[1:3])
    t = tg.Tensor(X)
    assert TensorDataset(t).arrays[0] is t.data  # no copy
    with pytest.raises(ValueError, match=r"same first dimension, got shapes \(6, 4\), \(5,\)"):
        TensorDataset(X, y[:5])
    with pytest.raises(ValueError, match="at least one array"):
        TensorDataset()
    with pytest.raises(ValueError, match="0-d"):
        TensorDataset(np.float64(3.0))
    with pytest.raises(TypeError, match="expected numbers"):
        TensorDataset(np.array(["a", "b"]))


@pytest.mark.parametrize(
    "n,bs,drop_last",
    [(10, 3, False), (10, 3, True), (9, 3, True), (2, 5, False), (2, 5, True), (0, 4, False)],
)
def test_loader_len_and_batches_match_torch(n, bs, drop_last):
    torch = pytest.importorskip("torch")
    X = np.arange(n * 2, dtype=np.float32).reshape(n, 2)
    y = np.arange(n, dtype=np.int64)
    loader = DataLoader(TensorDataset(X, y), batch_size=bs, drop_last=drop_last)
    tloader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.from_numpy(X), torch.from_numpy(y)),
        batch_size=bs,
        drop_last=drop_last,
    )
    assert len(loader) == len(tloader)
    ours, theirs = list(loader), list(tloader)
    assert len(ours) == len(theirs) == len(loader)
    for (xb, yb), (txb, tyb) in zip(ours, theirs):
        assert isinstance(xb, tg.Tensor) and xb.dtype == np.float32 and not xb.requires_grad
        assert isinstance(yb, np.ndarray) and yb.dtype == np.int64
        np.testing.assert_array_equal(xb.data, txb.numpy())
        np.testing.assert_array_equal(yb, tyb.numpy())


def test_seeded_shuffle_is_reproducible_differs_per_epoch_and_covers_everything():
    X = np.arange(50.0)[:, None]
    y = np.arange(50)

    def epochs(loader, k=3):
        return [np.concatenate([yb for _, yb in loader]) for _ in range(k)]

    a = epochs(DataLoader(TensorDataset(X, y), batch_size=8, shuffle=True, seed=7))
    b = epochs(DataLoader(TensorDataset(X, y), batch_size=8, shuffle=True, seed=7))
    c = epochs(DataLoader(TensorDataset(X, y), batch_size=8, shuffle=True, seed=8))
    for ea, eb in zip(a, b):
        np.testing.assert_array_equal(ea, eb)
    assert not np.array_equal(a[0], a[1]) and not np.array_equal(a[1], a[2])
    assert not np.array_equal(a[0], c[0])
    for e in a:
        assert sorted(e.tolist()) == list(range(50))
    # the features travel with their labels
    for xb, yb in DataLoader(TensorDataset(X, y), batch_size=8, shuffle=True, seed=1):
        np.testing.assert_array_equal(xb.data[:, 0], yb)
    unseeded = epochs(DataLoader(TensorDataset(X, y), batch_size=50, shuffle=True), 1)[0]
    assert sorted(unseeded.tolist()) == list(range(50))
    ordered = epochs(DataLoader(TensorDataset(X, y), batch_size=7, seed=3), 1)[0]
    assert ordered.tolist() == list(range(50))


def test_the_order_is_drawn_at_iter_not_at_first_next():
    ds = TensorDataset(np.arange(20))
    a = DataLoader(ds, batch_size=20, shuffle=True, seed=0)
    b = DataLoader(ds, batch_size=20, shuffle=True, seed=0)
    it1, it2 = iter(a), iter(a)
    second, first = next(it2)[0], next(it1)[0]
    first_b, second_b = next(iter(b))[0], next(iter(b))[0]
    np.testing.assert_array_equal(first, first_b)
    np.testing.assert_array_equal(second, second_b)


def test_loader_over_a_general_dataset():
    class Squares:
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return np.array([i, i * i], dtype=np.float64), i % 2, float(i)

    batches = list(DataLoader(Squares(), batch_size=2))
    assert len(batches) == 3
    xb, yb, fb = batches[0]
    assert isinstance(xb, tg.Tensor) and xb.shape == (2, 2)
    assert isinstance(yb, np.ndarray) and yb.dtype.kind == "i" and yb.tolist() == [0, 1]
    assert isinstance(fb, tg.Tensor) and fb.dtype == tg.get_default_dtype()
    assert batches[-1][0].shape == (1, 2)

    class Single:
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return tg.Tensor([float(i)])

    (b,) = list(DataLoader(Single(), batch_size=3))
    assert isinstance(b, tg.Tensor) and b.shape == (3, 1)


def test_loader_trains_a_model_end_to_end():
    X, y = load_digits()
    X_tr, y_tr, X_te, y_te = train_test_split(X / 16.0, y, test_size=0.2, seed=0)
    model = tg.nn.mlp([64, 32, 10], activation="relu", rng=0)
    opt = tg.optim.Adam(model.parameters(), lr=0.01)
    loader = DataLoader(TensorDataset(X_tr, y_tr), batch_size=64, shuffle=True, seed=0)
    for _ in range(3):
        for xb, yb in loader:
            opt.zero_grad()
            tg.functional.cross_entropy(model(xb), yb).backward()
            opt.step()
    with tg.no_grad():
        acc = (model(tg.Tensor(X_te)).data.argmax(axis=1) == y_te).mean()
    assert acc > 0.9


@pytest.mark.parametrize(
    "kwargs,err,msg",
    [
        (dict(batch_size=0), ValueError, "batch_size must be a positive int, got 0"),
        (dict(batch_size=-2), ValueError, "batch_size must be a positive int, got -2"),
        (dict(batch_size=2.0), TypeError, "batch_size must be a positive int, got 2.0"),
        (dict(batch_size=None), TypeError, "batch_size must be a positive int, got None"),
        (dict(batch_size=True), TypeError, "batch_size must be a positive int"),
        (dict(shuffle=1), TypeError, "shuffle must be True or False"),
        (dict(drop_last="no"), TypeError, "drop_last must be True or False"),
        (dict(seed=-1), ValueError, "seed must be a non-negative int"),
        (dict(seed=1.5), ValueError, "seed must be a non-negative int"),
    ],
)
def test_loader_bad_arguments(kwargs, err, msg):
    with pytest.raises(err, match=f"DataLoader: {msg}"):
        DataLoader(TensorDataset(np.zeros(3)), **kwargs)


def test_loader_refuses_what_is_not_a_dataset():
    with pytest.raises(TypeError, match="__len__ and __getitem__"):
        DataLoader(iter([1, 2]), batch_size=1)


# ---------------------------------------------------------------------- splits


def test_train_test_split_stratified_by_default_and_same_as_before():
    X, y = load_digits()
    X_tr, y_tr, X_te, y_te = train_test_split(X, y, test_size=0.2, seed=3)
    assert len(X_tr) + len(X_te) == 1797
    for c, count in Counter(y.tolist()).items():
        assert (y_te == c).sum() == round(count * 0.2)
    # the positional call of train.py and the examples, with the old meaning
    old = train_test_split(X, y, 0.2, seed=3)
    for a, b in zip(old, (X_tr, y_tr, X_te, y_te)):
        np.testing.assert_array_equal(a, b)
    again = train_test_split(X, y, seed=3)  # test_size defaults to 0.2
    np.testing.assert_array_equal(again[3], y_te)
    # rows stay whole: every test row is a row of X with its own label
    rows = {tuple(r): int(lab) for r, lab in zip(X, y)}
    assert all(rows[tuple(r)] == lab for r, lab in zip(X_te[:50], y_te[:50]))


def test_train_test_split_without_stratify_and_for_regression():
    y = np.array([0] * 90 + [1] * 10)
    X = np.arange(100.0)[:, None]
    plain = train_test_split(X, y, test_size=0.5, seed=0, stratify=False)
    strat = train_test_split(X, y, test_size=0.5, seed=0)
    assert (strat[3] == 1).sum() == 5
    assert len(plain[3]) == 50 and not np.array_equal(
        np.sort(plain[2][:, 0]), np.sort(strat[2][:, 0])
    )
    Xr, Yr = data.make_regression(40)
    parts = train_test_split(Xr, Yr, test_size=0.25, seed=1)
    assert parts[2].shape == (10, 4) and parts[3].shape == (10, 3)


def test_train_test_split_bad_input():
    X, y = np.zeros((10, 2)), np.zeros(10, dtype=int)
    with pytest.raises(ValueError, match=r"test_size must be in \[0, 1\), got 1.0"):
        train_test_split(X, y, test_size=1.0)
    with pytest.raises(ValueError, match="test_size must be in"):
        train_test_split(X, y, test_size=float("nan"))
    with pytest.raises(TypeError, match="test_size must be a number"):
        train_test_split(X, y, test_size="0.2")
    with pytest.raises(TypeError, match="stratify must be True or False"):
        train_test_split(X, y, stratify=y)
    with pytest.raises(ValueError, match="X has 10 rows, y 9"):
        train_test_split(X, y[:9])
