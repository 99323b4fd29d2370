"""`tinygrad-bp train --data digits|names --model ...`: the later chapters' models on the
command line, a few steps each (the full runs are benchmarks/model_results.py's)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from tinygrad_bp import optim
from tinygrad_bp.commands import cli, models
from tinygrad_bp.commands import train as train_mod
from tinygrad_bp.commands.train import MODEL_DEFAULTS, train_model

PAIRS = [("digits", "mlp"), ("digits", "cnn"), ("names", "mlp"), ("names", "lstm"),
         ("names", "transformer")]  # fmt: skip
QUICK = ["--steps", "4", "--batch-size", "4", "--eval-every", "10"]


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = cli.main(list(argv))
    except SystemExit as exc:  # argparse rejects the arguments
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("data,model", PAIRS)
def test_each_pair_trains_a_few_steps_and_writes_its_files(tmp_path, capsys, data, model):
    out = tmp_path / "run"
    code, stdout, err = run_cli(
        capsys, "train", "--data", data, "--model", model, *QUICK, "--out", str(out)
    )
    assert code == 0, err
    files = {"summary.json", "weights.npz", "curves.png", "history.csv", "graph.png"}
    if data == "names":
        files.add("samples.txt")
    assert files <= {p.name for p in out.iterdir()}
    s = json.loads((out / "summary.json").read_text())
    assert (s["data"], s["model"], s["steps"], s["batch_size"], s["seed"]) == (
        data, model, 4, 4, 0,
    )  # fmt: skip
    assert s["lr"] == MODEL_DEFAULTS[(data, model)].lr and s["wall_s"] > 0
    assert np.isfinite(s["test_loss"]) and set(s["files"]) == files
    if data == "digits":
        assert 0 <= s["test_accuracy"] <= 1
        assert f"held-out accuracy {s['test_accuracy']:.4f}" in stdout
    else:
        assert 2.0 < s["test_loss"] < np.log(27) + 0.5  # nats per character, barely trained
        samples = (out / "samples.txt").read_text().splitlines()
        assert len(samples) == 20 and samples == s["samples"]
        assert all(set(w) <= set(models.CHARS) for w in samples)
        assert "\n".join(f"  {w}" for w in samples) in stdout
    for name in ("curves.png", "graph.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with open(out / "history.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0][:3] == ["step", "train_loss", "test_loss"] and len(rows) == 5
    assert rows[-1][2] != "" and all(r[2] == "" for r in rows[1:-1])  # scored at the end
    # the weights rebuild the model: its name and arguments are in the file's metadata
    from tinygrad_bp.serialization import read

    state, meta = read(out / "weights.npz")
    task = models.load_task(data, model)
    assert meta["rebuild"] == "tinygrad_bp.commands.models.build(**model)"
    again = models.build(**meta["model"])
    assert all(p.dtype == np.float32 for p in again.parameters())
    again.load(out / "weights.npz")
    assert sorted(state) == sorted(again.state_dict())
    if model in ("lstm", "transformer"):
        return  # scoring their held-out set again takes seconds
    assert models.evaluate(again, task) == pytest.approx(s["test_loss" if data == "names" else
                                                         "test_accuracy"], rel=1e-6)  # fmt: skip


def test_training_is_the_results_scripts_loop():
    """The command's chunks, schedule and label smoothing give the losses the results
    script's single call of models.fit gives (digits CNN: cosine, label smoothing 0.1)."""
    d = MODEL_DEFAULTS[("digits", "cnn")]
    steps, bs = 12, 8
    r = train_model("digits", "cnn", steps=steps, batch_size=bs, eval_every=5)
    task = models.load_task("digits", "cnn")
    model = models.build("digits", "cnn", seed=0, dtype=np.float32)
    opt = optim.Adam(model.parameters(), lr=d.lr)
    batches = models.batch_indices(task, steps, bs, seed=0)
    h = models.fit(model, task, opt, steps, bs, batches=batches, label_smoothing=0.1,
                   lr_at=models.cosine(d.lr, steps))  # fmt: skip
    np.testing.assert_array_equal(r.history["train_loss"], h["losses"])
    assert r.history["eval_step"] == [5, 10, 12]
    assert r.summary["test_accuracy"] == models.evaluate(model, task)


def test_names_schedule_is_the_chunked_one_of_the_results_script():
    # model_results.py set lr at each tenth's start: 3e-3 through step 15999 of 20000
    sched = train_mod._schedule(MODEL_DEFAULTS[("names", "mlp")], 3e-3, 20000)
    assert sched(0) == sched(15999) == 3e-3
    assert sched(16000) == sched(19999) == pytest.approx(3e-4)


def test_same_seed_same_run_and_quiet_prints_nothing(tmp_path, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    for out in (a, b):
        code, stdout, err = run_cli(capsys, "train", "--data", "digits", *QUICK, "--seed", "3",
                                    "--quiet", "--out", str(out))  # fmt: skip
        assert (code, stdout, err) == (0, "", "")
    sa, sb = (json.loads((p / "summary.json").read_text()) for p in (a, b))
    assert sa["model"] == "mlp" and sa["seed"] == 3  # --model defaults to mlp
    for key in ("final_train_loss", "test_loss", "test_accuracy"):
        assert sa[key] == sb[key]
    assert (a / "history.csv").read_bytes() == (b / "history.csv").read_bytes()
    assert (a / "graph.png").read_bytes() == (b / "graph.png").read_bytes()


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--data", "digits", "--model", "lstm"], "no model 'lstm' for data 'digits'"),
        (["--data", "names", "--model", "cnn"], "no model 'cnn' for data 'names'"),
        (["--model", "cnn"], "no model 'cnn' for data 'iris'"),
        (["--data", "iris", "--model", "transformer"], "no model 'transformer' for data 'iris'"),
        (["--data", "mnist"], "unknown data 'mnist'"),
        (["--data", "digits", "--hidden", "8"], "--hidden belong to the tutorial's"),
        (["--data", "names", "--compare"], "--compare belong to the tutorial's"),
        (["--steps", "5"], "--steps is for --data digits|names"),
        (["--data", "digits", "--steps", "0"], "steps must be a positive integer"),
        (["--data", "digits", "--steps", "5", "--epochs", "1"], "--steps or --epochs"),
        (["--data", "names", "--lr", "-1"], "lr must be a positive number"),
    ],
)
def test_bad_pairs_and_flags_are_one_line_and_exit_2(tmp_path, capsys, argv, message):
    out = tmp_path / "run"
    code, stdout, err = run_cli(capsys, "train", *argv, "--out", str(out))
    assert code == 2 and stdout == ""
    assert message in err, err
    assert "Traceback" not in err and err.count("\n") == 1
    if "no model" in message or "unknown data" in message:
        assert "iris:mlp, digits:mlp|cnn, names:mlp|lstm|transformer" in err
    assert not out.exists()  # nothing written


def test_epochs_count_passes_over_the_training_set():
    r = train_model("digits", "mlp", epochs=1, batch_size=512, eval_every=100)
    assert r.summary["steps"] == 3  # 1437 training images / 512 per step, rounded up


def test_progress_bar_counts_steps(capsys):
    r = train_model("digits", "mlp", steps=10, batch_size=8, eval_every=10, progress=True)
    err = capsys.readouterr().err
    assert len(r.history["train_loss"]) == 10
    assert "/10 [" in err and "step/s" in err, err  # a bar over the 10 steps
