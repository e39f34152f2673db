"""The ``mjnb`` command: ``serve`` the simulator, ``imagine`` a prompt, show the ``log``.

Prompts and providers' text reach the terminal and exported files, and both may be
hostile: everything printed goes through :func:`printable` (control characters shown
as escapes, so no ANSI sequence clears the screen, retitles the window or writes the
clipboard with OSC 52), and CSV cells that a spreadsheet would run as a formula are
prefixed with ``'`` (:func:`csv_safe`, after OWASP's advice on CSV injection).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .errors import MJError

if TYPE_CHECKING:
    import pandas as pd

    from .task import Task

#: C0 but newline, DEL, C1, and the Unicode bidi controls that reorder what is shown
_CONTROL = r"\x00-\x09\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069"
_CONTROLS = re.compile(f"[{_CONTROL}]")
_CONTROLS_AND_NEWLINES = re.compile(f"[{_CONTROL}\\n]")
#: a spreadsheet runs a cell starting with one of these as a formula
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def printable(text: object, *, newlines: bool = False) -> str:
    """``text`` safe for a terminal: each control character as a visible escape.

    ``"\\x1b]52;c;..."`` prints as ``\\x1b]52;c;...``; tabs and (unless ``newlines``)
    line breaks are escaped too, so one value cannot forge extra lines of output.
    """
    pattern = _CONTROLS if newlines else _CONTROLS_AND_NEWLINES
    return pattern.sub(_escape, str(text))


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def csv_safe(value: Any) -> Any:
    """A CSV cell that a spreadsheet shows as text: formula starts get a leading ``'``."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _cells(frame: pd.DataFrame, clean: Any) -> pd.DataFrame:
    """``frame`` with ``clean`` applied to every text cell (numbers and times kept)."""
    from pandas.api.types import is_datetime64_any_dtype, is_numeric_dtype

    frame = frame.copy()
    for column in frame.columns:
        kind = frame[column].dtype
        if not (is_numeric_dtype(kind) or is_datetime64_any_dtype(kind)):
            frame[column] = frame[column].map(lambda v: clean(v) if isinstance(v, str) else v)
    return frame


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

    animate = commands.add_parser("animate", help="animate a logged image; prints the MP4 paths")
    animate.add_argument("task_id", help="the image's task id (or a unique prefix)")
    animate.add_argument("--motion", choices=("low", "high"), default="low")
    animate.add_argument("--index", type=int, default=None, help="the tile of a grid (1-4)")
    animate.add_argument("--batch", type=int, default=1, help="clips: 1, 2 or 4 (1)")
    animate.add_argument("--loop", action="store_true", help="end on the first frame")
    animate.add_argument("--prompt", default=None, help="what should move (a video prompt)")
    animate.add_argument("--provider", default=None)
    animate.add_argument("--base-url", default=None)

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
        if args.command == "animate":
            return _animate(args)
        if args.command == "prune":
            return _prune(args)
        if args.command == "budget":
            from .budget import budget_command

            return budget_command(args)
        return _log(args)
    except MJError as exc:
        print(f"mjnb: {printable(exc)}", file=sys.stderr)
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
    if not _follow(task):
        return 1
    print(printable(task.image_path))
    return 0


def _animate(args: argparse.Namespace) -> int:
    import warnings

    from .client import Client

    parent = Client(args.provider, base_url=args.base_url).task(args.task_id)
    with warnings.catch_warnings(record=True) as notes:
        warnings.simplefilter("always")
        task = parent.animate(
            args.motion, index=args.index, prompt=args.prompt, loop=args.loop, batch=args.batch
        )
    for note in notes:  # the extra upscale a grid tile needs, named before it ran
        print(f"mjnb: {_printable(note.message)}", file=sys.stderr)
    if not _follow(task):
        return 1
    for path in task.videos:
        print(_printable(path))
    return 0


def _printable(text: object) -> str:
    """``text`` with control characters escaped (the ``printable()`` of the hardened CLI,
    where present)."""
    shown = globals().get("printable")
    if callable(shown):
        return str(shown(text))
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))


def _follow(task: Task) -> bool:
    """Draw ``task``'s progress bar on stderr until it ends (redrawn live only on a
    terminal; stdout stays for the result's paths). False, with the reason printed on
    stderr, unless it succeeded."""
    live = sys.stderr.isatty()
    while not task.done:
        if live:
            print(f"\r{_bar(task.id, task.progress, task.status)}", end="", file=sys.stderr)
        time.sleep(0.2)
    print(f"\r{_bar(task.id, task.progress, task.status)}", file=sys.stderr)
    if task.status != "succeeded":
        print(f"mjnb: task {task.id} {task.status}: {printable(task.error)}", file=sys.stderr)
        return False
    return True


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
        _cells(frame, csv_safe).to_csv(args.csv, index=False)
        print(f"{len(frame)} rows written to {printable(args.csv)}")
    if args.parquet:
        try:
            frame.to_parquet(args.parquet, index=False)
        except ImportError:
            raise MJError(
                "Writing Parquet needs pyarrow: pip install 'mjnb[parquet]' (or use --csv)."
            ) from None
        print(f"{len(frame)} rows written to {printable(args.parquet)}")
    if not (args.csv or args.parquet):
        columns = ["task_id", "provider", "action", "status", "progress", "submitted_at", "text"]
        shown = _cells(frame[columns].tail(args.limit), printable)
        print(shown.to_string(index=False))
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
