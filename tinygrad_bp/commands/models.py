"""The models of the next chapters, with their data and training loops.

- ``digits``: ``mlp`` (``Flatten-Linear(64,128)-ReLU-Linear(128,10)``, a baseline) or
  ``cnn``, the CNN ``Conv2d(1,16,3,p=1)-ReLU-MaxPool2d(2)-Conv2d(16,32,3,p=1)-ReLU-
  MaxPool2d(2)-Flatten-Linear(128,10)``, on the shipped 8×8 digits (held out: a stratified
  20 %, seed 0).
- ``names``: character models of the shipped first names, scored in nats per character
  (10 % of the names held out, seed 0): ``mlp`` (Bengio et al. 2003: embeddings of the 3
  previous characters, a tanh layer, logits), ``lstm`` (Embedding(27,32) -> LSTM(128) ->
  Linear(128,27)) and ``transformer`` (makemore's defaults: 4 layers, 4 heads, 64
  channels, block size = longest name + 1).

:func:`build` makes a model for a data set, :func:`fit` trains it (one loop for all,
calling back after each step), :func:`evaluate` scores it, :func:`sample_names` samples.
The command line and the results script (``benchmarks/model_results.py``) use these.
"""

from __future__ import annotations

import gzip
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import functional as F
from .. import nn, ops
from ..autograd import no_grad
from ..tensor import Tensor
from ._output import check_interrupted

__all__ = [
    "Task",
    "load_task",
    "build",
    "fit",
    "evaluate",
    "sample_names",
    "DigitsCNN",
    "DigitsMLP",
    "NamesMLP",
    "NamesLSTM",
    "NamesTransformer",
    "stratified_split",
    "encode_names",
]

DATA = ("digits", "names")
MODELS = {"digits": ("mlp", "cnn"), "names": ("mlp", "lstm", "transformer")}
CHARS = "abcdefghijklmnopqrstuvwxyz"  # index 0 is '.', the start and end of a name


