"""The character-level names helpers: vocabulary, split, MLP windows, padded sequences."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_bp.data import (
    IGNORE_INDEX,
    NAMES_CHARS,
    char_sequences,
    char_windows,
    decode_chars,
    encode_chars,
    load_names,
    names_split,
    names_vocab,
)

name_lists = st.lists(st.text(alphabet="abcdefghijklmnopqrstuvwxyz", max_size=12), max_size=6)


def test_vocab_is_dot_then_a_to_z():
    stoi, itos = names_vocab()
    assert len(itos) == 27 and itos[0] == "." and "".join(itos[1:]) == "abcdefghijklmnopqrstuvwxyz"
    assert all(stoi[c] == i for i, c in enumerate(itos))
    assert NAMES_CHARS == "".join(itos)
    stoi["."] = 5  # a copy: the module's vocabulary is not changed
    assert names_vocab()[0]["."] == 0
    assert decode_chars(encode_chars(".zoe.")) == ".zoe."
    with pytest.raises(ValueError, match=r"'E' in 'Emma' is not one of the 27 symbols"):
        encode_chars("Emma")
    with pytest.raises(ValueError, match="0..26"):
        decode_chars([27])
    with pytest.raises(TypeError, match="1-D sequence of ints"):
        decode_chars([[1, 2]])


def test_names_split_is_seeded_disjoint_and_complete():
    train, test = names_split(0.1, seed=0)
    assert len(train) + len(test) == 32033
    assert sorted(train + test) == sorted(load_names())
    assert not set(train) & set(test)  # every copy of a held-out name is held out
    assert len(set(test)) == round(29494 * 0.1)
    again = names_split(0.1, seed=0)
    assert again == (train, test)
    other = names_split(0.1, seed=1)
    assert set(other[1]) != set(test)
    small_train, small_test = names_split(0.5, seed=0, names=["ann", "bob", "bob", "cy"])
    assert sorted(small_train + small_test) == ["ann", "bob", "bob", "cy"]
    assert ("bob" in small_train) != ("bob" in small_test)
    assert names_split(0.0, names=["a", "b"])[1] == []
    with pytest.raises(ValueError, match=r"test_fraction must be in \[0, 1\)"):
        names_split(1.0)
    with pytest.raises(TypeError, match="wrap one name in a list"):
        names_split(0.1, names="emma")


def test_char_windows_frame_the_names_as_makemore_does():
    X, Y = char_windows(["emma", "ava"], block_size=3)
    assert X.dtype == Y.dtype == np.int64
    assert X.shape == (5 + 4, 3) and Y.shape == (9,)
    # the contexts and targets spelled out
    rows = ["".join(NAMES_CHARS[i] for i in r) + " -> " + NAMES_CHARS[t] for r, t in zip(X, Y)]
    assert rows == [
        "... -> e", "..e -> m", ".em -> m", "emm -> a", "mma -> .",
        "... -> a", "..a -> v", ".av -> a", "ava -> .",
    ]  # fmt: skip
    X1, Y1 = char_windows(["ab"], block_size=1)
    assert X1.tolist() == [[0], [1], [2]] and Y1.tolist() == [1, 2, 0]


@settings(max_examples=40, deadline=None)
@given(name_lists, st.integers(1, 8))
def test_char_windows_agree_with_a_plain_loop(names, block_size):
    X, Y = char_windows(names, block_size)
    xs, ys = [], []
    for name in names:
        context = [0] * block_size
        for ch in name + ".":
            ix = NAMES_CHARS.index(ch)
            xs.append(context)
            ys.append(ix)
            context = context[1:] + [ix]
    assert X.shape == (len(xs), block_size) and Y.shape == (len(ys),)
    assert X.tolist() == xs and Y.tolist() == ys


@settings(max_examples=40, deadline=None)
@given(name_lists.filter(lambda n: len(n) > 0), st.integers(0, 3))
def test_char_sequences_are_shifted_by_one_and_padded(names, extra):
    T = max(len(n) for n in names) + 1 + extra
    X, Y = char_sequences(names, max_len=T if extra else None)
    assert X.shape == Y.shape == (len(names), T) and X.dtype == Y.dtype == np.int64
    for name, x, y in zip(names, X, Y):
        L = len(name) + 1
        assert decode_chars(x[:L]) == "." + name
        assert decode_chars(y[:L]) == name + "."
        np.testing.assert_array_equal(x[1:L], y[: L - 1])  # the targets are the inputs, shifted
        assert (y[L:] == IGNORE_INDEX).all() and (x[L:] == 0).all()
    assert ((Y != IGNORE_INDEX).sum(axis=1) == [len(n) + 1 for n in names]).all()


def test_char_sequences_on_the_corpus_and_torch_ignores_the_padding():
    torch = pytest.importorskip("torch")
    names = load_names()
    X, Y = char_sequences(names)
    assert X.shape == (32033, 16)  # the longest name (15 letters) + its end mark
    assert IGNORE_INDEX == -100
    logits = torch.zeros(3, 16, 27, dtype=torch.float64)
    loss = torch.nn.functional.cross_entropy(
        logits.reshape(-1, 27), torch.from_numpy(Y[:3]).reshape(-1)
    )
    assert abs(loss.item() - np.log(27)) < 1e-12  # the mean over real positions only
    with pytest.raises(ValueError, match=r"max_len 5 is too short for '.*' \(15 letters"):
        char_sequences(names, max_len=5)
    with pytest.raises(ValueError, match="not one of the 27 symbols"):
        char_sequences(["ok", "no!"])


def test_bad_block_size_and_names():
    for bad in (0, -1):
        with pytest.raises(ValueError, match="block_size must be a positive int"):
            char_windows(["a"], bad)
    with pytest.raises(TypeError, match="block_size must be a positive int"):
        char_windows(["a"], 2.0)
    with pytest.raises(TypeError, match=r"names\[1\] is a int"):
        char_windows(["a", 3], 2)
    with pytest.raises(TypeError, match="max_len must be an int or None"):
        char_sequences(["a"], max_len=3.0)
