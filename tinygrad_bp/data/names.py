"""The names corpus for character-level language models (an embedding + MLP as Bengio
et al. 2003, an RNN/LSTM, a small transformer), framed as in Karpathy's makemore:

- 27 symbols: ``'.'`` is index 0 and marks both the start and the end of a name, then
  ``'a'`` .. ``'z'`` are 1 .. 26 (:data:`NAMES_CHARS`);
- :func:`char_windows`: every (context of ``block_size`` symbols -> next symbol) pair,
  the context starting as ``'.' * block_size``;
- :func:`char_sequences`: one row per name, ``'.' + name`` as input and ``name + '.'``
  as target, padded to one length with :data:`IGNORE_INDEX` in the targets.

The longest name has 15 letters, so ``block_size = 16`` (longest + 1) lets a sequence
model see a whole name and its end mark.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .shipped import load_names

__all__ = [
    "NAMES_CHARS",
    "IGNORE_INDEX",
    "names_vocab",
    "encode_chars",
    "decode_chars",
    "names_split",
    "char_windows",
    "char_sequences",
]

#: the 27 symbols, in index order: '.' (start and end) then a..z
NAMES_CHARS = ".abcdefghijklmnopqrstuvwxyz"
#: the target of padded positions in :func:`char_sequences`: PyTorch's default
#: ``ignore_index`` of ``cross_entropy`` / ``nll_loss``
IGNORE_INDEX = -100

_STOI = {c: i for i, c in enumerate(NAMES_CHARS)}


def names_vocab() -> tuple[dict[str, int], list[str]]:
    """``(stoi, itos)``: symbol -> index and index -> symbol for the 27 symbols.

    Examples
    --------
    >>> from tinygrad_bp.data import names_vocab
    >>> stoi, itos = names_vocab()
    >>> stoi["."], stoi["a"], stoi["z"], itos[26], len(itos)
    (0, 1, 26, 'z', 27)
    """
    return dict(_STOI), list(NAMES_CHARS)


def _check_names(names: object, where: str) -> Sequence[str]:
    if isinstance(names, str) or not isinstance(names, Sequence):
        raise TypeError(
            f"{where}: names must be a list of strings, got {type(names).__name__}"
            + (" (wrap one name in a list)" if isinstance(names, str) else "")
        )
    for i, name in enumerate(names):
        if not isinstance(name, str):
            raise TypeError(f"{where}: names[{i}] is a {type(name).__name__}, not a str")
    return names


def encode_chars(text: str) -> np.ndarray:
    """The indices (int64) of the symbols of ``text``; anything but ``'.'`` and
    ``'a'``-``'z'`` is refused, naming the character.

    >>> from tinygrad_bp.data import encode_chars
    >>> encode_chars(".emma.").tolist()
    [0, 5, 13, 13, 1, 0]
    """
    if not isinstance(text, str):
        raise TypeError(f"encode_chars: expected a str, got {type(text).__name__}")
    try:
        return np.array([_STOI[c] for c in text], dtype=np.int64)
    except KeyError as exc:
        raise ValueError(
            f"encode_chars: {exc.args[0]!r} in {text!r} is not one of the 27 symbols "
            f"('.' and lowercase a-z)"
        ) from None


def decode_chars(indices: object) -> str:
    """The string of the symbol indices (an iterable of ints in 0..26).

    >>> from tinygrad_bp.data import decode_chars
    >>> decode_chars([5, 13, 13, 1, 0])
    'emma.'
    """
    arr = np.asarray(indices)
    if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iu"):
        raise TypeError(
            f"decode_chars: expected a 1-D sequence of ints, got {arr.dtype} {arr.shape}"
        )
    if arr.size and (arr.min() < 0 or arr.max() >= len(NAMES_CHARS)):
        raise ValueError(f"decode_chars: indices must be in 0..26, got {arr.min()}..{arr.max()}")
    return "".join(NAMES_CHARS[i] for i in arr.tolist())


def names_split(
    test_fraction: float = 0.1, seed: int = 0, names: Sequence[str] | None = None
) -> tuple[list[str], list[str]]:
    """A seeded split of the names (the shipped list by default) into ``(train, test)``.

    The split is by distinct name: a held-out name is held out with all its copies (the
    list repeats names), so no test name was seen in training.  ``test_fraction`` of the
    distinct names (rounded) go to the test side; each side is returned in a seeded
    shuffled order.  The same seed always gives the same split.

    Examples
    --------
    >>> from tinygrad_bp.data import names_split
    >>> train, test = names_split(0.1, seed=0)
    >>> len(train) + len(test), len(set(train) & set(test))
    (32033, 0)
    >>> round(len(set(test)) / 29494, 3)
    0.1
    """
    if isinstance(test_fraction, bool) or not isinstance(
        test_fraction, (int, float, np.integer, np.floating)
    ):
        raise TypeError(f"names_split: test_fraction must be a number, got {test_fraction!r}")
    if not 0.0 <= test_fraction < 1.0:
        raise ValueError(f"names_split: test_fraction must be in [0, 1), got {test_fraction}")
    names = load_names() if names is None else list(_check_names(names, "names_split"))
    rng = np.random.default_rng(seed)
    distinct = sorted(set(names))
    n_test = int(round(len(distinct) * test_fraction))
    held = {distinct[i] for i in rng.permutation(len(distinct))[:n_test].tolist()}
    order = rng.permutation(len(names)).tolist()
    train = [names[i] for i in order if names[i] not in held]
    test = [names[i] for i in order if names[i] in held]
    return train, test


def char_windows(names: Sequence[str], block_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Every (context -> next symbol) pair of the names, for a fixed-context model.

    Each name contributes ``len(name) + 1`` rows: the context starts as ``block_size``
    start marks (0) and slides over the name, the targets are the name's letters and then
    the end mark (0).

    Returns
    -------
    X : int64 (M, block_size)
    Y : int64 (M,), with ``M = sum(len(name) + 1)``

    Examples
    --------
    >>> from tinygrad_bp.data import char_windows
    >>> X, Y = char_windows(["emma"], block_size=3)
    >>> X.tolist()
    [[0, 0, 0], [0, 0, 5], [0, 5, 13], [5, 13, 13], [13, 13, 1]]
    >>> Y.tolist()
    [5, 13, 13, 1, 0]
    """
    names = _check_names(names, "char_windows")
    if isinstance(block_size, bool) or not isinstance(block_size, (int, np.integer)):
        raise TypeError(f"char_windows: block_size must be a positive int, got {block_size!r}")
    if block_size <= 0:
        raise ValueError(f"char_windows: block_size must be a positive int, got {block_size}")
    rows = sum(len(n) + 1 for n in names)
    X = np.zeros((rows, block_size), dtype=np.int64)
    Y = np.empty(rows, dtype=np.int64)
    r = 0
    for name in names:
        # the padded sequence '.'*block_size + name; row k's context is its slice
        # [k, k + block_size), its target symbol k of name + '.'
        seq = np.concatenate([np.zeros(block_size, np.int64), encode_chars(name)])
        k = len(name) + 1
        idx = np.arange(k)[:, None] + np.arange(block_size)[None, :]
        X[r : r + k] = seq[idx]
        Y[r : r + k - 1] = seq[block_size:]
        Y[r + k - 1] = 0
        r += k
    return X, Y


