"""README's Python blocks run as written, in order, in one namespace (a temp folder as cwd)."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_python_blocks_run(tmp_path, monkeypatch):
    pytest.importorskip("torch")  # one block is the same program in PyTorch
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert len(blocks) >= 4
    monkeypatch.chdir(tmp_path)
    ns: dict = {"__name__": "__readme__"}
    for i, code in enumerate(blocks):
        exec(compile(code, f"README.md block {i}", "exec"), ns)
    # the pictures block wrote its files
    for name in (
        "forward.png",
        "backward.svg",
        "layers.png",
        "steps/backward_steps.gif",
        "steps/index.html",
    ):
        assert (tmp_path / name).exists(), name
    assert ns["loss"].item() < 0.5  # the Iris loop trained
