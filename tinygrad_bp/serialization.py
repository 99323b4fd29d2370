"""Weights files: what ``Module.save``, ``Module.load`` and ``Module.load_state_dict`` do.

A weights file is an ordinary NumPy ``.npz`` archive: one ``.npy`` entry per parameter,
named by its dotted name (``0.W``, ``0.b``, ...), plus one entry, :data:`META_KEY`, that
holds a JSON text as a plain ``uint8`` array (never a pickle) recording the file format
and, for a network of ``Dense`` and activation layers, its architecture: the layers, their
sizes and activations, and the task it was trained for when the trainer said so.  That is
enough to rebuild the trained network without being told its shape
(:func:`tinygrad_bp.commands.graph.load_model`, for ``tinygrad-bp graph --weights``).

Writing is atomic: the archive is written to a temporary file of its own (a unique name
from :func:`tempfile.mkstemp`) in the target's folder, flushed and ``fsync``-ed, given the
target's permissions, then renamed over the target with :func:`os.replace`.  So a reader,
or a writer racing another, only ever sees one complete file, and no other file is
touched.

Reading is validated before anything is allocated or assigned.  Only a regular file is
opened (a FIFO or a device is refused at once, never waited on).  The zip directory and
every entry's ``.npy`` header are read first, without inflating any entry's data, and each
claimed size is checked against the bytes actually stored; arrays of Python objects,
strings, complex or other non-real numbers are refused; nothing is ever unpickled.
:meth:`Module.load <tinygrad_bp.nn.Module.load>` then compares names and shapes with the
module and inflates only the entries it takes, so what a file can cost is bounded by the
module's own size, whatever else the file holds (see :func:`load_module`).  Assigning
into a module checks every name, shape and dtype kind first, then assigns all or nothing.
Every problem is one :class:`ValueError`, ``KeyError``, ``TypeError`` or ``OSError``
naming the file (or the key) and what is wrong with it.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import stat
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from .nn import Module

__all__ = [
    "META_KEY",
    "FORMAT",
    "save",
    "save_module",
    "read",
    "load_into",
    "load_module",
    "architecture",
    "WeightsFileError",
]

META_KEY = "__tinygrad_bp__"  # the metadata entry's name inside the archive
FORMAT = "tinygrad_bp weights"
FORMAT_VERSION = 1
# Real numbers only: bool, signed and unsigned integers, floats.  Complex would lose its
# imaginary part, objects need unpickling, strings and the rest are not weights.
_REAL_KINDS = "biuf"
_ACTIVATION_LAYERS = {"ReLU": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh"}


class WeightsFileError(ValueError):
    """A weights file that cannot be read: the message names the file and the problem."""


# ---------------------------------------------------------------------- writing
def _umask() -> int:
    """The process's umask, read without changing it (``os.umask`` would, for a moment,
    for every thread)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o022


def _os_error(exc: OSError, message: str) -> OSError:
    """``exc``'s class with ``message`` alone, so it prints without an ``[Errno N]``."""
    cls = type(exc) if type(exc).__init__ is OSError.__init__ else OSError
    err = cls(message)
    err.errno = exc.errno
    return err


def _check_folder(path: str, what: str) -> str:
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(folder):
        return folder
    probe = folder
    while probe and not os.path.exists(probe):
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    if os.path.exists(probe) and not os.path.isdir(probe):
        raise NotADirectoryError(f"{what}: cannot write {path}: {probe} is a file, not a folder")
    raise FileNotFoundError(f"{what}: cannot write {path}: the folder {folder} does not exist")


def _real_array(name: str, value: Any, what: str, where: str) -> np.ndarray:
    arr = value.data if hasattr(value, "data") and hasattr(value, "requires_grad") else value
    try:
        arr = np.asarray(arr)
    except (ValueError, TypeError, OverflowError) as exc:  # a ragged list, say
        raise ValueError(
            f"{what}: {name} {where} is not an array of numbers ({_first_line(exc)})"
        ) from None
    if arr.dtype.kind not in _REAL_KINDS:
        raise TypeError(
            f"{what}: {name} {where} has dtype {arr.dtype} ({_kind_name(arr.dtype)}); "
            "expected an array of real numbers (float, int or bool)"
        )
    return arr


def _kind_name(dtype: np.dtype) -> str:
    if dtype.hasobject:
        return "Python objects"
    return {
        "c": "complex numbers",
        "U": "text",
        "S": "bytes",
        "V": "raw records",
        "M": "dates",
        "m": "time spans",
    }.get(dtype.kind, "not numbers")