def char_sequences(
    names: Sequence[str], max_len: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """One row per name for a sequence model (RNN, LSTM, transformer): input
    ``'.' + name``, target ``name + '.'`` (the input shifted by one), both padded to
    ``T = max_len`` (default: the longest name + 1).

    Padding: inputs are padded with 0 (``'.'``; a causal model never reads them for a
    real position) and targets with :data:`IGNORE_INDEX` (-100, PyTorch's default
    ``ignore_index``); ``mask = Y != IGNORE_INDEX`` marks the real positions.  ``max_len``
    must leave room for the longest name and its end mark.

    Returns
    -------
    X : int64 (N, T)
    Y : int64 (N, T)

    Examples
    --------
    >>> from tinygrad_bp.data import char_sequences
    >>> X, Y = char_sequences(["ava", "emma"])
    >>> X.tolist()
    [[0, 1, 22, 1, 0], [0, 5, 13, 13, 1]]
    >>> Y.tolist()
    [[1, 22, 1, 0, -100], [5, 13, 13, 1, 0]]
    """
    names = _check_names(names, "char_sequences")
    longest = max((len(n) for n in names), default=0)
    if max_len is None:
        max_len = longest + 1
    elif isinstance(max_len, bool) or not isinstance(max_len, (int, np.integer)):
        raise TypeError(f"char_sequences: max_len must be an int or None, got {max_len!r}")
    elif max_len < longest + 1:
        name = max(names, key=len)
        raise ValueError(
            f"char_sequences: max_len {max_len} is too short for {name!r} ({len(name)} "
            f"letters need {len(name) + 1} positions with the end mark)"
        )
    X = np.zeros((len(names), max_len), dtype=np.int64)
    Y = np.full((len(names), max_len), IGNORE_INDEX, dtype=np.int64)
    for i, name in enumerate(names):
        ids = encode_chars(name)
        X[i, 1 : len(ids) + 1] = ids
        Y[i, : len(ids)] = ids
        Y[i, len(ids)] = 0
    return X, Y