# ---------------------------------------------------------------- data
def stratified_split(
    y: np.ndarray, test_fraction: float, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Train and test indices with ``test_fraction`` of every class held out (rounded),
    drawn with ``numpy.random.default_rng(seed)``."""
    g = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(y):
        idx = g.permutation(np.flatnonzero(y == c))
        k = int(round(test_fraction * len(idx)))
        test.append(idx[:k])
        train.append(idx[k:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def _load_digits() -> tuple[np.ndarray, np.ndarray]:
    try:
        from ..data import load_digits  # the data helper's shipped copy
    except ImportError:  # pragma: no cover - before the data package lands
        load_digits = None
    if load_digits is not None:
        return load_digits()
    path = os.environ.get("TINYGRAD_BP_DIGITS", "")
    with gzip.open(path, "rt") as f:
        rows = np.loadtxt(f, delimiter=",")
    return rows[:, :64].astype(np.float64), rows[:, 64].astype(np.int64)


def _load_names() -> list[str]:
    try:
        from ..data import load_names
    except ImportError:  # pragma: no cover - before the data package lands
        load_names = None
    if load_names is not None:
        return list(load_names())
    with open(os.environ.get("TINYGRAD_BP_NAMES", ""), encoding="utf-8") as f:
        return [w.strip() for w in f if w.strip()]


def encode_names(words: list[str], block_size: int) -> tuple[np.ndarray, np.ndarray]:
    """makemore's encoding: ``x = [0, c1, ..., cn, 0...]``, ``y = [c1, ..., cn, 0, -1...]``
    (``-1``: no target), each of length ``block_size``."""
    x = np.zeros((len(words), block_size), dtype=np.int64)
    y = np.full((len(words), block_size), -1, dtype=np.int64)
    for i, w in enumerate(words):
        ix = [CHARS.index(ch) + 1 for ch in w]
        x[i, 1 : 1 + len(ix)] = ix
        y[i, : len(ix)] = ix
        y[i, len(ix)] = 0
    return x, y


def contexts(words: list[str], context: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Every (previous ``context`` characters, next character) pair of the names."""
    xs, ys = [], []
    for w in words:
        ctx = [0] * context
        for ch in w + ".":
            ix = 0 if ch == "." else CHARS.index(ch) + 1
            xs.append(ctx)
            ys.append(ix)
            ctx = ctx[1:] + [ix]
    return np.array(xs, dtype=np.int64), np.array(ys, dtype=np.int64)


@dataclass
class Task:
    """A data set ready to train on: arrays for train and test, and how to batch them."""

    data: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    kind: str  # "image", "context", "sequence"; a table: "classify" or "regress"
    block_size: int = 0
    info: dict[str, Any] = field(default_factory=dict)


def load_task(data: str, model: str = "cnn", seed: int = 0) -> Task:
    """The data set ``data`` prepared for ``model``: digits as ``(N, 1, 8, 8)`` images
    standardised (stratified 20 % held out); names split 90/10 by name, as context
    windows (``mlp``) or padded sequences (``lstm``, ``transformer``)."""
    if data not in DATA:
        raise ValueError(f"load_task: unknown data {data!r}; expected one of {DATA}")
    if model not in MODELS[data]:
        raise ValueError(
            f"load_task: model {model!r} does not fit data {data!r}; expected one of {MODELS[data]}"
        )
    if data == "digits":
        X, y = _load_digits()
        tr, te = stratified_split(y, 0.2, seed)
        img = np.asarray(X, dtype=np.float64).reshape(-1, 1, 8, 8)
        # standardised with the training images' mean and standard deviation
        mean, std = float(img[tr].mean()), float(img[tr].std())
        img = (img - mean) / std
        return Task(data, img[tr], y[tr], img[te], y[te], "image", info={"mean": mean, "std": std})
    words = _load_names()
    perm = np.random.default_rng(seed).permutation(len(words))
    n_test = len(words) // 10
    test_w = [words[i] for i in perm[:n_test]]
    train_w = [words[i] for i in perm[n_test:]]
    block = max(len(w) for w in words) + 1
    info = {"train_names": train_w, "test_names": test_w}
    if model == "mlp":
        Xtr, ytr = contexts(train_w)
        Xte, yte = contexts(test_w)
        return Task(data, Xtr, ytr, Xte, yte, "context", 3, info)
    Xtr, ytr = encode_names(train_w, block)
    Xte, yte = encode_names(test_w, block)
    return Task(data, Xtr, ytr, Xte, yte, "sequence", block, info)


# ---------------------------------------------------------------- models
class DigitsCNN(nn.Module):
    """``Conv2d(1,16,3,p=1)-ReLU-MaxPool2d(2)-Conv2d(16,32,3,p=1)-ReLU-MaxPool2d(2)-
    Flatten-Linear(128,10)`` on ``(N, 1, 8, 8)`` digits."""

    def __init__(self, rng: Any = 0, dtype: Any = None) -> None:
        g = nn.module._rng(rng)
        self.net = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1, rng=g, dtype=dtype),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1, rng=g, dtype=dtype),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(128, 10, rng=g, dtype=dtype),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class DigitsMLP(nn.Module):
    """``Flatten-Linear(64,128)-ReLU-Linear(128,10)`` on ``(N, 1, 8, 8)`` digits: the
    baseline the CNN is measured against."""

    def __init__(self, hidden: int = 128, rng: Any = 0, dtype: Any = None) -> None:
        g = nn.module._rng(rng)
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(64, hidden, rng=g, dtype=dtype),
            nn.ReLU(),
            nn.Linear(hidden, 10, rng=g, dtype=dtype),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class NamesMLP(nn.Module):
    """Bengio et al. (2003): the embeddings of the ``context`` previous characters,
    concatenated, a tanh layer, then logits over the 27 characters."""

    def __init__(
        self, context: int = 3, emb: int = 24, hidden: int = 256, rng: Any = 0, dtype: Any = None
    ) -> None:
        g = nn.module._rng(rng)
        self.context, self.emb_dim = context, emb
        self.emb = nn.Embedding(27, emb, rng=g, dtype=dtype)
        self.hidden = nn.Linear(context * emb, hidden, rng=g, dtype=dtype)
        self.out = nn.Linear(hidden, 27, rng=g, dtype=dtype)

    def forward(self, idx: Any) -> Tensor:
        e = self.emb(idx)  # (N, context, emb)
        h = ops.tanh(self.hidden(ops.reshape(e, e.shape[0], -1)))
        return self.out(h)


