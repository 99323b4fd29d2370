"""What the commands write, and how they end: shared by ``train``, ``graph``, ``bench``.

- :class:`RunFolder`: an output folder that a command writes several files into.  The
  files are made in a temporary folder inside it and moved into place only when all of
  them are ready; a manifest in the folder (:data:`MANIFEST`) records which files this
  program wrote and the SHA-256 digest of each, so a later run replaces or removes a file
  only while it is still byte for byte what this program wrote: a user's own files, and
  files the user changed since, are never overwritten or deleted (a file that a rerun
  would have removed is kept, and one line says so).  Only that manifest is trusted
  (never, say, a ``summary.json`` someone else left in the folder).  The folder is
  locked while a command writes into it (:data:`LOCK`): a second run waits briefly, then
  says which process holds it.
- :func:`write_file`: one file, written atomically (temporary file, fsync, rename).
- :func:`check_file_target`: refuse an unusable output path before any work.
- :func:`signals`, :class:`Interrupted`: SIGTERM and SIGINT end a command through the
  same cleanup as an error; moving files into place is never cut in half.  The first
  signal interrupts; once the command has finished (:func:`command_done`), or while it is
  being cleaned up after the first, further signals are ignored, so a late one never
  ends the process without its line or with a traceback.
- :func:`error_line`: an exception as the one line the command line prints.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import hashlib
import json
import os
import shutil
import signal
import stat
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: a byte-range lock instead
    fcntl = None  # type: ignore[assignment]
    import msvcrt

__all__ = [
    "MANIFEST",
    "LOCK",
    "FolderBusyError",
    "Interrupted",
    "RunFolder",
    "check_file_target",
    "write_file",
    "signals",
    "deferred_signals",
    "check_interrupted",
    "written",
    "error_line",
    "seed_type",
]

MANIFEST = ".tinygrad-bp-files.json"  # the files this program wrote into a folder
LOCK = ".tinygrad-bp.lock"  # held (flock) while a command writes into the folder
_TMP_PREFIX = ".tinygrad-bp-tmp-"  # the temporary folder inside the output folder
LOCK_WAIT = 3.0  # seconds a second run waits for the folder before giving up

# Paths committed by the command running in this process (for the "interrupted" line).
_written: list[str] = []
_state = threading.local()
# The command has finished (or was interrupted once): later signals are ignored.
_done = threading.Event()
# The signal whose Interrupted was raised, until the command ends: raised again by
# check_interrupted() where Python swallowed it (see there).
_interrupted: list[int] = []


def written() -> list[str]:
    """The paths this process's command has written so far (reset by :func:`signals`)."""
    return list(_written)


# ---------------------------------------------------------------------- errors
class FolderBusyError(RuntimeError):
    """Another process is writing into the same output folder."""


class Interrupted(KeyboardInterrupt):
    """SIGTERM or SIGINT arrived; ``signum`` says which.  A KeyboardInterrupt, so it
    unwinds through ``finally`` blocks and past ``except Exception``."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def error_line(exc: BaseException, command: str) -> str:
    """``exc`` as the message after ``tinygrad-bp COMMAND: error: ``, on one line, without
    an ``[Errno N]`` prefix or the command's name twice."""
    if isinstance(exc, MemoryError):
        text = f"not enough memory ({exc or 'MemoryError'})"
    elif isinstance(exc, OSError) and exc.strerror and len(exc.args) >= 2:
        # OSError(errno, text[, filename]): str() would add "[Errno N] "
        text = str(exc.strerror)
        name = exc.filename
        if name is not None and str(name) not in text:
            text = f"{text}: {name}"
    elif isinstance(exc, KeyError) and len(exc.args) == 1 and isinstance(exc.args[0], str):
        text = exc.args[0]  # str(KeyError) wraps its message in quotes
    else:
        text = str(exc) or type(exc).__name__
    text = " ".join(text.split())  # one line
    # The line already starts "tinygrad-bp COMMAND: error: ", so drop the command's name
    # where the message repeats it ("train: lr must be ...", "graph --out: cannot ...").
    text = text.removeprefix(f"tinygrad-bp {command}: ")
    if text.startswith(f"{command}: "):
        text = text[len(command) + 2 :]
    elif text.startswith(f"{command} --"):
        text = text[len(command) + 1 :]
    return text


