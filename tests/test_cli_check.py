"""``tinygrad-bp exercise`` and ``tinygrad-bp check``: starters that check as "not written
yet", pass when filled in right, fail (exit 1) when filled in wrong; exit 2 on bad input;
no file overwritten that the command did not write."""

from __future__ import annotations

import shutil

import pytest

from tinygrad_bp.commands.cli import main
from tinygrad_bp.commands.exercises import NAMES

from .exercise_solutions import solved

BROKEN_DENSE = """\
        a_grad = input_grad * (1 - self.h**2)
        self.dW = self.input_data.T @ a_grad / len(input_grad)
        self.db = a_grad
        return a_grad @ self.W.T
"""


@pytest.fixture
def run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)

    def go(*argv):
        code = main(list(argv))
        out = capsys.readouterr()
        return code, out.out, out.err

    return go


def test_exercise_lists_writes_and_never_overwrites(run, tmp_path) -> None:
    code, out, _ = run("exercise")
    assert code == 0 and all(n in out for n in NAMES)
    code, out, _ = run("exercise", "dense-tanh")
    assert code == 0 and (tmp_path / "dense_tanh.py").is_file()
    (tmp_path / "dense_tanh.py").write_text("# mine\n")
    code, _, err = run("exercise", "dense-tanh")
    assert code == 2 and "exists: not overwriting" in err
    assert (tmp_path / "dense_tanh.py").read_text() == "# mine\n"
    code, _, err = run("exercise", "dense", "--out", "d.py")
    assert code == 2 and "unknown exercise 'dense'" in err and not (tmp_path / "d.py").exists()
    code, _, _ = run("exercise", "lstm", "--out", "my_lstm.py")
    assert code == 0 and "def check_lstm" in (tmp_path / "my_lstm.py").read_text()


@pytest.mark.parametrize("name", NAMES)
def test_untouched_starter_is_not_written_yet_and_solved_passes(run, tmp_path, name) -> None:
    code, _, _ = run("exercise", name, "--out", "ex.py")
    assert code == 0
    code, out, err = run("check", "ex.py")
    assert code == 1 and "not written yet" in out and err == ""
    (tmp_path / "ok.py").write_text(solved(name, "ok.py"))
    code, out, err = run("check", "ok.py")
    assert code == 0, out + err
    assert ": ok" in out


def test_a_broken_starter_exits_1_and_draws_beside_the_file(run, tmp_path) -> None:
    (tmp_path / "broken.py").write_text(solved("dense-tanh", "broken.py", BROKEN_DENSE))
    code, out, _ = run("check", "broken.py")
    assert code == 1 and "÷ 5 (the batch size)" in out.replace("\n    ", " ")
    assert "sum over the batch" in out.replace("\n    ", " ")
    assert not list(tmp_path.glob("*.png"))  # a picture only when asked
    code, out, _ = run("check", "broken.py", "--picture")
    pic = tmp_path / "broken.check_dense_tanh.png"
    assert code == 1 and pic.is_file() and f"picture: {pic.name}" in out.replace("broken.py", "")
    code, _, _ = run("check", "broken.py", "--picture")  # its own picture: replaced
    assert code == 1
    foreign = tmp_path / "other.png"
    shutil.copy(pic, foreign)
    pic.write_bytes(b"the learner's own file")
    code, _, err = run("check", "broken.py", "--picture")
    assert code == 2 and "not written by tinygrad-bp check" in err
    assert pic.read_bytes() == b"the learner's own file"


def test_bad_files_exit_2(run, tmp_path) -> None:
    code, _, err = run("check", "missing.py")
    assert code == 2 and "no such file" in err
    (tmp_path / "syntax.py").write_text("def check_x(:\n")
    code, _, err = run("check", "syntax.py")
    assert code == 2 and "does not import (SyntaxError)" in err
    (tmp_path / "raises.py").write_text("import numpy\nraise ValueError('mine')\n")
    code, _, err = run("check", "raises.py")
    assert code == 2 and "does not import (ValueError)" in err and 'raises.py", line 2' in err
    (tmp_path / "empty.py").write_text("x = 1\n")
    code, _, err = run("check", "empty.py")
    assert code == 2 and "no check_* function" in err
    (tmp_path / "notreport.py").write_text("def check_a():\n    return 3\n")
    code, _, err = run("check", "notreport.py")
    assert code == 2 and "check_a() returned int; expected a report" in err
    (tmp_path / "unknown.py").write_text(
        solved("dense-tanh", "unknown.py").replace('engine="dense"', 'engine="dense2"')
    )
    code, _, err = run("check", "unknown.py")
    assert code == 2 and "unknown built-in layer 'dense2'" in err