class NamesLSTM(nn.Module):
    """``Embedding(27, 32) -> LSTM(32, 128) -> Linear(128, 27)`` over ``(N, T)`` indices;
    returns logits ``(T·N, 27)`` in time-major order (targets: ``y.T.ravel()``)."""

    def __init__(self, emb: int = 32, hidden: int = 128, rng: Any = 0, dtype: Any = None) -> None:
        g = nn.module._rng(rng)
        self.emb = nn.Embedding(27, emb, rng=g, dtype=dtype)
        self.lstm = nn.LSTM(emb, hidden, rng=g, dtype=dtype)
        self.out = nn.Linear(hidden, 27, rng=g, dtype=dtype)

    def forward(self, idx: Any) -> Tensor:
        idx = np.asarray(idx.data if isinstance(idx, Tensor) else idx)
        seq, _ = self.lstm(self.emb(idx.T))  # (T, N, H)
        T, n, H = seq.shape
        return self.out(ops.reshape(seq, T * n, H))


class _Block(nn.Module):
    """A transformer block: ``x + attn(ln1(x))``, then ``x + mlp(ln2(x))``, the MLP
    ``Linear(C, 4C) - GELU - Linear(4C, C)``, causal self-attention."""

    def __init__(self, n_embd: int, n_head: int, g: np.random.Generator, dtype: Any) -> None:
        self.n_head = n_head
        self.ln_1 = nn.LayerNorm(n_embd, dtype=dtype)
        self.c_attn = nn.Linear(n_embd, 3 * n_embd, rng=g, dtype=dtype)
        self.attn_proj = nn.Linear(n_embd, n_embd, rng=g, dtype=dtype)
        self.ln_2 = nn.LayerNorm(n_embd, dtype=dtype)
        self.c_fc = nn.Linear(n_embd, 4 * n_embd, rng=g, dtype=dtype)
        self.mlp_proj = nn.Linear(4 * n_embd, n_embd, rng=g, dtype=dtype)

    def forward(self, x: Tensor) -> Tensor:
        qkv = self.c_attn(self.ln_1(x))  # (N, T, 3C)
        # PyTorch's qkv.split(C, 2), each viewed as (N, n_head, T, C/n_head), causal
        # scaled_dot_product_attention, heads merged back to (N, T, C): one primitive
        y = F.packed_self_attention(qkv, self.n_head, is_causal=True)
        x = x + self.attn_proj(y)
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x))))


class NamesTransformer(nn.Module):
    """makemore's transformer: token and position embeddings, ``n_layer`` blocks, a final
    LayerNorm and a bias-free head; logits ``(N·T, 27)`` (targets: ``y.ravel()``)."""

    def __init__(
        self,
        block_size: int,
        n_layer: int = 4,
        n_head: int = 4,
        n_embd: int = 64,
        rng: Any = 0,
        dtype: Any = None,
    ) -> None:
        g = nn.module._rng(rng)
        self.block_size = block_size
        self.wte = nn.Embedding(27, n_embd, rng=g, dtype=dtype)
        self.wpe = nn.Embedding(block_size, n_embd, rng=g, dtype=dtype)
        self.blocks = nn.ModuleList([_Block(n_embd, n_head, g, dtype) for _ in range(n_layer)])
        self.ln_f = nn.LayerNorm(n_embd, dtype=dtype)
        self.lm_head = nn.Linear(n_embd, 27, bias=False, rng=g, dtype=dtype)

    def forward(self, idx: Any) -> Tensor:
        idx = np.asarray(idx.data if isinstance(idx, Tensor) else idx)
        n, t = idx.shape
        if t > self.block_size:
            raise ValueError(
                f"NamesTransformer: sequence of length {t} is longer than the block size "
                f"{self.block_size}"
            )
        x = self.wte(idx) + self.wpe(np.arange(t))
        for block in self.blocks:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))
        return ops.reshape(logits, n * t, 27)


