"""The ``mjnb`` command: ``serve`` the simulator, ``imagine`` a prompt, show the ``log``."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from .errors import MJError


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mjnb", description="Midjourney in Jupyter.")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the offline simulator of the provider protocols")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    serve.add_argument("--port", type=int, default=8123, help="port (8123; 0 picks a free one)")
    serve.add_argument("--latency", type=float, default=2.0, help="seconds a job runs (2)")
    serve.add_argument("--concurrency", type=int, default=3, help="jobs running at once (3)")
    serve.add_argument("--queue-size", type=int, default=10, help="jobs waiting at most (10)")
    serve.add_argument("--fail-rate", type=float, default=0.0, help="share of jobs that fail")
    serve.add_argument("--rate-limit", type=float, default=None, help="requests/s before 429")
    serve.add_argument("--token", default=None, help="credential every request must carry")
    serve.add_argument("--url-ttl", type=float, default=None, help="seconds image URLs live")
    serve.add_argument("--long-side", type=int, default=512, help="grid long side in px (512)")
    serve.add_argument(
        "--preview-ttl", type=float, default=60.0, help="seconds previews live after a job (60)"
    )
    serve.add_argument(
        "--comment-lang", choices=("en", "zh", "mixed"), default="mixed", help="Youchuan comment"
    )
    serve.add_argument("--seed", type=int, default=0, help="makes failures and faults repeatable")
    faults = serve.add_argument_group("faults", "for reliability tests; all 0 by default")
    faults.add_argument("--drop-rate", type=float, default=0.0, help="share of connections cut")
    faults.add_argument("--stall-rate", type=float, default=0.0, help="share of jobs that stall")
    faults.add_argument("--slow-rate", type=float, default=0.0, help="share of answers delayed")
    faults.add_argument("--slow-seconds", type=float, default=35.0, help="their delay (35 s)")
    faults.add_argument("--bad-json-rate", type=float, default=0.0, help="share of bad JSON")

    imagine = commands.add_parser("imagine", help="submit a prompt and save the image")
    imagine.add_argument("prompt")
    imagine.add_argument("--provider", default=None)
    imagine.add_argument("--base-url", default=None)

    log = commands.add_parser("log", help="recent tasks as a table")
    log.add_argument("-n", "--limit", type=int, default=20)
    log.add_argument("--csv", metavar="PATH", help="export every row to CSV")
    log.add_argument("--parquet", metavar="PATH", help="export every row to Parquet")
    log.add_argument(
        "--url",
        default=None,
        help="the log to read (sqlite:///path or postgresql://...; "
        "default MJNB_LOG_URL, else $MJNB_HOME/history.sqlite)",
    )

    prune = commands.add_parser("prune", help="delete cached images, keep the log rows")
    prune.add_argument("--days", type=float, default=30.0, help="unused for this long (30)")

    budget = commands.add_parser("budget", help="daily job caps and spend (shared log)")
    budget.add_argument("action", choices=("show", "set", "clear"), nargs="?", default="show")
    budget.add_argument("--user-day", type=int, default=None, help="jobs per user per day")
    budget.add_argument("--account-day", type=int, default=None, help="jobs per account per day")
    budget.add_argument("--user", default=None, help="a cap for this user only")
    budget.add_argument("--provider", default=None)
    budget.add_argument("--base-url", default=None)
    budget.add_argument("--every-account", action="store_true", help="for every account")
    budget.add_argument("--days", type=int, default=7, help="days of spend shown (7)")

    args = parser.parse_args(argv)

    try:
        if args.command == "serve":
            return _serve(args)
        if args.command == "imagine":
            return _imagine(args)
        if args.command == "prune":
            return _prune(args)
        if args.command == "budget":
            from .budget import budget_command

            return budget_command(args)
        return _log(args)
    except MJError as exc:
        print(f"mjnb: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _serve(args: argparse.Namespace) -> int:
    from .simulator import SimConfig, serve

    config = SimConfig(
        latency=args.latency,
        concurrency=args.concurrency,
        queue_size=args.queue_size,
        fail_rate=args.fail_rate,
        rate_limit=args.rate_limit,
        token=args.token,
        url_ttl=args.url_ttl,
        long_side=args.long_side,
        preview_ttl=args.preview_ttl,
        comment_lang=args.comment_lang,
        seed=args.seed,
        drop_rate=args.drop_rate,
        stall_rate=args.stall_rate,
        slow_rate=args.slow_rate,
        slow_seconds=args.slow_seconds,
        bad_json_rate=args.bad_json_rate,
    )
    running = serve(config, host=args.host, port=args.port)
    print(f"mjnb simulator on {running.url} (Ctrl-C stops it)", flush=True)
    running.wait()
    return 0


def _imagine(args: argparse.Namespace) -> int:
    from .client import Client

    task = Client(args.provider, base_url=args.base_url).imagine(args.prompt)
    live = sys.stderr.isatty()  # the bar goes to stderr: stdout is only the image path
    while not task.done:
        if live:
            print(f"\r{_bar(task.id, task.progress, task.status)}", end="", file=sys.stderr)
        time.sleep(0.2)
    print(f"\r{_bar(task.id, task.progress, task.status)}", file=sys.stderr)
    if task.status != "succeeded":
        print(f"mjnb: task {task.id} {task.status}: {task.error}", file=sys.stderr)
        return 1
    print(task.image_path)
    return 0


def _bar(task_id: str, progress: int, status: str, width: int = 30) -> str:
    filled = width * progress // 100
    return f"{task_id} [{'#' * filled}{'-' * (width - filled)}] {progress:3d}% {status:<9}"


def _log(args: argparse.Namespace) -> int:
    from .config import settings
    from .log import TaskLog

    current = settings(log_url=args.url)
    with TaskLog(current.log_url, home=current.home) as task_log:
        frame = task_log.dataframe()
    if args.csv:
        frame.to_csv(args.csv, index=False)
        print(f"{len(frame)} rows written to {args.csv}")
    if args.parquet:
        try:
            frame.to_parquet(args.parquet, index=False)
        except ImportError:
            raise MJError(
                "Writing Parquet needs pyarrow: pip install 'mjnb[parquet]' (or use --csv)."
            ) from None
        print(f"{len(frame)} rows written to {args.parquet}")
    if not (args.csv or args.parquet):
        columns = ["task_id", "provider", "action", "status", "progress", "submitted_at", "text"]
        print(frame[columns].tail(args.limit).to_string(index=False))
    return 0


def _prune(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from .config import settings
    from .images import ImageStore

    home = settings().home
    removed = ImageStore(home / "images").prune(older_than=timedelta(days=args.days))
    print(f"{removed} images deleted from {home / 'images'}; the log keeps every row.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
