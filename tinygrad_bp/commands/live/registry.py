"""What the live page can train: data sets and models, one registry entry each.

A :class:`DataSpec` loads arrays and says which model to use by default; a
:class:`ModelSpec` builds a fresh model for a loaded :class:`Dataset`.  Adding a data set
or a model is one entry in :data:`DATASETS` or :data:`MODELS`; the page, the command line
and :func:`tinygrad_bp.commands.live.live` pick it up by name.  The digits CNN, for example, is
these two entries (the data as ``(N, 1, 8, 8)`` standardised images, the model
:class:`tinygrad_bp.commands.models.DigitsCNN`)::

    DATASETS["digits"] = DataSpec(
        "handwritten digits (8×8)", _load_digits, model="cnn", lr=0.003, batch_size=64
    )
    MODELS["cnn"] = ModelSpec("the digits CNN", _build_cnn)

Examples
--------
>>> from tinygrad_bp.commands.live.registry import load_dataset, build_model
>>> ds = load_dataset("moons", seed=0)
>>> ds.X.shape, ds.classes, ds.is_2d
((300, 2), ['0', '1'], True)
>>> model = build_model("mlp", ds, hidden=(8,), seed=0)
>>> [name for name, _ in model.named_parameters()]
['0.W', '0.b', '1.W', '1.b']
>>> load_dataset("mnist")
Traceback (most recent call last):
    ...
ValueError: live: unknown data set 'mnist'; expected one of iris, spirals, moons, digits, names
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tinygrad_bp import functional as F
from tinygrad_bp import nn
from tinygrad_bp.tensor import Tensor

from .toys import make_moons, make_spirals

__all__ = [
    "Dataset",
    "DataSpec",
    "ModelSpec",
    "DATASETS",
    "MODELS",
    "load_dataset",
    "build_model",
    "as_dataset",
]


@dataclass
class Dataset:
    """Arrays to train on: ``X`` (rows first; float64, or int64 indices), ``y`` (int64
    class labels), and the defaults the page starts with."""

    name: str
    X: np.ndarray
    y: np.ndarray
    classes: list[str]
    default_model: str = "mlp"
    lr: float = 0.01
    batch_size: int = 32
    optimizer: str = "adam"
    hidden: tuple[int, ...] = (16, 16)

    @property
    def is_2d(self) -> bool:
        """Two real-valued input features: the page draws the decision boundary."""
        return self.X.ndim == 2 and self.X.shape[1] == 2 and self.X.dtype.kind == "f"

    @property
    def num_classes(self) -> int:
        return len(self.classes)


@dataclass(frozen=True)
class DataSpec:
    """A named data set: ``load(seed) -> (X, y, class names or None)`` and the defaults the
    page starts with (model name, learning rate, batch size, optimizer, hidden sizes)."""

    title: str
    load: Callable[[int], tuple[np.ndarray, np.ndarray, Sequence[str] | None]]
    model: str = "mlp"
    lr: float = 0.01
    batch_size: int = 32
    optimizer: str = "adam"
    hidden: tuple[int, ...] = (16, 16)


def _cross_entropy(out: Tensor, y: np.ndarray) -> Tensor:
    return F.cross_entropy(out, y)


@dataclass(frozen=True)
class ModelSpec:
    """A named model: ``build(dataset, hidden, activation, seed) -> nn.Module`` and its loss
    ``loss(output, y) -> scalar Tensor`` (mean cross-entropy by default; a character model
    that predicts one label per position would give its own)."""

    title: str
    build: Callable[[Dataset, tuple[int, ...], str, int], nn.Module]
    loss: Callable[[Tensor, np.ndarray], Tensor] = field(default=_cross_entropy)
    #: turns a batch of rows of ``X`` into what the model's forward takes (a Tensor by
    #: default; a model that embeds integer tokens may take the array itself)
    inputs: Callable[[np.ndarray], Any] = field(default=Tensor)
    #: a few samples of what the model has learnt, shown on the page with the statistics
    #: (a character model's sampled names); None for none
    samples: Callable[[nn.Module], list[str]] | None = None


def _load_iris(seed: int) -> tuple[np.ndarray, np.ndarray, Sequence[str]]:
    from tinygrad_bp.data import IRIS_CLASSES, load_iris, standardize

    X, y = load_iris()
    return standardize(X)[0], y, IRIS_CLASSES  # the tutorial: features standardised


def _load_spirals(seed: int) -> tuple[np.ndarray, np.ndarray, None]:
    return (*make_spirals(300, arms=2, noise=0.2, seed=seed), None)


def _load_moons(seed: int) -> tuple[np.ndarray, np.ndarray, None]:
    return (*make_moons(300, noise=0.12, seed=seed), None)


def _load_digits(seed: int) -> tuple[np.ndarray, np.ndarray, Sequence[str]]:
    from tinygrad_bp.commands.models import load_task

    # the training split of models.py: (N, 1, 8, 8), standardised with its own mean and std
    task = load_task("digits", "cnn", seed=0)
    return task.X_train, task.y_train, [str(d) for d in range(10)]


def _load_names(seed: int) -> tuple[np.ndarray, np.ndarray, Sequence[str]]:
    from tinygrad_bp.commands.models import CHARS, load_task

    # every (3 previous characters, next character) pair of the training names
    task = load_task("names", "mlp", seed=0)
    return task.X_train, task.y_train, [".", *CHARS]


def _indices(rows: np.ndarray) -> np.ndarray:
    """Character indices go to the embedding as they are (no Tensor: nothing to grad)."""
    return rows


def _build_cnn(ds: Dataset, hidden: tuple[int, ...], activation: str, seed: int) -> nn.Module:
    from tinygrad_bp.commands.models import DigitsCNN

    if ds.X.shape[1:] != (1, 8, 8) or ds.X.dtype.kind != "f" or ds.num_classes > 10:
        raise ValueError(
            "live: the cnn model takes (N, 1, 8, 8) images of at most 10 classes, got X of "
            f"shape {ds.X.shape} dtype {ds.X.dtype} with {ds.num_classes} classes"
        )
    return DigitsCNN(rng=seed)  # fixed layers: hidden and activation do not apply


def _build_char(ds: Dataset, hidden: tuple[int, ...], activation: str, seed: int) -> nn.Module:
    from tinygrad_bp.commands.models import NamesMLP

    if ds.X.ndim != 2 or ds.X.dtype.kind not in "iu" or ds.num_classes != 27:
        raise ValueError(
            "live: the char model takes rows of previous-character indices (2-D integers) "
            f"and 27 classes, got X of shape {ds.X.shape} dtype {ds.X.dtype} with "
            f"{ds.num_classes} classes"
        )
    if ds.X.min() < 0 or ds.X.max() >= 27:
        raise ValueError(
            f"live: character indices must lie in 0..26, got {ds.X.min()}..{ds.X.max()}"
        )
    return NamesMLP(context=ds.X.shape[1], hidden=hidden[0], rng=seed)


def _sample_names(model: nn.Module) -> list[str]:
    """Eight names drawn from the character model (seeded: the same draws as it learns)."""
    from tinygrad_bp.commands.models import Task, sample_names

    empty = np.zeros((0, 3), dtype=np.int64)
    task = Task("names", empty, empty[:, 0], empty, empty[:, 0], "context", model.context)
    return sample_names(model, task, n=8, seed=0)


def _build_mlp(ds: Dataset, hidden: tuple[int, ...], activation: str, seed: int) -> nn.Module:
    if ds.X.ndim != 2:
        raise ValueError(
            f"live: the mlp model takes rows of features (2-D X), got X of shape {ds.X.shape}"
        )
    # the tutorial's init (N(0, 0.1²)) for its own network; Xavier for the wider toy nets
    init = "tutorial" if ds.name == "iris" else "xavier"
    return nn.mlp([ds.X.shape[1], *hidden, ds.num_classes], activation, init=init, rng=seed)


#: Data sets by name.  Each entry is one line of this table.
DATASETS: dict[str, DataSpec] = {
    "iris": DataSpec(
        "Iris, the tutorial's 4 → 10 → 5 → 3 network",
        _load_iris,
        lr=0.05,
        batch_size=150,
        optimizer="sgd",
        hidden=(10, 5),
    ),
    "spirals": DataSpec("two spirals (2-D)", _load_spirals, lr=0.03, batch_size=32),
    "moons": DataSpec("two moons (2-D)", _load_moons, lr=0.02, batch_size=32, hidden=(8, 8)),
    "digits": DataSpec(
        "handwritten digits (8×8), the digits CNN",
        _load_digits,
        model="cnn",
        lr=0.003,
        batch_size=64,
    ),
    "names": DataSpec(
        "first names, next character from the 3 before (Bengio MLP)",
        _load_names,
        model="char",
        lr=0.003,
        batch_size=64,
        hidden=(128,),
    ),
}

#: Models by name.
MODELS: dict[str, ModelSpec] = {
    "mlp": ModelSpec("Dense layers (nn.mlp)", _build_mlp),
    "cnn": ModelSpec("the digits CNN (models.DigitsCNN)", _build_cnn),
    "char": ModelSpec(
        "character MLP: embeddings of 3 characters, tanh, logits (models.NamesMLP)",
        _build_char,
        inputs=_indices,
        samples=_sample_names,
    ),
}


def _unknown(what: str, name: Any, table: dict[str, Any]) -> ValueError:
    return ValueError(f"live: unknown {what} {name!r}; expected one of {', '.join(table)}")


def load_dataset(name: str, seed: int = 0) -> Dataset:
    """Load the registered data set ``name`` (seeded where it is generated)."""
    if not isinstance(name, str) or name not in DATASETS:
        raise _unknown("data set", name, DATASETS)
    spec = DATASETS[name]
    X, y, classes = spec.load(int(seed))
    ds = as_dataset((X, y), name=name, classes=classes)
    ds.default_model, ds.lr, ds.batch_size = spec.model, spec.lr, spec.batch_size
    ds.optimizer, ds.hidden = spec.optimizer, spec.hidden
    return ds


def as_dataset(data: Any, name: str = "arrays", classes: Sequence[str] | None = None) -> Dataset:
    """A pair ``(X, y)`` checked and wrapped as a :class:`Dataset`; clear errors otherwise."""
    if isinstance(data, Dataset):
        return data
    if not (isinstance(data, (tuple, list)) and len(data) == 2):
        raise TypeError(
            "live: data must be a data set name "
            f"({', '.join(DATASETS)}) or a pair (X, y) of arrays, got {type(data).__name__}"
        )
    X = np.asarray(data[0].data if isinstance(data[0], Tensor) else data[0])
    y = np.asarray(data[1].data if isinstance(data[1], Tensor) else data[1])
    if X.dtype.kind not in "fiu" or X.ndim < 2 or X.shape[0] < 1 or X.size == 0:
        raise ValueError(
            "live: X must be a numeric array with rows first (at least 2-D), got shape "
            f"{X.shape} dtype {X.dtype}"
        )
    if not np.isfinite(X).all():
        raise ValueError("live: X holds NaN or infinite values")
    if y.ndim != 1 or y.dtype.kind not in "iu":
        raise ValueError(f"live: y must be 1-D integer class labels, got {y.shape} {y.dtype}")
    if len(y) != len(X):
        raise ValueError(f"live: X has {len(X)} rows but y has {len(y)} labels")
    if y.min() < 0:
        raise ValueError(f"live: class labels must be >= 0, got {y.min()}")
    n_classes = max(int(y.max()) + 1, 2, len(classes) if classes else 0)
    names = list(classes) if classes and len(classes) == n_classes else None
    return Dataset(
        name,
        # integer X (token or character indices) stays integer, for an embedding
        X.astype(np.int64 if X.dtype.kind in "iu" else np.float64),
        y.astype(np.int64),
        names or [str(i) for i in range(n_classes)],
    )


def build_model(
    name: str,
    ds: Dataset,
    hidden: Sequence[int] | None = None,
    activation: str = "tanh",
    seed: int = 0,
) -> nn.Module:
    """A fresh model ``name`` from :data:`MODELS` sized for ``ds``."""
    if not isinstance(name, str) or name not in MODELS:
        raise _unknown("model", name, MODELS)
    hidden_t = tuple(int(h) for h in (ds.hidden if hidden is None else hidden))
    if any(h < 1 for h in hidden_t):
        raise ValueError(f"live: hidden sizes must be positive, got {hidden_t}")
    return MODELS[name].build(ds, hidden_t, activation, int(seed))
