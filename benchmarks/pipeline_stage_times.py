"""Run `dvc repro` and print how long each stage took, per stage and per stage family.

    python benchmarks/pipeline_stage_times.py                 # dvc repro in the current repo
    python benchmarks/pipeline_stage_times.py --force         # every stage, cached or not
    python benchmarks/pipeline_stage_times.py --json t.json   # also save the figures

A stage's time runs from DVC's "Running stage" line to the next stage's (or the end), so it
includes DVC's own hashing and lock-file update for that stage. Arguments after the options go
to `dvc repro` unchanged.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

STAGE_LINE = re.compile(r"^Running stage '([^']+)'")


def timed_repro(extra: list[str]) -> tuple[list[tuple[str, float]], float, int]:
    """(stage, seconds) in run order, total seconds and dvc's exit status."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "dvc", "repro", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )
    stages: list[tuple[str, float]] = []
    current, since = None, start
    for line in proc.stdout:
        sys.stdout.write(line)
        match = STAGE_LINE.match(line)
        if match:
            now = time.perf_counter()
            if current:
                stages.append((current, now - since))
            current, since = match.group(1), now
    status = proc.wait()
    end = time.perf_counter()
    if current:
        stages.append((current, end - since))
    return stages, end - start, status


def family(stage: str) -> str:
    """`train@simple_cnn-d50` -> `train`."""
    return stage.split("@", 1)[0]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    args, extra = parser.parse_known_args()
    stages, total, status = timed_repro(extra)
    per_family: dict[str, list[float]] = defaultdict(list)
    for stage, seconds in stages:
        per_family[family(stage)].append(seconds)

    print(f"\n{'stage':<48} {'seconds':>9}")
    for stage, seconds in stages:
        print(f"{stage:<48} {seconds:9.1f}")
    print(f"\n{'family':<16} {'stages':>6} {'seconds':>9} {'share':>6}")
    for name, times in per_family.items():
        print(f"{name:<16} {len(times):6d} {sum(times):9.1f} {sum(times) / total:6.1%}")
    print(f"{'total (wall)':<16} {len(stages):6d} {total:9.1f}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "total_seconds": total,
                    "exit_status": status,
                    "stages": dict(stages),
                    "families": {k: sum(v) for k, v in per_family.items()},
                },
                indent=2,
            )
        )
    return status


if __name__ == "__main__":
    sys.exit(main())
