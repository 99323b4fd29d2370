"""Thin runner for the benchmark: the same as ``tinygrad-bp bench`` (same arguments).

python benchmarks/run.py --threads 1 2 --out docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tinygrad_bp.commands import bench  # noqa: E402

if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="benchmarks/run.py", description=bench.__doc__)
    bench.configure(parser)
    sys.exit(bench.main(parser.parse_args()))