def save(
    state: Mapping[str, Any],
    path: str | os.PathLike[str],
    metadata: Mapping[str, Any] | None = None,
    what: str = "save",
) -> None:
    """Write ``state`` (name → array) and ``metadata`` (JSON-able) to ``path``, atomically.

    The file is complete or absent: a reader never sees half of it, two writers racing
    leave one of their files whole, and no other file is created, changed or removed.
    An existing target keeps its permissions; a new one gets the umask's.
    """
    path = os.fspath(path)
    if not path.endswith(".npz"):
        raise ValueError(f"{what}: expected a path ending in .npz, got {path!r}")
    arrays: dict[str, np.ndarray] = {}
    for name, value in state.items():
        if not isinstance(name, str) or not name or name == META_KEY:
            raise ValueError(f"{what}: invalid parameter name {name!r}")
        arrays[name] = _real_array(name, value, what, "in the state")
    meta = {"format": FORMAT, "version": FORMAT_VERSION, **dict(metadata or {})}
    try:
        text = json.dumps(meta, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{what}: the metadata must be plain JSON data: {exc}") from None
    arrays[META_KEY] = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    folder = _check_folder(path, what)
    if os.path.isdir(path):
        raise IsADirectoryError(f"{what}: cannot write {path}: it is a folder")
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        mode = 0o666 & ~_umask()
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise _os_error(exc, f"{what}: cannot write {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            # zipfile directly, as np.savez does inside, but with no keyword names that
            # clash with parameter names and never a pickle
            with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
                for name, arr in arrays.items():
                    with zf.open(name + ".npy", "w", force_zip64=True) as entry:
                        np.lib.format.write_array(entry, arr, allow_pickle=False)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)  # mkstemp made it private (0600)
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.remove(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise _os_error(exc, f"{what}: cannot write {path}: {exc.strerror or exc}") from None
        raise
    _fsync_folder(folder)


def _fsync_folder(folder: str) -> None:
    """Make the rename itself durable; best effort (not every system can open a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


_RESERVED = ("format", "version", "architecture", "tinygrad_bp_version")


def save_module(
    module: Module, path: str | os.PathLike[str], metadata: Mapping[str, Any] | None = None
) -> None:
    """:meth:`Module.save`: the state dict, the architecture (:func:`architecture`) and
    ``metadata`` (e.g. ``{"task": "classify"}``), written atomically by :func:`save`."""
    from . import __version__

    extra = dict(metadata or {})
    clash = sorted(k for k in extra if k in _RESERVED or not isinstance(k, str))
    if clash:
        raise ValueError(f"save: metadata keys {clash} are reserved or not strings")
    meta = {"tinygrad_bp_version": __version__, "architecture": architecture(module), **extra}
    save(module.state_dict(), path, meta, "save")


# ---------------------------------------------------------------------- reading
def _not_npz(path: str, head: bytes) -> str | None:
    """Why a file that is not a zip archive is not a weights file, in words."""
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return None
    if head.startswith(b"\x93NUMPY"):
        return "it is a single .npy array (np.save), not an .npz archive of named weights"
    if not head:
        return "it is empty"
    try:
        head.decode("utf-8")
        printable = all(c in b"\t\n\r" or 32 <= c < 127 or c >= 128 for c in head)
    except UnicodeDecodeError:
        printable = False
    if printable:
        return "it is a text file, not an .npz archive"
    return "it is not an .npz archive (no zip signature)"


# Deflate cannot shrink data more than about 1032 : 1; a larger claim is a forged size.
_MAX_DEFLATE_RATIO = 1100
# The metadata entry is a short JSON text; a larger one is not ours.
MAX_META_BYTES = 1 << 20


def _path_of(path: Any, what: str) -> str:
    if isinstance(path, (str, os.PathLike)):
        p = os.fspath(path)
        if isinstance(p, str):
            return p
    raise TypeError(
        f"{what}: expected a path to a weights file (str or os.PathLike), got "
        f"{type(path).__name__}"
        + (f" {path!r}" if path is None or isinstance(path, (int, float, bytes)) else "")
    )


def _open_regular(path: str, what: str) -> Any:
    """``path`` opened for reading if it is a regular file (following symlinks), else an
    ``OSError`` naming it.  Opened without blocking, so a FIFO (or a symlink to one) is
    refused at once instead of waiting forever for a writer."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise FileNotFoundError(f"{what}: no such file: {path}") from None
    except IsADirectoryError:
        raise IsADirectoryError(f"{what}: {path} is a folder, not a weights file") from None
    except OSError as exc:
        raise _os_error(exc, f"{what}: cannot read {path}: {exc.strerror or exc}") from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(f"{what}: {path} is a folder, not a weights file")
        if not stat.S_ISREG(st.st_mode):
            kind = "a FIFO (named pipe)" if stat.S_ISFIFO(st.st_mode) else "a device or socket"
            raise OSError(f"{what}: {path} is not a regular file: it is {kind}")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


@dataclass
class _Entry:
    """One ``.npy`` entry of an archive, known from the zip directory and its header
    alone: nothing of its data has been inflated."""

    info: zipfile.ZipInfo
    shape: tuple[int, ...]
    fortran: bool
    dtype: np.dtype

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize


class _Archive:
    """A weights file read in two passes: :meth:`__init__` reads the zip directory and
    each entry's ``.npy`` header (a few hundred bytes inflated per entry) and checks every
    size claim; :meth:`array` then inflates one entry, exactly the bytes its header
    states.  So a caller can compare names and shapes with a module first and inflate
    only the entries that match: a bound of the module's own size, whatever the file
    claims or holds besides."""

    def __init__(self, f: Any, path: str, what: str) -> None:
        self.path, self.what = path, what
        self.size = os.fstat(f.fileno()).st_size
        self.entries: dict[str, _Entry] = {}
        self.meta_entry: _Entry | None = None
        self.zf = zipfile.ZipFile(f)
        for info in self.zf.infolist():
            if info.is_dir():
                continue
            if not info.filename.endswith(".npy"):
                raise WeightsFileError(
                    f"{what}: {path} is not a weights file: it holds {info.filename!r}, "
                    "which is not an .npy array"
                )
            name = info.filename[:-4]
            if name in self.entries or (name == META_KEY and self.meta_entry is not None):
                raise WeightsFileError(f"{what}: {path} holds {name!r} twice")
            try:
                entry = self._header(info)
            except (ValueError, TypeError) as exc:
                cls = TypeError if isinstance(exc, TypeError) else WeightsFileError
                raise cls(f"{what}: {path}: the entry {name!r} {exc}") from None
            if name == META_KEY:
                self.meta_entry = entry
            else:
                self.entries[name] = entry
        if not self.entries:
            raise WeightsFileError(f"{what}: {path} holds no weights")

    def _header(self, info: zipfile.ZipInfo) -> _Entry:
        """The entry's header, its sizes checked against the archive's before anything
        else is read."""
        if info.compress_size > self.size or (
            info.file_size > info.compress_size
            and (
                info.compress_type == zipfile.ZIP_STORED
                or info.file_size > _MAX_DEFLATE_RATIO * info.compress_size + 4096
            )
        ):
            raise ValueError(
                f"claims {info.file_size:,} bytes but the archive holds "
                f"{info.compress_size:,} for it ({self.size:,} in all): corrupt"
            )
        fmt = np.lib.format
        with self.zf.open(info) as f:
            try:
                version = fmt.read_magic(f)
                if version == (1, 0):
                    shape, fortran, dtype = fmt.read_array_header_1_0(f)
                elif version in ((2, 0), (3, 0)):
                    shape, fortran, dtype = fmt.read_array_header_2_0(f)
                else:
                    raise ValueError(f"unknown .npy version {version}")
            except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError):
                raise  # the archive itself: reported as such by the caller
            except Exception as exc:  # NumPy's parser: ValueError, SyntaxError, TokenError
                raise ValueError(f"has a corrupt .npy header ({_first_line(exc)})") from None
            offset = f.tell()
        if dtype.hasobject or dtype.kind not in _REAL_KINDS:
            raise TypeError(
                f"holds {_kind_name(dtype)} (dtype {dtype}); a weights file holds real "
                "numbers only, and pickled data is never loaded"
            )
        entry = _Entry(info, tuple(int(d) for d in shape), bool(fortran), dtype)
        count, need, have = math.prod(entry.shape), entry.nbytes, info.file_size - offset
        if need != have:
            raise ValueError(
                f"claims shape {entry.shape} ({count:.3g} elements, {need:,} bytes) but "
                f"holds {have:,} bytes of data"
            )
        return entry

    def array(self, name: str, entry: _Entry | None = None) -> np.ndarray:
        """Inflate one entry: at most the bytes its header (already checked) states."""
        entry = entry or self.entries[name]
        need = entry.nbytes
        try:
            with self.zf.open(entry.info) as f:
                f.seek(entry.info.file_size - need)  # past the header, read in the first pass
                data = f.read(need)
        except (ValueError, TypeError) as exc:
            raise WeightsFileError(
                f"{self.what}: {self.path}: the entry {name!r} cannot be read ({exc})"
            ) from None
        if len(data) != need:
            raise WeightsFileError(
                f"{self.what}: {self.path}: the entry {name!r} is truncated: "
                f"{len(data):,} of {need:,} bytes"
            )
        arr = np.frombuffer(data, dtype=entry.dtype).copy()
        return arr.reshape(entry.shape, order="F" if entry.fortran else "C")

    def meta(self) -> dict[str, Any] | None:
        e = self.meta_entry
        if e is None:
            return None
        if e.nbytes > MAX_META_BYTES:
            raise WeightsFileError(
                f"{self.what}: {self.path}: the metadata entry {META_KEY!r} claims "
                f"{e.nbytes:,} bytes; metadata is at most {MAX_META_BYTES:,}"
            )
        return _decode_meta(self.array(META_KEY, e), self.path, self.what)


@contextlib.contextmanager
def _archive(path: Any, what: str) -> Iterator[_Archive]:
    """An :class:`_Archive` of the regular file ``path``; every problem with the file is a
    :class:`WeightsFileError` (a ``ValueError``), ``TypeError`` or ``OSError`` naming it."""
    path = _path_of(path, what)
    f = _open_regular(path, what)
    try:
        with f:
            why = _not_npz(path, f.read(512))
            if why is not None:
                raise WeightsFileError(f"{what}: {path} is not a weights file: {why}")
            f.seek(0)
            try:
                arch = _Archive(f, path, what)
                with arch.zf:
                    yield arch
            except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, zlib.error) as exc:
                raise WeightsFileError(
                    f"{what}: {path} is corrupt or truncated ({_first_line(exc)})"
                ) from None
            except NotImplementedError as exc:  # a compression method zipfile cannot read
                raise WeightsFileError(
                    f"{what}: {path} cannot be read: {_first_line(exc)}"
                ) from None
    except OSError as exc:
        if isinstance(exc, WeightsFileError) or str(path) in str(exc):
            raise
        raise _os_error(exc, f"{what}: cannot read {path}: {exc.strerror or exc}") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def read(
    path: str | os.PathLike[str], what: str = "load"
) -> tuple[dict[str, np.ndarray], dict[str, Any] | None]:
    """``(state, metadata)`` from a weights file; ``metadata`` is None for files written
    before it was recorded.  Every entry is inflated (each within the size its header
    states, checked against the archive first).  Raises :class:`WeightsFileError` (a
    ``ValueError``), ``TypeError`` or ``OSError`` naming ``path`` and what is wrong."""
    with _archive(path, what) as arch:
        meta = arch.meta()
        return {name: arch.array(name) for name in arch.entries}, meta


