"""Every hostile case of issue 14, one client subprocess each: ``python benchmarks/hostile.py``.

Serves each case of :mod:`tests.hostile` over loopback HTTP, runs the client against it
in a subprocess whose address space is capped (1.5 GB; 2.5 GB for four honest 8000²
images), and prints one table: the case, the task's final status and reason, the time
to the final state, the client's peak RSS and what it did wrong (``ok`` when it kept
every promise). Writes ``benchmarks/results/hostile.json``. A case that never ends is
reported at its budget; a client that would need GBs hits the cap and is reported as
crashed or failed, never run unbounded.

``--case NAME`` (repeatable) runs only those cases and updates their rows in the JSON;
``--no-special`` skips the resume, CLI and simulator flows.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.hostile import (  # noqa: E402 - the repository root is put on the path first
    BY_NAME,
    CASES,
    problems,
    run_case,
    run_cli_echo,
    run_resume,
    run_sim_reset,
)

RESULTS = ROOT / "benchmarks" / "results" / "hostile.json"


def _short(text: Any, width: int) -> str:
    value = " ".join(str(text or "").split()).encode("ascii", "backslashreplace").decode()
    return value if len(value) <= width else value[: width - 1] + "…"


def run_cases(names: list[str]) -> list[dict[str, Any]]:
    rows = []
    for case in [BY_NAME[name] for name in names] if names else CASES:
        with tempfile.TemporaryDirectory() as tmp:
            started = time.monotonic()
            outcome = run_case(case, Path(tmp) / "home")
            result = outcome.result
            rows.append(
                {
                    "case": case.name,
                    "about": case.about,
                    "provider": case.provider,
                    "status": result.get("status"),
                    "final": bool(result.get("done")),
                    "reason": result.get("error"),
                    "seconds_to_final": result.get("seconds") if result.get("done") else None,
                    "waited_s": result.get("seconds"),
                    "peak_rss_mb": result.get("peak_rss_mb"),
                    "limit_mb": case.as_limit_mb,
                    "wall_s": round(time.monotonic() - started, 1),
                    "problems": problems(outcome),
                    "notes": result.get("notes") or [],
                }
            )
        _print_row(rows[-1])
    return rows


def run_special() -> list[dict[str, Any]]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        started = time.monotonic()
        resumed = run_resume(Path(tmp) / "home")
        found = []
        if not resumed.get("done"):
            found.append(f"the resumed task never ended ({resumed.get('status')})")
        if "internal error" in str(resumed.get("error")):
            found.append("an internal error")
        if resumed.get("third_resumed"):
            found.append("a third kernel resumed it again")
        rows.append(
            {
                "case": "resume_broken",
                "about": "a resumed job answers imageUrl as an int",
                "provider": "mjproxy",
                "status": resumed.get("status"),
                "final": bool(resumed.get("done")),
                "reason": resumed.get("error"),
                "seconds_to_final": resumed.get("seconds") if resumed.get("done") else None,
                "waited_s": resumed.get("seconds"),
                "peak_rss_mb": resumed.get("peak_rss_mb"),
                "wall_s": round(time.monotonic() - started, 1),
                "problems": found,
            }
        )
    _print_row(rows[-1])
    for lower in (False, True):
        with tempfile.TemporaryDirectory() as tmp:
            echo = run_cli_echo(Path(tmp) / "home", lower=lower)
            rows.append(
                {
                    "case": f"cli_echo_{'lower' if lower else 'encoded'}",
                    "about": "mjnb imagine against an echoing Zhishuyun",
                    "provider": "zhishuyun",
                    "status": f"exit {echo['returncode']}",
                    "final": True,
                    "reason": " ".join(echo["said"]),
                    "seconds_to_final": echo["seconds"],
                    "peak_rss_mb": None,
                    "problems": [f"token in {where}" for where in echo["leaks"]],
                }
            )
        _print_row(rows[-1])
    reset = run_sim_reset()
    rows.append(
        {
            "case": "sim_reset_token",
            "about": "POST /_sim/reset without --token's token",
            "provider": "simulator",
            "status": f"HTTP {reset['reset_status']}",
            "final": True,
            "reason": "jobs kept" if reset["job_kept"] else "jobs wiped",
            "seconds_to_final": None,
            "peak_rss_mb": None,
            "problems": [] if reset["reset_status"] in (401, 403) else ["reset without the token"],
        }
    )
    _print_row(rows[-1])
    return rows


HEADER = f"{'case':<20} {'status':<10} {'final s':>8} {'RSS MB':>7}  {'verdict':<34} reason"


def _print_row(row: dict[str, Any]) -> None:
    seconds = row.get("seconds_to_final")
    final = f"{seconds:.1f}" if isinstance(seconds, (int, float)) else "never"
    rss = row.get("peak_rss_mb")
    verdict = "ok" if not row["problems"] else _short("; ".join(row["problems"]), 34)
    print(
        f"{row['case']:<20} {_short(row['status'], 10):<10} {final:>8} "
        f"{rss if rss is not None else '-':>7}  {verdict:<34} {_short(row['reason'], 60)}",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", action="append", default=[], help="run only this case")
    parser.add_argument("--no-special", action="store_true", help="skip resume/CLI/simulator")
    args = parser.parse_args()
    print(HEADER, flush=True)
    rows = run_cases(args.case)
    if not args.no_special and not args.case:
        rows += run_special()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    if args.case and RESULTS.exists():  # a partial run updates those rows, keeps the rest
        ran = {row["case"] for row in rows}
        kept = [row for row in json.loads(RESULTS.read_text())["cases"] if row["case"] not in ran]
        rows = kept + rows
    report = {
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "cases": rows,
        "kept_every_promise": sum(not row["problems"] for row in rows),
        "total": len(rows),
    }
    RESULTS.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(f"\n{report['kept_every_promise']}/{len(rows)} cases ok; wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