def build(
    data: str,
    model: str,
    seed: int = 0,
    dtype: Any = None,
    task: Task | None = None,
    block_size: int | None = None,
):
    """A fresh model for ``data`` ("digits" or "names") and ``model`` ("mlp" or "cnn";
    "mlp", "lstm" or "transformer"), its weights drawn from ``seed``; the transformer's
    block size is ``task``'s, else ``block_size`` (default 16)."""
    if data not in DATA or model not in MODELS[data]:
        raise ValueError(
            f"build: no model {model!r} for data {data!r}; expected digits/mlp|cnn or "
            f"names/mlp|lstm|transformer"
        )
    if data == "digits":
        if model == "mlp":
            return DigitsMLP(rng=seed, dtype=dtype)
        return DigitsCNN(rng=seed, dtype=dtype)
    if model == "mlp":
        return NamesMLP(rng=seed, dtype=dtype)
    if model == "lstm":
        return NamesLSTM(rng=seed, dtype=dtype)
    block = task.block_size if task is not None else (block_size or 16)
    return NamesTransformer(block, rng=seed, dtype=dtype)


def targets_for(model: nn.Module, y: np.ndarray) -> np.ndarray:
    """The targets in the order the model's logits come in."""
    if isinstance(getattr(model, "module", None), nn.Module):  # DistributedDataParallel
        model = model.module
    if isinstance(model, NamesLSTM):
        return np.ascontiguousarray(y.T).ravel()
    return y.ravel()


def loss_of(
    model: nn.Module, xb: Any, yb: np.ndarray, label_smoothing: float = 0.0, kind: str = ""
) -> Tensor:
    """Mean cross-entropy of a batch (positions without a target, -1, left out); for a
    ``"regress"`` task, the batch mean of ½‖ŷ − y‖² (the tutorial's regression)."""
    if kind == "regress":
        return F.half_squared_error(model(xb), yb)
    logits = model(xb)
    t = targets_for(model, yb)
    if label_smoothing or (t < 0).any():
        return F.cross_entropy(logits, t, ignore_index=-1, label_smoothing=label_smoothing)
    return F.cross_entropy(logits, t)


# ---------------------------------------------------------------- training
def fit(
    model: nn.Module,
    task: Task,
    optimizer: Any,
    steps: int,
    batch_size: int = 32,
    seed: int = 0,
    dtype: Any = np.float32,
    on_step: Callable[[int, float], None] | None = None,
    batches: Any = None,
    label_smoothing: float = 0.0,
    lr_at: Callable[[int], float] | None = None,
    parallel: Any = None,
) -> dict[str, Any]:
    """Train for ``steps`` steps of ``batch_size`` examples drawn by
    ``numpy.random.default_rng(seed)`` (images: shuffled epochs; names: draws with
    replacement, as makemore), calling ``on_step(step, loss)`` after each.  ``lr_at(step)``
    (optional) sets every parameter group's learning rate before the step.  With
    ``parallel`` (``tinygrad-bp train`` under mpiexec) each process trains on its share of
    every batch and the losses are the whole batches'.  Returns the losses and the wall
    time.  One loop for every task: the tutorial's tables (``"classify"``, ``"regress"``:
    ``train`` calls it once per epoch with :func:`epoch_batches`), the images and the
    names."""
    batches = batches if batches is not None else batch_indices(task, steps, batch_size, seed)
    X = task.X_train.astype(dtype) if task.kind == "image" else task.X_train
    tensors = task.kind in ("image", "classify", "regress")  # else: index arrays (embeddings)
    losses = []
    t0 = time.perf_counter()
    model.train()
    for step, ix in enumerate(batches):
        check_interrupted()  # a signal whose exception Python swallowed still stops the run
        if lr_at is not None:
            for group in optimizer.param_groups:
                group["lr"] = lr_at(step)
        if parallel is None:
            mine = ix
        else:  # (a full batch is a slice: its rows, to share)
            mine = parallel.share(np.arange(len(task.y_train))[ix] if isinstance(ix, slice) else ix)
        xb = Tensor(X[mine]) if tensors else X[mine]
        loss = loss_of(model, xb, task.y_train[mine], label_smoothing, task.kind)
        if parallel is not None:  # this process's part of the whole batch's mean
            loss = loss * parallel.weight(task.y_train[mine], task.y_train[ix])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        value = loss.item() if parallel is None else parallel.total(loss.item())
        losses.append(value)
        if on_step is not None:
            on_step(step, value)
    return {"losses": losses, "seconds": time.perf_counter() - t0}