def read_selected(
    path: str | os.PathLike[str],
    choose: Callable[[Mapping[str, tuple[tuple[int, ...], np.dtype]], dict[str, Any] | None], Any],
    what: str = "load",
) -> tuple[Any, dict[str, np.ndarray]]:
    """Read a weights file in two passes, as :meth:`Module.load` does: first the zip
    directory, each entry's ``.npy`` header and the metadata, from which
    ``choose(entries, metadata)`` (``entries``: name -> ``(shape, dtype)``, nothing
    inflated) decides what it needs and returns ``(result, names)``; then only the entries
    in ``names`` are inflated.  Returns ``(result, {name: array})``: the bound on what a
    file costs is what ``choose`` asked for."""
    with _archive(path, what) as arch:
        meta = arch.meta()
        headers = {name: (e.shape, e.dtype) for name, e in arch.entries.items()}
        result, names = choose(headers, meta)
        return result, {name: arch.array(name) for name in names}


def _decode_meta(arr: np.ndarray, path: str, what: str) -> dict[str, Any]:
    try:
        if arr.dtype != np.uint8 or arr.ndim != 1:
            raise ValueError(f"expected 1-D uint8, got {arr.ndim}-D {arr.dtype}")
        meta = json.loads(arr.tobytes().decode("utf-8"))
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise ValueError("not tinygrad_bp metadata")
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise WeightsFileError(
            f"{what}: {path}: the metadata entry {META_KEY!r} is corrupt ({_first_line(exc)})"
        ) from None
    return meta


