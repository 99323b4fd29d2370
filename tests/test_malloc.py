"""Importing tinygrad_bp keeps freed array memory in the process (glibc's mallopt), unless
``TINYGRAD_BP_MALLOC=default``: a loop that frees and reallocates a 2 MiB array then takes
no page faults, where glibc's defaults hand the memory back and fault it in again."""

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
