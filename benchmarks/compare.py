"""This tree against another revision, side by side: ``python benchmarks/compare.py REV``.

A noisy machine makes absolute numbers drift from run to run, so both trees are
measured in one run, interleaved (this, other, this, other ...), each round in fresh
processes, and the table gives the median of each and their ratio. The other revision
is checked out into a temporary git worktree and measured with its own
``benchmarks/run.py`` functions, so each side runs the code it shipped with.

``--only`` picks benchmarks (default: cpu, cpu_512, import, log, sweep, completion);
``--rounds`` sets how many times each runs. Writes ``benchmarks/results/compare.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
TREE = HERE.parent
RESULTS = HERE / "results" / "compare.json"

#: benchmark name -> the call into that tree's ``run`` module
CALLS = {
    "cpu": "bench_cpu(32)",
    "cpu_512": "bench_cpu(32, long_side=512)",
    "import": "bench_import(repeat=5)",
    "log": "bench_log(rows=100_000)",
    "sweep": "bench_sweep(naive_cells=4)",
    "completion": "bench_completion(jobs=4)",
    "notebook": "bench_notebook(tasks=6)",
    "capacity": "bench_capacity(seconds=2.0)",
}
DEFAULT = ("cpu", "cpu_512", "import", "log", "sweep", "completion")


def measure(tree: Path, call: str) -> dict[str, Any]:
    """One benchmark of ``tree`` in a fresh process, with its own MJNB_HOME."""
    code = (
        "import json, sys; "
        f"sys.path[:0] = [{str(tree / 'benchmarks')!r}, {str(tree)!r}]; "
        f"import run; print(json.dumps(run.{call}))"
    )
    home = tempfile.mkdtemp(prefix="mjnb-compare-")
    env = {**os.environ, "PYTHONPATH": str(tree), "MJNB_HOME": home}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    if done.returncode != 0:  # say why, and go on with the other figures
        tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
        print(f"  {call} failed on {tree}: {tail[0]}", file=sys.stderr)
        return {}
    return json.loads(done.stdout.strip().splitlines()[-1])


def numbers(result: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in result.items() if isinstance(v, (int, float)) and v is not True}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rev", help="the revision to compare against (e.g. a commit)")
    parser.add_argument("--only", default=",".join(DEFAULT), help="benchmarks, comma-separated")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = sorted(set(names) - set(CALLS))
    if unknown:
        parser.error(f"unknown benchmarks {unknown}; choose from {sorted(CALLS)}")
    other = Path(tempfile.mkdtemp(prefix="mjnb-rev-")) / "tree"
    subprocess.run(
        ["git", "-C", str(TREE), "worktree", "add", "--detach", str(other), args.rev],
        check=True,
        capture_output=True,
    )
    samples: dict[str, dict[str, list[float]]] = {"this": {}, "other": {}}
    try:
        for round_ in range(args.rounds):
            for name in names:
                for side, tree in (("this", TREE), ("other", other)):
                    print(f"round {round_ + 1}: {name} on {side}", file=sys.stderr, flush=True)
                    for key, value in numbers(measure(tree, CALLS[name])).items():
                        samples[side].setdefault(key, []).append(value)
    finally:
        subprocess.run(
            ["git", "-C", str(TREE), "worktree", "remove", "--force", str(other)],
            capture_output=True,
        )
    rows = []
    for key in samples["this"]:
        if key not in samples["other"]:
            continue
        mine = statistics.median(samples["this"][key])
        theirs = statistics.median(samples["other"][key])
        ratio = mine / theirs if theirs else float("nan")
        rows.append({"figure": key, "this": mine, "other": theirs, "ratio": round(ratio, 3)})
    width = max((len(r["figure"]) for r in rows), default=10)
    print(f"{'figure':<{width}}  {'this':>12}  {args.rev[:12]:>12}  ratio")
    for r in rows:
        print(f"{r['figure']:<{width}}  {r['this']:>12g}  {r['other']:>12g}  {r['ratio']:.3f}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"rev": args.rev, "rounds": args.rounds, "rows": rows}, indent=2))
    print(f"written to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
