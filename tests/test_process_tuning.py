"""What importing tinygrad_bp tunes in the process.  glibc: freed array memory stays in
the process (mallopt) unless ``TINYGRAD_BP_MALLOC=default``, so a loop that frees and
reallocates a 2 MiB array takes no page faults, where glibc's defaults hand the memory
back and fault it in again.  CPython <= 3.12: the oldest generation's threshold is raised
unless ``TINYGRAD_BP_GC=default`` or the program set its own."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROBE = """
import json, resource
import numpy as np
import tinygrad_bp
from tinygrad_bp import _malloc
a = np.ones(2**18)
del a
f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(40):
    a = np.ones(2**18)  # 2 MiB: over glibc's initial mmap threshold
    b = a * 2.0
    del a, b
f1 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
print(json.dumps({"status": _malloc.status(), "faults": (f1 - f0) / 40}))
"""


def _probe(**env: str) -> dict:
    full = {**os.environ, "PYTHONPATH": ROOT, **env}
    full.pop("MALLOC_TRIM_THRESHOLD_", None)
    full.pop("MALLOC_MMAP_THRESHOLD_", None)
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env=full, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_import_tunes_glibc_and_the_page_faults_go():
    tuned = _probe()
    default = _probe(TINYGRAD_BP_MALLOC="default")
    assert tuned["status"].startswith("glibc: trim threshold 1073741824 bytes")
    assert "TINYGRAD_BP_MALLOC is set" in default["status"]
    assert default["faults"] >= 100  # 2 MiB handed back and faulted in again, every time
    assert tuned["faults"] <= default["faults"] / 10


def test_status_in_this_process_says_what_was_done():
    from tinygrad_bp import _malloc

    assert _malloc.status() != "not tried"
    assert _malloc.tune() == _malloc.status()  # once only


GC_PROBE = """
import gc, json, sys
if sys.argv[1] == "mine":
    gc.set_threshold(500, 10, 10)
import tinygrad_bp
from tinygrad_bp import _gc
print(json.dumps({"status": _gc.status(), "threshold": gc.get_threshold()}))
"""


def _gc_probe(arg: str, **env: str) -> dict:
    full = {**os.environ, "PYTHONPATH": ROOT, **env}
    full.pop("TINYGRAD_BP_GC", None)
    full.update(env)
    out = subprocess.run(
        [sys.executable, "-c", GC_PROBE, arg], env=full, capture_output=True, text=True,
        check=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(
    sys.implementation.name != "cpython" or sys.version_info >= (3, 13),
    reason="the generational collector of CPython <= 3.12",
)
def test_import_raises_the_oldest_generations_threshold_unless_told_or_set():
    tuned = _gc_probe("-")
    assert tuned["threshold"] == [700, 10, 1000] and tuned["status"].startswith("thresholds")
    default = _gc_probe("-", TINYGRAD_BP_GC="default")
    assert default["threshold"] == [700, 10, 10] and "TINYGRAD_BP_GC is set" in default["status"]
    mine = _gc_probe("mine")
    assert mine["threshold"] == [500, 10, 10] and "program's thresholds" in mine["status"]


def test_a_training_step_leaves_no_cyclic_garbage():
    # what lets the collector wait: graphs are freed by reference counting alone
    import gc

    import numpy as np

    import tinygrad_bp as tg

    model = tg.nn.Sequential(tg.nn.Linear(4, 8), tg.nn.Tanh(), tg.nn.Linear(8, 3))
    opt = tg.optim.AdamW(model.parameters())
    x, y = tg.Tensor(np.ones((5, 4))), np.array([0, 1, 2, 0, 1])
    gc.collect()
    was = gc.isenabled()
    gc.disable()
    try:
        for _ in range(3):
            opt.zero_grad()
            loss = tg.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
        del loss
        assert gc.collect() == 0
    finally:
        if was:
            gc.enable()
