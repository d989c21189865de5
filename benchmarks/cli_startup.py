"""Time `orgdeploy --help` against `python -c "import typer"` (the floor any typer CLI pays).

Run: python benchmarks/cli_startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time


def _time(command: list[str], runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    baseline = _time([sys.executable, "-c", "import typer"], args.runs)
    cli = _time([sys.executable, "-m", "orgdeploy", "--help"], args.runs)
    heavy = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "orgdeploy", "--help"], capture_output=True, text=True, check=True
    ).stderr
    loaded = sorted({m for m in ("boto3", "botocore", "cfnlint", "moto", "pydantic", "jinja2") if f" {m}\n" in heavy})
    print(f"import typer:       {baseline * 1000:7.1f} ms (median of {args.runs})")
    print(f"orgdeploy --help:   {cli * 1000:7.1f} ms (median of {args.runs})")
    print(f"ratio:              {cli / baseline:7.2f}x")
    print(f"heavy modules imported by --help: {', '.join(loaded) or 'none'}")


if __name__ == "__main__":
    main()