def seed_type(text: str) -> int:
    """argparse type for ``--seed``: a non-negative integer (what NumPy's seeding takes)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {value}")
    return value


# ---------------------------------------------------------------------- signals
def _handler(signum: int, _frame: Any) -> None:
    if _done.is_set():  # finished, or already interrupted: nothing left to stop
        return
    if getattr(_state, "defer", 0):
        _state.pending = signum  # raised when the critical section ends
        return
    _done.set()  # one signal interrupts; the cleanup it starts is not cut short
    _interrupted.append(signum)
    raise Interrupted(signum)


def check_interrupted() -> None:
    """Raise :class:`Interrupted` again if a signal interrupted the command but the
    exception never reached it.  Python runs a signal handler wherever the main thread
    happens to be, and an exception raised inside a ``__del__`` or a weakref callback (an
    import's module-lock callback, under load) is printed and swallowed; the command would
    then run on, and ignore every later signal.  Long loops (each training step) call
    this; it costs one list test."""
    if _interrupted:
        raise Interrupted(_interrupted[0])


def command_done() -> None:
    """The command has finished: its files are written and its lines printed.  From now
    on SIGTERM and SIGINT are ignored (until :func:`signals` ends)."""
    _done.set()


@contextlib.contextmanager
def signals(until_exit: bool = False) -> Iterator[None]:
    """Turn SIGTERM and SIGINT into :class:`Interrupted` for the duration (main thread
    only; elsewhere it does nothing), and start a fresh :func:`written` list.

    ``until_exit`` (the program itself, not a caller of ``cli.main``): when it ends the
    signals stay ignored instead of getting their old handlers back, so one that arrives
    while the interpreter shuts down cannot kill a finished run silently (SIGTERM's
    default) or print a traceback (SIGINT's)."""
    _written.clear()
    _done.clear()
    _interrupted.clear()
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {s: signal.signal(s, _handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, signal.SIG_IGN if until_exit else h)
        _done.clear()
        _interrupted.clear()


@contextlib.contextmanager
def deferred_signals() -> Iterator[None]:
    """A critical section: a signal that arrives inside it is raised when it ends, so
    files are never half moved into place and cleanup is never cut short."""
    _state.defer = getattr(_state, "defer", 0) + 1
    try:
        yield
    finally:
        _state.defer -= 1
        pending = getattr(_state, "pending", None)
        if not _state.defer and pending is not None:
            _state.pending = None
            raise Interrupted(pending)


# ---------------------------------------------------------------------- paths
def _nearest_existing(path: Path) -> Path:
    probe = path
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    return probe


def _check_parent(path: Path, shown: str, what: str) -> None:
    """The folders above ``path`` exist or can be made, and are writable."""
    base = _nearest_existing(path.parent)
    if not base.is_dir():
        raise NotADirectoryError(f"{what}: cannot write {shown}: {base} is a file, not a folder")
    if not os.access(base, os.W_OK | os.X_OK):
        raise PermissionError(f"{what}: cannot write {shown}: the folder {base} is not writable")


def check_file_target(path: str | os.PathLike[str], what: str) -> Path:
    """Refuse an output file path that cannot be written (a folder, a file where a folder
    should be, an unwritable folder), before any work is done.  Returns it absolute."""
    shown = os.fspath(path)
    p = Path(os.path.abspath(shown))
    if p.is_dir():
        raise IsADirectoryError(f"{what}: cannot write {shown}: it is a folder")
    _check_parent(p, shown, what)
    if p.exists() and not os.access(p, os.W_OK) and not os.access(p.parent, os.W_OK):
        raise PermissionError(f"{what}: cannot write {shown}: permission denied")
    return p


def _umask() -> int:
    from ..serialization import _umask as read_umask

    return read_umask()


def _mode_for(target: Path) -> int:
    try:
        return stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        return 0o666 & ~_umask()


def write_file(path: str | os.PathLike[str], data: bytes | str, what: str) -> Path:
    """Write ``data`` to ``path`` atomically: a unique temporary file beside it, fsync,
    the target's permissions, rename.  Missing folders above it are made."""
    shown = os.fspath(path)
    p = check_file_target(path, what)
    p.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    mode = _mode_for(p)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        with deferred_signals():
            os.replace(tmp, p)
            _written.append(shown)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        if isinstance(exc, OSError):
            raise OSError(f"{what}: cannot write {shown}: {exc.strerror or exc}") from None
        raise
    return p


# ---------------------------------------------------------------------- run folders
def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _FolderLock:
    """An exclusive ``flock`` on ``folder/LOCK`` holding the owner's PID.  The file is
    removed on release; an acquirer checks it locked the file still at that path."""

    def __init__(self, folder: Path, what: str, wait: float) -> None:
        self.path = folder / LOCK
        self.what = what
        self.wait = wait
        self.fd: int | None = None

    def acquire(self) -> None:
        deadline = time.monotonic() + self.wait
        while True:
            with deferred_signals():  # never leave a locked file behind unrecorded
                if self._try_once():
                    return
            if time.monotonic() >= deadline:
                holder = self._read_holder()
                who = f"process {holder}" if holder else "another process"
                raise FolderBusyError(
                    f"{self.what}: {who} is writing into {self.path.parent}; wait for "
                    "it to finish, or choose another output folder"
                )
            time.sleep(0.05)

    def _try_once(self) -> bool:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            else:  # pragma: no cover
                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                return False
            raise
        try:  # the file we locked may have been released and unlinked meanwhile
            same = os.path.samestat(os.fstat(fd), os.stat(self.path))
        except FileNotFoundError:
            same = False
        if not same:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self.fd = fd
        return True

    def _read_holder(self) -> int | None:
        try:
            text = self.path.read_text(encoding="ascii").strip()
            return int(text) if text else None
        except (OSError, ValueError):
            return None

    def release(self) -> None:
        if self.fd is None:
            return
        if fcntl is None:  # pragma: no cover - Windows cannot remove an open file
            os.close(self.fd)
        with contextlib.suppress(OSError):
            os.remove(self.path)  # while still locked, so no one else holds this inode
        if fcntl is not None:
            os.close(self.fd)
        self.fd = None


class RunFolder:
    """An output folder that a command writes a set of files into, all at once.

    ::

        with RunFolder(out, "train") as run:
            run.check(["summary.json", "weights.npz"])   # before any work
            ...write run.path("summary.json"), run.path("weights.npz")...
            run.commit()

    On entering, the folder (and any missing parents) is made, locked, and a temporary
    folder made inside it.  :meth:`commit` moves every file written into the temporary
    folder into place and records them in the manifest; files that an earlier run of the
    same command wrote there and this one did not are removed, so the folder matches this
    run, and nothing else in it is touched.  A file of the same name that this program
    did not write is never overwritten: :meth:`check` (and :meth:`commit`) refuse it.  On
    leaving, without a commit or with an error, everything made is removed again.
    """

    def __init__(self, out: str | os.PathLike[str], what: str, wait: float | None = None) -> None:
        self.shown = os.fspath(out)
        self.final = Path(os.path.abspath(self.shown))
        self.what = what
        self.wait = LOCK_WAIT if wait is None else wait
        if self.final.exists() and not self.final.is_dir():
            raise NotADirectoryError(
                f"{what}: cannot write into {self.shown}: it is a file, not a folder"
            )
        _check_parent(self.final, self.shown, what)
        self._made: list[Path] = []
        self._lock: _FolderLock | None = None
        self.tmp: Path | None = None
        self.committed: list[str] = []
        self.kept: list[str] = []  # files a rerun would have removed, changed by the user

    # -- context
    def __enter__(self) -> RunFolder:
        try:
            with deferred_signals():
                self._make_folders()
            self._lock = _FolderLock(self.final, self.what, self.wait)
            self._lock.acquire()  # may wait: interruptible
            with deferred_signals():
                self._remove_stale_tmp()
                self.tmp = self.final / f"{_TMP_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}"
                self.tmp.mkdir()
        except BaseException as exc:
            with deferred_signals():
                self._cleanup()
            if isinstance(exc, OSError) and not isinstance(exc, FolderBusyError):
                raise OSError(
                    f"{self.what}: cannot write into {self.shown}: {exc.strerror or exc}"
                ) from None
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        with deferred_signals():
            self._cleanup()

    def _make_folders(self) -> None:
        missing = []
        p = self.final
        while not p.exists():
            missing.append(p)
            p = p.parent
        for d in reversed(missing):
            try:
                d.mkdir()
            except FileExistsError:  # another run made it meanwhile: it is not ours
                if not d.is_dir():
                    raise
                continue
            self._made.append(d)

    def _remove_stale_tmp(self) -> None:
        # We hold the lock, so any temporary folder of ours here belongs to a run that was
        # killed outright (SIGKILL): it is ours to remove.
        for entry in self.final.iterdir():
            if entry.name.startswith(_TMP_PREFIX) and entry.is_dir():
                pid = entry.name[len(_TMP_PREFIX) :].split("-")[0]
                if not pid.isdigit() or not _pid_alive(int(pid)) or int(pid) == os.getpid():
                    shutil.rmtree(entry, ignore_errors=True)

    def _cleanup(self) -> None:
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None
        if self._lock is not None:
            self._lock.release()
            self._lock = None
        if not self.committed:
            for d in reversed(self._made):  # folders we made for nothing
                with contextlib.suppress(OSError):
                    d.rmdir()

    # -- manifest
    def manifest(self) -> dict[str, dict[str, str]]:
        """``{file name: {"command": ..., "sha256": ...}}`` for the files this program
        wrote into the folder, from its own manifest only; an entry without a digest (or
        a manifest not written by this program) counts for nothing."""
        try:
            data = json.loads((self.final / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict) or data.get("written_by") != "tinygrad_bp":
            return {}
        files = data.get("files")
        if not isinstance(files, dict):
            return {}
        return {
            name: {"command": entry["command"], "sha256": entry["sha256"]}
            for name, entry in files.items()
            if isinstance(name, str)
            and isinstance(entry, dict)
            and isinstance(entry.get("command"), str)
            and isinstance(entry.get("sha256"), str)
        }

    def _is_ours(self, name: str, ours: dict[str, dict[str, str]]) -> bool:
        """``name`` is a regular file still byte for byte what this program wrote."""
        entry = ours.get(name)
        p = self.final / name
        if entry is None or p.is_symlink() or not p.is_file():
            return False
        return _sha256(p) == entry["sha256"]

    def _write_manifest(self, files: dict[str, dict[str, str]]) -> None:
        text = json.dumps({"written_by": "tinygrad_bp", "files": files}, indent=1) + "\n"
        fd, tmp = tempfile.mkstemp(prefix=f"{MANIFEST}.", suffix=".tmp", dir=self.final)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o666 & ~_umask())
            os.replace(tmp, self.final / MANIFEST)
        except BaseException:
            with contextlib.suppress(OSError):
                os.remove(tmp)
            raise

    # -- files
    def path(self, name: str) -> Path:
        """Where to write ``name`` (inside the temporary folder)."""
        if self.tmp is None:
            raise RuntimeError(f"{self.what}: the output folder is not open")
        return self.tmp / name

    def check(self, names: Iterable[str], pattern: Any = None) -> None:
        """Refuse before any work if a file to be written exists and is not ours, or is
        a folder.  ``pattern`` (a compiled regex) also covers names not known yet."""
        ours = self.manifest()
        for entry in sorted(os.listdir(self.final)):
            if entry.startswith((_TMP_PREFIX, MANIFEST, LOCK)):
                continue
            wanted = entry in set(names) or (pattern is not None and pattern.fullmatch(entry))
            if wanted:
                self._refuse_if_foreign(entry, ours)

    def _refuse_if_foreign(self, name: str, ours: dict[str, dict[str, str]]) -> None:
        p = self.final / name
        if p.is_dir() and not p.is_symlink():
            raise FileExistsError(
                f"{self.what}: {self.shown} holds a folder {name}/ where this command "
                "writes a file; move it away or choose another output folder"
            )
        if (p.exists() or p.is_symlink()) and not self._is_ours(name, ours):
            why = (
                "which was changed since tinygrad-bp wrote it"
                if name in ours
                else "which tinygrad-bp did not write"
            )
            raise FileExistsError(
                f"{self.what}: {self.shown} already holds {name}, {why}; refusing to "
                "overwrite it (move it away or choose another folder)"
            )

    def commit(self) -> list[str]:
        """Move everything written into place; returns the file names, sorted."""
        if self.tmp is None:
            raise RuntimeError(f"{self.what}: the output folder is not open")
        names = sorted(os.listdir(self.tmp))
        digests = {n: _sha256(self.tmp / n) for n in names}
        kept = []
        with deferred_signals():
            old = self.manifest()
            for name in names:
                self._refuse_if_foreign(name, old)
            # Files of ours still as written, and entries for files that are gone; a
            # file changed since is the user's now and leaves the manifest.
            files = {n: e for n, e in old.items() if self._is_ours(n, old) or n in names}
            # The manifest first names every file that may be ours after this, so a
            # crash halfway never leaves one of our files unrecorded.
            files.update({n: {"command": self.what, "sha256": digests[n]} for n in names})
            self._write_manifest(files)
            # summary.json last: it marks the run complete
            for name in sorted(names, key=lambda n: n == "summary.json"):
                os.replace(self.tmp / name, self.final / name)
                self.committed.append(name)
                _written.append(os.path.join(self.shown, name))
            for name, entry in old.items():
                if entry["command"] != self.what or name in names:
                    continue
                stale = self.final / name
                if self._is_ours(name, old):
                    stale.unlink()
                elif stale.exists() or stale.is_symlink():
                    kept.append(name)
                files.pop(name, None)
            self._write_manifest(files)
        self.kept = kept
        if kept:
            shown = ", ".join(os.path.join(self.shown, n) for n in kept)
            print(
                f"tinygrad-bp {self.what}: kept {shown}: changed since tinygrad-bp wrote "
                f"{'it' if len(kept) == 1 else 'them'}, so no longer this run's to remove",
                file=sys.stderr,
            )
        return names
