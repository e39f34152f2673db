"""The client side: one task against the hostile server, in its own capped process.

Run as ``python -m tests.hostile.client '<spec as JSON>'`` by :func:`~tests.hostile.
harness.run_client`. Uses only mjnb's public API and the CLI's knobs, and prints one
JSON line: status, reason, seconds to the final state, the log row, peak RSS.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from .server import CANARY

# ---------------------------------------------------------------------- the client side


def _peak_rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def client_main(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one task against the hostile server with the public API; report what happened."""
    import logging
    import resource
    import signal

    import mjnb

    logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)  # log lines must not leak
    options = dict(spec["client"])
    home = Path(spec["home"])
    home.mkdir(parents=True, exist_ok=True)
    if options.pop("cache_file", False):
        (home / "images").write_text("not a folder\n")  # an unwritable image cache
    knobs: dict[str, Any] = {
        "base_url": spec["url"],
        "token": CANARY,
        "poll_interval": options.get("poll_interval", 0.1),
        "stall_timeout": options.get("stall_timeout", 3.0),
        "timeout": options.get("timeout", 3.0),
        "stream": options.get("stream", False),
    }
    if spec["provider"] == "youchuan":
        knobs["app_id"] = "app-1"
    notes = []
    if "task_timeout" in options:
        knobs["task_timeout"] = options["task_timeout"]
    try:
        mj = mjnb.Client(spec["provider"], **knobs)
    except TypeError as exc:
        if "task_timeout" not in str(exc):
            raise
        knobs.pop("task_timeout")
        notes.append("Client does not take task_timeout=")
        mj = mjnb.Client(spec["provider"], **knobs)
    result: dict[str, Any] = {"notes": notes}
    if options.get("fsize"):  # a full disk: no file may grow past this many bytes
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (options["fsize"], options["fsize"]))

    if options.get("resume"):  # a later kernel: follow what a dead one left running
        tasks = list(mj.resumed)
        result["resumed"] = len(tasks)
        if not tasks:
            result.update(status="nothing resumed", done=False, error=None)
            return result
        task, started = tasks[0], time.monotonic()
    else:
        started = time.monotonic()
        if options.get("describe"):
            task = mj.describe("https://example.com/a-fox.png")
        else:
            task = mj.imagine("a hostile fox --ar 1:1")
        print(json.dumps({"task_id": task.id}), flush=True)
    if options.get("listen"):
        task.add_listener(lambda _task: None)  # a view watches it: previews are fetched
    card = None
    if options.get("card"):
        from mjnb.notebook.card import TaskCard

        card = TaskCard(task)
    with contextlib.suppress(mjnb.Timeout):
        task.wait(spec["budget"])
    result.update(_report(mj, task, started))
    if options.get("describe"):
        result["descriptions"] = len(task.descriptions)
        result["description_chars"] = sum(len(d) for d in task.descriptions)
    if options.get("preview_pixels") or options.get("listen"):
        result["preview_pixels"] = _pixels(task.preview)
    if card is not None:
        card.flush()
    if options.get("truncate") and task.image_path:
        result.update(_truncated(spec, knobs, task))
    result["peak_rss_mb"] = round(_peak_rss_mb(), 1)
    return result


def _report(mj: Any, task: Any, started: float) -> dict[str, Any]:
    seconds = round(time.monotonic() - started, 2)
    row: dict[str, Any] = {}
    with contextlib.suppress(Exception):
        frame = mj.log()
        rows = frame[frame["task_id"] == task.id].to_dict("records")
        row = {k: (None if v != v else v) for k, v in (rows[0] if rows else {}).items()}
    image = task.image_path
    return {
        "task_id": task.id,
        "status": task.status,
        "done": task.done,
        "error": task.error,
        "repr": repr(task),
        "remote_id": task.snapshot.remote_id,
        "seconds": seconds,
        "image_exists": bool(image and Path(image).exists()),
        "log_status": row.get("status"),
        "log_error": row.get("error"),
        "log_remote_id": row.get("remote_id"),
        "log_finished": row.get("finished_at") is not None,
    }


def _pixels(data: bytes | None) -> int | None:
    if not data:
        return None
    import io

    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:  # the header only, never decoded
            return int(image.size[0] * image.size[1])
    except Exception:
        return -1


def _truncated(spec: dict[str, Any], knobs: dict[str, Any], task: Any) -> dict[str, Any]:
    """Damage the cached image, then read the task as a later session would."""
    import mjnb

    path = Path(task.image_path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    later = mjnb.Client(spec["provider"], **knobs).task(task.id)
    report: dict[str, Any] = {}
    try:
        later.image  # noqa: B018 - reading it is the test
        report["image_error"] = None
    except mjnb.MJError as exc:
        report["image_error"] = f"{type(exc).__name__}: {exc}"
        report["image_error_is_mjerror"] = True
    except Exception as exc:
        report["image_error"] = f"{type(exc).__name__}: {exc}"
        report["image_error_is_mjerror"] = False
    try:
        from mjnb.notebook.card import TaskCard

        card = TaskCard(later)
        card.flush()
        report["card"] = "rendered"
        report["card_text"] = card.message.value
    except Exception as exc:
        report["card"] = f"{type(exc).__name__}: {exc}"
    return report


if __name__ == "__main__":
    outcome = client_main(json.loads(sys.argv[1]))
    print(json.dumps(outcome, default=str), flush=True)
    os._exit(0)  # the engine may still be stuck on a hostile answer: do not wait for it
