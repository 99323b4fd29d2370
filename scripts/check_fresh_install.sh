#!/usr/bin/env bash
# A fresh virtual environment with only `pip install .` must render a PNG: the pygraphviz
# wheel brings the Graphviz engine, so no system package (no `dot` program) is needed.
# Usage: scripts/check_fresh_install.sh   (from anywhere; needs python3 and PyPI access)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
# pip builds in the checkout; remove what it leaves there unless it was there before
made=()
for d in build tinygrad_bp.egg-info; do [ -e "$repo/$d" ] || made+=("$repo/$d"); done
cleanup() { rm -rf "$work" ${made[@]+"${made[@]}"}; }
trap cleanup EXIT
python3 -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q --upgrade pip
# The project only, from the repository root (build/ and *.egg-info are git-ignored).
(cd "$repo" && "$work/venv/bin/python" -m pip install -q .)
cd "$work"  # not the checkout: the installed package must be the one imported
# PATH without the venv's or the system's programs: rendering must not need `dot`.
env -i HOME="$work" PATH="/nonexistent" "$work/venv/bin/python" -c '
import sys
import numpy as np
import tinygrad_bp as tg
assert "site-packages" in tg.__file__, tg.__file__
w = tg.Tensor(np.array([[0.5, -1.0], [2.0, 0.25]]), requires_grad=True)
loss = (tg.Tensor(np.ones((3, 2))) @ w).tanh().sum()
g = tg.viz.draw_graph(loss, backward=True)
g.save("fresh.png")
with open("fresh.png", "rb") as f:
    sig = f.read(8)
if sig != b"\x89PNG\r\n\x1a\n":
    sys.exit(f"fresh install: fresh.png is not a PNG (starts with {sig!r})")
print("fresh install renders PNG:", g)
'