# ---------------------------------------------------------------------- into a module
class StateKeysError(KeyError, RuntimeError):
    """A state dict whose names differ from the model's: a KeyError, and a RuntimeError as
    PyTorch raises."""


def _module_state(module: Module) -> dict[str, Any]:
    # parameters and buffers (BatchNorm's running statistics), as state_dict() lists them
    named = getattr(module, "_named_state", module.named_parameters)
    return dict(named())


def _check_names(params: Mapping[str, Any], state: Mapping[str, Any], what: str) -> None:
    missing = sorted(set(params) - set(state))
    unexpected = sorted(set(state) - set(params), key=str)
    if missing or unexpected:
        raise StateKeysError(
            f"{what}: missing keys {missing}, unexpected keys {unexpected} (strict=False "
            f"loads the names both have)"
        )


def load_into(
    module: Module, state: Mapping[str, Any], what: str = "load_state_dict", strict: bool = True
) -> None:
    """Copy ``state`` into ``module``'s parameters in place: every name, shape and dtype
    kind is checked first, then all are assigned, or none.  ``strict=False`` loads the
    names ``state`` holds and leaves the others as they are."""
    if not isinstance(state, Mapping):
        raise TypeError(f"{what}: expected a mapping of name -> array, got {type(state).__name__}")
    params = _module_state(module)
    if not strict:
        params = {k: v for k, v in params.items() if k in state}
    _check_names(params, state, what)
    arrays = {}
    for name, p in params.items():
        arr = _real_array(name, state[name], what, "in the state")
        if arr.shape != p.data.shape:
            raise ValueError(
                f"{what}: {name} has shape {arr.shape} in the state, {p.data.shape} in the model"
            )
        arrays[name] = arr
    for name, p in params.items():  # only after every check passed
        p.data[...] = arrays[name]


