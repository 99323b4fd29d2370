"""`tinygrad-bp compare` and `tinygrad-bp train`, as functions and end to end."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from tinygrad_bp import nn, ops
from tinygrad_bp.commands import cli
from tinygrad_bp.commands import compare as compare_mod
from tinygrad_bp.commands import train as train_mod
from tinygrad_bp.commands._output import MANIFEST
from tinygrad_bp.commands.compare import compare, format_report
from tinygrad_bp.commands.train import train
from tinygrad_bp.data import load_iris
from tinygrad_bp.tensor import make_node


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = cli.main(list(argv))
    except SystemExit as exc:  # argparse rejects the arguments
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------------- compare
def test_compare_default_passes_with_tiny_differences():
    r = compare()
    assert r.ok, r.failures
    assert len(r.params) == 2 * 3 * 6  # tasks x activations x parameters
    assert r.max_ref_diff < 1e-14
    assert r.max_fd_diff < 1e-10
    assert r.max_intermediate_diff < 1e-14
    for row in r.intermediates:
        assert row.factor == pytest.approx(150, rel=1e-12)
    top = [o for o in r.order if o.name.startswith("2.")]
    lower = [o for o in r.order if not o.name.startswith("2.")]
    assert all(o.rel_change == 0 for o in top)  # the top layer is never affected
    assert all(o.rel_change > 1e-5 for o in lower)  # the lower ones are, measurably
    assert max(r.broadcast_diff.values()) < 1e-15


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(batch_size=1, activations="relu"),
        dict(hidden="", tasks="regress"),
        dict(hidden=(7,), dtype="float32", activations="sigmoid"),
        dict(init="he", seed=3, batch_size=37, activations="relu"),
    ],
)
def test_compare_other_settings_pass(kwargs):
    r = compare(**kwargs)
    assert r.ok, r.failures


def test_compare_reports_relu_kinks_instead_of_comparing_them():
    # seed 5: three Iris rows switch off every first-layer unit, so the second layer's
    # pre-activations there are exactly its (zero) bias: the loss has a kink in 1.b.
    r = compare(activations="relu", tasks="classify", seed=5)
    assert r.ok
    row = next(p for p in r.params if p.name == "1.b")
    assert row.fd_kinks == 5
    assert "on-kink" in format_report(r)


def _bad_tanh(x):
    """tanh with a wrong derivative, g·(1 − t) instead of g·(1 − t²)."""
    t = np.tanh(x.data)
    return make_node(t, (x,), "tanh", lambda g: (g * (1 - t),))


def test_compare_catches_a_wrong_derivative_and_the_command_exits_1(monkeypatch, capsys):
    monkeypatch.setitem(nn.ACTIVATIONS, "tanh", _bad_tanh)
    r = compare(activations="tanh", tasks="classify")
    assert not r.ok
    assert any("|engine - hand-written|" in f for f in r.failures)
    assert any("finite diff" in f for f in r.failures)
    code, out, _ = run_cli(capsys, "compare", "--activation", "tanh", "--task", "classify")
    assert code == 1
    assert "FAIL" in out


def test_compare_command_prints_the_tables(capsys):
    code, out, _ = run_cli(capsys, "compare", "--hidden", "6", "--batch-size", "20", "--seed", "2")
    assert code == 0
    for text in ("== classify: 4-6-3", "== regress: 4-6-3", "|eng-ref|", "factor", "20.000"):
        assert text in out
    assert "tutorial's order" in out and "OK: every difference" in out


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--hidden", "10,x"], "comma-separated positive integers"),
        (["--hidden", "10,0"], "positive integer"),
        (["--batch-size", "151", "--task", "classify"], "between 1 and 150"),
        (["--fd-step", "-1"], "fd_step must be a positive number"),
    ],
)
def test_compare_bad_input_is_one_clear_error(capsys, argv, message):
    code, out, err = run_cli(capsys, "compare", *argv)
    assert code == 2
    assert message in err and "Traceback" not in err
    assert err.count("\n") == 1


def test_compare_unknown_activation_is_rejected_by_the_parser(capsys):
    code, _, err = run_cli(capsys, "compare", "--activation", "softplus")
    assert code == 2 and "invalid choice: 'softplus'" in err


# ---------------------------------------------------------------------- train
def test_train_notebook_settings_reach_the_tutorials_accuracy():
    """Iris, full batch, lr 0.01, 2000 epochs, tutorial init, seed 0, both models."""
    single = train(hidden=(), epochs=2000, lr=0.01, seed=0)
    deep = train(hidden=(10, 5), epochs=2000, lr=0.01, seed=0)
    assert single.summary["sizes"] == [4, 3] and deep.summary["sizes"] == [4, 10, 5, 3]
    assert single.summary["final"]["train_accuracy"] >= 0.9
    assert deep.summary["final"]["train_accuracy"] >= 0.9
    # the loss goes down over training
    for r in (single, deep):
        assert r.history["train_loss"][-1] < 0.5 * r.history["train_loss"][0]


def test_train_is_deterministic_for_a_seed():
    kwargs = dict(epochs=30, batch_size=16, optimizer="adam", test_fraction=0.2)
    a, b = train(seed=4, **kwargs), train(seed=4, **kwargs)
    c = train(seed=5, **kwargs)
    assert a.history == b.history and a.summary == b.summary
    for k, v in a.model.state_dict().items():
        np.testing.assert_array_equal(b.model.state_dict()[k], v)
    assert a.history != c.history


def test_train_held_out_split_uses_training_statistics():
    r = train(epochs=5, test_fraction=0.2, seed=1)
    assert r.summary["n_train"] == 120 and r.summary["n_test"] == 30
    X, y = load_iris()
    std = r.summary["standardize"]
    assert std["statistics_of"] == "training rows"
    assert not np.allclose(std["mean"], X.mean(axis=0))  # not the whole set's
    assert r.summary["final"]["test_accuracy"] is not None
    whole = train(epochs=5)
    np.testing.assert_allclose(whole.summary["standardize"]["mean"], X.mean(axis=0))


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_train_regression_learns(optimizer):
    r = train(task="regress", epochs=150, lr=0.05 if optimizer != "adam" else 0.01,
              optimizer=optimizer, batch_size=20)  # fmt: skip
    assert r.summary["sizes"] == [4, 10, 5, 3]
    assert r.history["train_loss"][-1] < r.history["train_loss"][0]
    assert r.summary["final"]["train_r2"] > 0.3


def test_train_command_writes_everything(tmp_path, capsys):
    out = tmp_path / "runs" / "iris"
    code, stdout, _ = run_cli(capsys, "train", "--epochs", "25", "--out", str(out),
                              "--test-fraction", "0.2", "--compare")  # fmt: skip
    assert code == 0
    assert "train accuracy" in stdout and "test accuracy" in stdout and "OK" in stdout
    files = {"summary.json", "weights.npz", "curves.png", "history.csv", "compare.txt",
             "graph_forward.png", "graph_backward.png"}  # fmt: skip
    assert set(os.listdir(out)) == files | {MANIFEST}  # the manifest names the files
    assert set(json.loads((out / MANIFEST).read_text())["files"]) == files
    assert os.listdir(out.parent) == ["iris"]  # no temporary folder left beside it
    summary = json.loads((out / "summary.json").read_text())
    assert summary["epochs"] == 25 and summary["compare"]["ok"] is True
    assert sorted(summary["files"]) == sorted(files)
    for png in ("curves.png", "graph_forward.png", "graph_backward.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len((out / "history.csv").read_text().splitlines()) == 26
    assert "maxima over" in (out / "compare.txt").read_text()
    model = nn.mlp(summary["sizes"], activation=summary["activation"])
    model.load(out / "weights.npz")
    # the saved weights reproduce the reported training accuracy
    X, y = load_iris()
    Z = (X - summary["standardize"]["mean"]) / np.array(summary["standardize"]["std"])
    from tinygrad_bp.commands.train import train_test_split

    Xtr, ytr, _, _ = train_test_split(Z, y, 0.2, seed=0)
    acc = (model(Xtr).data.argmax(axis=1) == ytr).mean()
    assert acc == pytest.approx(summary["final"]["train_accuracy"])


def test_train_replaces_its_own_files_and_nothing_else(tmp_path, capsys):
    out = tmp_path / "run"
    assert run_cli(capsys, "train", "--epochs", "2", "--out", str(out), "--quiet")[0] == 0
    (out / "notes.txt").write_text("mine, beside a previous run")
    assert run_cli(capsys, "train", "--epochs", "3", "--out", str(out), "--quiet")[0] == 0
    assert (out / "notes.txt").read_text() == "mine, beside a previous run"  # main deleted it
    assert json.loads((out / "summary.json").read_text())["epochs"] == 3
    # a folder of the user's own: the run goes beside the user's files, which stay
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("precious")
    assert run_cli(capsys, "train", "--epochs", "2", "--out", str(foreign), "--quiet")[0] == 0
    assert (foreign / "thesis.tex").read_text() == "precious"
    assert (foreign / "summary.json").is_file()
    # a file of a name the run writes, that tinygrad-bp did not write: refused at once
    other = tmp_path / "other"
    other.mkdir()
    (other / "summary.json").write_text("the user's own summary")
    code, _, err = run_cli(capsys, "train", "--epochs", "2", "--out", str(other))
    assert code == 2 and "refusing to overwrite it" in err and "summary.json" in err
    assert os.listdir(other) == ["summary.json"]
    assert (other / "summary.json").read_text() == "the user's own summary"


def test_a_failure_during_output_leaves_nothing_behind(tmp_path, monkeypatch):
    def broken_plot(*args, **kwargs):
        raise RuntimeError("disk full while drawing")

    monkeypatch.setattr(train_mod, "_plot_curves", broken_plot)
    out = tmp_path / "run"
    with pytest.raises(RuntimeError, match="disk full"):
        train(epochs=2, out=out)
    assert os.listdir(tmp_path) == []


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(
    "case,message",
    [
        ("hidden", "comma-separated positive integers"),
        ("hidden0", "positive integer"),
        ("missing", "data file not found"),
        ("malformed", "'abc' is not a number"),
        ("ragged", "row 3 has 2 fields, the header has 3"),
        ("negative", "labels out of range"),
        ("unwritable", "a_file is a file, not a folder"),
        ("outfile", "out.txt: it is a file, not a folder"),
        ("lr", "lr must be a positive number"),
    ],
)
def test_train_bad_input_is_one_clear_error_and_exit_2(tmp_path, capsys, case, message):
    args = ["train", "--epochs", "2", "--quiet"]
    if case == "hidden":
        args += ["--hidden", "10,abc"]
    elif case == "hidden0":
        args += ["--hidden", "10,0"]
    elif case == "missing":
        args += ["--data", str(tmp_path / "nope.csv")]
    elif case == "malformed":
        args += ["--data", _write(tmp_path / "d.csv", "a,b,label\n1,2,x\n1,abc,y\n")]
    elif case == "ragged":
        args += ["--data", _write(tmp_path / "d.csv", "a,b,label\n1,2,x\n1,y\n")]
    elif case == "negative":
        args += ["--data", _write(tmp_path / "d.csv", "a,b,label\n1,2,0\n1,3,-1\n")]
    elif case == "unwritable":
        blocker = tmp_path / "a_file"
        blocker.write_text("")
        args += ["--out", str(blocker / "run")]
    elif case == "outfile":
        args += ["--out", _write(tmp_path / "out.txt", "")]
    elif case == "lr":
        args += ["--lr", "-0.1"]
    code, _, err = run_cli(capsys, *args)
    assert code == 2
    assert message in err, err
    assert "Traceback" not in err and err.count("\n") == 1


@pytest.mark.parametrize("flag,value", [("--activation", "softplus"), ("--optimizer", "rmsprop")])
def test_train_unknown_choices_are_rejected(capsys, flag, value):
    code, _, err = run_cli(capsys, "train", flag, value)
    assert code == 2 and f"invalid choice: '{value}'" in err


def test_train_function_bad_input():
    X, y = load_iris()
    with pytest.raises(ValueError, match=r"labels out of range: expected 0..2 for 3 classes"):
        train(data=(X, np.where(y == 2, 5, y)), num_classes=3, epochs=1)
    with pytest.raises(ValueError, match="X has 150 rows but y has 149"):
        train(data=(X, y[:-1]), epochs=1)
    with pytest.raises(ValueError, match="unknown optimizer 'rmsprop'"):
        train(optimizer="rmsprop", epochs=1)
    with pytest.raises(ValueError, match="unknown activation 'elu'"):
        train(activation="elu", epochs=1)
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        train(epochs=0)
    with pytest.raises(RuntimeError, match="lower the learning rate"):
        train(task="regress", activation="relu", lr=1e3, epochs=50)


def test_train_on_a_csv_with_text_and_integer_labels(tmp_path):
    X, y = load_iris()
    names = np.array(["a", "b", "c"])[y]
    rows = "\n".join(",".join([*map(str, x), lab]) for x, lab in zip(X, names))
    r = train(data=_write(tmp_path / "t.csv", "f1,f2,f3,f4,kind\n" + rows), epochs=3)
    assert r.summary["classes"] == ["a", "b", "c"]
    rows = "\n".join(",".join([*map(str, x), str(lab)]) for x, lab in zip(X, y))
    r = train(data=_write(tmp_path / "n.csv", "f1,f2,f3,f4,k\n" + rows), epochs=3)
    assert r.summary["classes"] == ["0", "1", "2"]


def test_compare_and_train_modules_expose_the_cli_contract():
    for mod in (compare_mod, train_mod):
        assert callable(mod.configure) and callable(mod.main)
    assert ops.tanh is nn.ACTIVATIONS["tanh"]
