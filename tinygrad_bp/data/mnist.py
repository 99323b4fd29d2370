"""MNIST and Fashion-MNIST from the IDX files the user has on disk (nothing downloaded).

The IDX format (LeCun et al.): a 4-byte magic number, ``0x00 0x00``, a type byte
(``0x08`` unsigned byte, ``0x09`` signed byte, ``0x0B`` int16, ``0x0C`` int32, ``0x0D``
float32, ``0x0E`` float64) and the number of dimensions; then each dimension as a
big-endian uint32; then the values, big-endian, in C order.  Images files are
``0x00000803`` (unsigned bytes, 3 dimensions), label files ``0x00000801``.
"""

from __future__ import annotations

import gzip
import os
import zlib

import numpy as np

__all__ = ["read_idx", "load_mnist"]

_IDX_TYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801
_PREFIX = {"train": "train", "test": "t10k"}


def _read(path: str) -> bytes:
    if not os.path.isfile(path):
        raise FileNotFoundError(f"read_idx: no such file: {path}")
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":  # gzip's magic, whatever the file is called
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise ValueError(f"{path}: a damaged or truncated gzip file ({exc})") from None
    return raw


def _parse(raw: bytes, path: str) -> tuple[int, np.ndarray]:
    if len(raw) < 4:
        raise ValueError(f"{path}: truncated: {len(raw)} bytes, not even an IDX header")
    magic = int.from_bytes(raw[:4], "big")
    type_code, ndim = raw[2], raw[3]
    if raw[:2] != b"\x00\x00" or type_code not in _IDX_TYPES or ndim == 0:
        raise ValueError(
            f"{path}: not an IDX file: magic number 0x{magic:08X} (an IDX file starts with "
            f"0x0000, a type byte in {sorted(hex(t) for t in _IDX_TYPES)} and the number of "
            f"dimensions)"
        )
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(
            f"{path}: truncated: the header needs {header} bytes for {ndim} dimensions, "
            f"the file has {len(raw)}"
        )
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = _IDX_TYPES[type_code]
    need = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    have = len(raw) - header
    if have != need:
        what = "truncated" if have < need else "too long"
        raise ValueError(
            f"{path}: {what}: dimensions {dims} of {dtype.name} need {need} bytes of data "
            f"after the header, the file has {have}"
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims)
    return magic, data.astype(dtype.newbyteorder("="))  # native byte order, own copy


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read one IDX file (plain or gzip-compressed) into an array of its stored dtype and
    dimensions.  Raises ``FileNotFoundError``, or ``ValueError`` naming the file for a
    wrong magic number or a data size that does not match the header."""
    path = os.fspath(path)
    return _parse(_read(path), path)[1]


def _find(folder: str, stem: str) -> str:
    # the usual names (yann.lecun.com and the Fashion-MNIST repository), and the
    # dotted ones some mirrors use (train-images.idx3-ubyte)
    dotted = stem.replace("-idx", ".idx")
    candidates = [stem, stem + ".gz", dotted, dotted + ".gz"]
    for name in candidates:
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(
        f"load_mnist: no {stem}[.gz] in {folder} (looked for {', '.join(candidates)})"
    )


def load_mnist(
    folder: str | os.PathLike[str], kind: str = "train"
) -> tuple[np.ndarray, np.ndarray]:
    """Read MNIST (or Fashion-MNIST, or any data set in the same files) from ``folder``.

    Parameters
    ----------
    folder : path
        The folder holding ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
        ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``, each plain or gzipped
        (``.gz``) as downloaded.
    kind : "train" or "test"
        ``"train"`` reads the ``train-*`` files (60,000 images for MNIST), ``"test"`` the
        ``t10k-*`` files (10,000).

    Returns
    -------
    images : uint8 array (N, rows, cols)
        The pixels as stored, 0..255 (0 is the background).  For a network:
        ``images.reshape(N, -1).astype(np.float32) / 255`` (or ``[:, None]`` for NCHW).
    labels : int64 array (N,)

    Raises ``FileNotFoundError`` naming what was looked for, and ``ValueError`` naming the
    file for a wrong magic number, truncated data, or image and label counts that differ.

    Examples
    --------
    >>> import gzip, os, tempfile
    >>> import numpy as np
    >>> from tinygrad_bp.data import load_mnist
    >>> d = tempfile.mkdtemp()
    >>> imgs = np.arange(2 * 28 * 28, dtype=np.uint64).reshape(2, 28, 28) % 256
    >>> header = (0x803).to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in imgs.shape)
    >>> with gzip.open(os.path.join(d, "t10k-images-idx3-ubyte.gz"), "wb") as f:
    ...     _ = f.write(header + imgs.astype(np.uint8).tobytes())
    >>> with open(os.path.join(d, "t10k-labels-idx1-ubyte"), "wb") as f:
    ...     _ = f.write((0x801).to_bytes(4, "big") + (2).to_bytes(4, "big") + bytes([7, 2]))
    >>> X, y = load_mnist(d, kind="test")
    >>> X.shape, X.dtype, y.tolist()
    ((2, 28, 28), dtype('uint8'), [7, 2])
    """
    folder = os.fspath(folder)
    if kind not in _PREFIX:
        raise ValueError(f"load_mnist: kind must be 'train' or 'test', got {kind!r}")
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"load_mnist: no such folder: {folder}")
    prefix = _PREFIX[kind]
    img_path = _find(folder, f"{prefix}-images-idx3-ubyte")
    lab_path = _find(folder, f"{prefix}-labels-idx1-ubyte")
    out = []
    for path, magic, what in (
        (img_path, IMAGES_MAGIC, "images (unsigned bytes, 3 dimensions)"),
        (lab_path, LABELS_MAGIC, "labels (unsigned bytes, 1 dimension)"),
    ):
        found, data = _parse(_read(path), path)
        if found != magic:
            raise ValueError(
                f"{path}: magic number 0x{found:08X}, expected 0x{magic:08X} for {what}"
            )
        out.append(data)
    images, labels = out
    if len(images) != len(labels):
        raise ValueError(
            f"load_mnist: {img_path} holds {len(images)} images but {lab_path} holds "
            f"{len(labels)} labels"
        )
    return images, labels.astype(np.int64)