def load_module(module: Module, path: str | os.PathLike[str]) -> None:
    """:meth:`Module.load`: the zip directory and every entry's ``.npy`` header are read
    first (no entry's data is inflated), the names and shapes compared with ``module``,
    and only then are the matching entries inflated: the bound on what a file can cost is
    the module's own size as the file stores it (its parameters' element counts times the
    file's item sizes), plus a few hundred bytes per header; the metadata entry is never
    inflated.  Then :func:`load_into`; errors name the file."""
    what = "load"
    path = _path_of(path, what)
    params = _module_state(module)
    with _archive(path, what) as arch:
        try:
            _check_names(params, arch.entries, what)
            for name, p in params.items():
                shape = arch.entries[name].shape
                if shape != p.data.shape:
                    raise ValueError(
                        f"{what}: {name} has shape {shape} in the file, {p.data.shape} in the model"
                    )
        except KeyError as exc:
            raise KeyError(f"{exc.args[0]} (in {path})") from None
        except ValueError as exc:
            raise ValueError(f"{exc} (in {path})") from None
        state = {name: arch.array(name) for name in params}
    try:
        load_into(module, state, what)
    except KeyError as exc:
        raise KeyError(f"{exc.args[0]} (in {path})") from None
    except (ValueError, TypeError) as exc:
        raise type(exc)(f"{exc} (in {path})") from None


# ---------------------------------------------------------------------- architecture
def architecture(module: Module) -> dict[str, Any] | None:
    """The layers of a ``Sequential`` of ``Dense`` and activation layers, as JSON data
    (with ``sizes`` and ``activation`` when it is an :func:`~tinygrad_bp.nn.mlp`), or
    None for any other module."""
    from . import nn
    from .nn import Dense, Sequential

    if not isinstance(module, Sequential):
        return None
    activation_layers = {getattr(nn, name): name for name in _ACTIVATION_LAYERS}
    layers: list[dict[str, Any]] = []
    for m in module:
        if type(m) is Dense:
            layers.append(
                {
                    "type": "Dense",
                    "in_features": m.in_features,
                    "out_features": m.out_features,
                    "activation": m.activation,
                    "dtype": m.W.data.dtype.name,
                }
            )
        elif type(m) in activation_layers:
            layers.append({"type": activation_layers[type(m)]})
        else:
            return None
    arch: dict[str, Any] = {"model": "Sequential", "layers": layers}
    dense = [d for d in layers if d["type"] == "Dense"]
    if dense and len(dense) == len(layers) and dense[-1]["activation"] is None:
        hidden = {d["activation"] for d in dense[:-1]}
        if len(hidden) <= 1:
            arch["sizes"] = [dense[0]["in_features"], *[d["out_features"] for d in dense]]
            arch["activation"] = hidden.pop() if hidden else None
    return arch
