"""The models of the next chapters: short training runs by default, the measured results
(``benchmarks/model_results.py``) behind ``-m slow``."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from tinygrad_bp import optim
from tinygrad_bp.commands import models

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "data")


def _have_data() -> bool:
    try:
        from tinygrad_bp.data import load_digits, load_names  # noqa: F401

        return True
    except ImportError:
        return os.path.exists(os.path.join(SHARED, "digits.csv.gz"))


pytestmark = pytest.mark.skipif(not _have_data(), reason="the shipped data sets are absent")


@pytest.fixture(autouse=True)
def _data_env(monkeypatch):
    # before the data package lands, the loaders read the shared copies
    monkeypatch.setenv("TINYGRAD_BP_DIGITS", os.path.join(SHARED, "digits.csv.gz"))
    monkeypatch.setenv("TINYGRAD_BP_NAMES", os.path.join(SHARED, "names.txt"))


def test_digits_task_is_a_stratified_split():
    task = models.load_task("digits", "cnn")
    assert task.X_train.shape[1:] == (1, 8, 8) and len(task.y_test) == 359
    counts = np.bincount(task.y_test, minlength=10) / np.bincount(
        np.concatenate([task.y_train, task.y_test]), minlength=10
    )
    assert np.all(np.abs(counts - 0.2) < 0.02)
    a, b = (
        models.stratified_split(task.y_train, 0.2, 0),
        models.stratified_split(task.y_train, 0.2, 0),
    )
    np.testing.assert_array_equal(a[1], b[1])


def test_cnn_learns_digits_in_a_few_steps():
    task = models.load_task("digits", "cnn")
    model = models.build("digits", "cnn", seed=0, dtype=np.float32)
    before = models.evaluate(model, task)
    h = models.fit(model, task, optim.Adam(model.parameters(), lr=5e-3), steps=60, batch_size=64)
    assert np.mean(h["losses"][-10:]) < h["losses"][0] - 1.0
    assert models.evaluate(model, task) > max(before, 0.6)


@pytest.mark.parametrize("kind", ["mlp", "lstm", "transformer"])
def test_names_models_train_score_and_sample(kind):
    task = models.load_task("names", kind)
    if kind != "mlp":
        assert task.block_size == 16  # the longest name (15) + 1
        assert (task.y_train[:, -1] == -1).any() and (task.X_train[:, 0] == 0).all()
    model = models.build("names", kind, seed=0, dtype=np.float32, task=task)
    opt = optim.AdamW(model.parameters(), lr=3e-3)
    h = models.fit(model, task, opt, steps=12, batch_size=32)
    assert h["losses"][-1] < h["losses"][0]
    small = models.Task(
        task.data,
        task.X_train,
        task.y_train,
        task.X_test[:64],
        task.y_test[:64],
        task.kind,
        task.block_size,
    )
    loss = models.evaluate(model, small)
    assert 1.5 < loss < np.log(27) + 0.5
    names = models.sample_names(model, task, n=3, seed=0)
    assert len(names) == 3 and all(set(n) <= set(models.CHARS) for n in names)


def test_build_refuses_a_model_that_does_not_fit_the_data():
    with pytest.raises(ValueError, match="no model 'cnn' for data 'names'"):
        models.build("names", "cnn")
    with pytest.raises(ValueError, match="does not fit data"):
        models.load_task("digits", "lstm")


@pytest.mark.slow  # minutes each: python -m pytest -m slow tests/test_models.py
@pytest.mark.parametrize("run", ["cnn", "mlp", "lstm", "transformer"])
def test_measured_results(run, tmp_path):
    """The issue's result runs (minutes each): run the committed script and check its
    record against the targets."""
    import json

    out = subprocess.run(
        [sys.executable, os.path.join(ROOT, "benchmarks", "model_results.py"), run],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    with open(os.path.join(ROOT, "benchmarks", "results", "models", f"{run}.json")) as f:
        rec = json.load(f)
    if run == "cnn":
        assert (
            rec["test_accuracy"] >= 0.98
            and abs(rec["test_accuracy"] - rec["torch_test_accuracy"]) <= 0.005
        )
    elif run == "mlp":
        assert rec["test_loss"] <= 2.20
    else:
        assert rec["test_loss"] <= 2.05
        if run == "transformer":
            assert rec["max_test_gap"] <= 0.02