def epoch_batches(n: int, batch_size: int | None, rng: np.random.Generator) -> list[Any]:
    """One epoch of a table of ``n`` rows: the full batch (``batch_size`` None or >= n,
    unshuffled, a view) or shuffled mini-batches of ``batch_size`` drawn from ``rng``."""
    if batch_size is None or batch_size >= n:
        return [slice(None)]
    order = rng.permutation(n)
    return [order[i : i + batch_size] for i in range(0, n, batch_size)]


def batch_indices(task: Task, steps: int, batch_size: int, seed: int = 0) -> list[np.ndarray]:
    """The index batches :func:`fit` uses, so another framework can train on the same."""
    g = np.random.default_rng(seed)
    n = len(task.y_train)
    out: list[np.ndarray] = []
    if task.kind == "image":
        while len(out) < steps:
            perm = g.permutation(n)
            out.extend(perm[i : i + batch_size] for i in range(0, n, batch_size))
        return out[:steps]
    return [g.integers(0, n, size=batch_size) for _ in range(steps)]


def evaluate(model: nn.Module, task: Task, split: str = "test", batch: int = 1024) -> float:
    """Held-out accuracy for images, else the mean loss in nats per character."""
    X, y = (task.X_test, task.y_test) if split == "test" else (task.X_train, task.y_train)
    model.eval()
    dtype = next(iter(model.parameters())).dtype
    with no_grad():
        if task.kind == "image":
            pred = np.concatenate(
                [
                    model(Tensor(X[i : i + batch].astype(dtype))).data.argmax(1)
                    for i in range(0, len(X), batch)
                ]
            )
            model.train()
            return float((pred == y).mean())
        total, count = 0.0, 0
        for i in range(0, len(X), batch):
            xb, yb = X[i : i + batch], y[i : i + batch]
            t = targets_for(model, yb)
            valid = t >= 0
            if not valid.any():
                continue
            loss = F.cross_entropy(model(xb), t, reduction="sum", ignore_index=-1)
            total += float(loss.item())
            count += int(valid.sum())
    model.train()
    return total / count


def sample_names(model: nn.Module, task: Task, n: int = 20, seed: int = 0) -> list[str]:
    """``n`` names drawn character by character from the model's softmax."""
    g = np.random.default_rng(seed)
    model.eval()
    out = []
    limit = task.block_size if task.kind == "sequence" else 20
    with no_grad():
        for _ in range(n):
            chars: list[int] = []
            while len(chars) < limit - (1 if task.kind == "sequence" else 0):
                if task.kind == "context":
                    ctx = ([0] * task.block_size + chars)[-task.block_size :]
                    logits = model(np.array([ctx]))
                else:
                    seq = np.array([[0] + chars])
                    logits = model(seq)
                    logits = logits[logits.shape[0] - 1 : logits.shape[0]]
                p = ops.softmax(logits, -1).data[0].astype(np.float64)
                ix = int(g.choice(27, p=p / p.sum()))
                if ix == 0:
                    break
                chars.append(ix)
            out.append("".join(CHARS[i - 1] for i in chars))
    model.train()
    return out


__all__ += ["batch_indices", "epoch_batches", "loss_of", "targets_for", "contexts"]


def cosine(lr: float, steps: int) -> Callable[[int], float]:
    """``lr · ½ (1 + cos(π·step/steps))``: the learning rate annealed to 0 over the run."""
    import math

    return lambda step: lr * 0.5 * (1.0 + math.cos(math.pi * step / steps))


__all__ += ["cosine"]
