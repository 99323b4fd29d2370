"""The benchmarks page: ``tinygrad-bp bench``'s harness with the peers (PyTorch eager,
MyGrad, HIPS autograd, where installed) and the goals, written as Markdown.

python benchmarks/run.py --threads 1 2 --out docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import page  # noqa: E402
import peers  # noqa: E402

from tinygrad_bp.commands import bench  # noqa: E402
from tinygrad_bp.commands._output import check_file_target, write_file  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    peers.register_all()  # before configure(): the peers become choices of --impls
    parser = argparse.ArgumentParser(prog="benchmarks/run.py", description=__doc__)
    bench.configure(parser)
    args = parser.parse_args(argv)
    for flag, path in (("--out", args.out), ("--json", args.json)):
        if path:
            check_file_target(path, f"benchmarks/run.py {flag}")
    config = bench.config_from_args(args)
    results = bench.run(config)
    shown = sys.argv[1:] if argv is None else argv
    results["command"] = shlex.join(["python", "benchmarks/run.py", *shown])
    text = page.render_markdown(results)
    if args.out:
        write_file(args.out, text, "benchmarks/run.py --out")
    if args.json:
        write_file(args.json, json.dumps(results, indent=1), "benchmarks/run.py --json")
    print(text)
    return 0 if results["checks_passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
