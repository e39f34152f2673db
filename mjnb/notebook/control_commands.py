"""The ``%mj`` commands that control work already started, mixed into :class:`MJMagic`.

    %mj wait                      # until every task of this kernel has ended
    %mj cancel                    # the last task; or %mj cancel <task_id> | all
    %mj pending                   # what dead kernels left, and what resuming would do
    %mj resume                    # says what it will send, then sends (and fetches) it

Each calls the Python API once (``task.cancel()``, ``sweep.cancel()``,
``mj.pending()``, ``mj.resume()``); what it answers is printed as one line, and a
refusal (a finished task, an unknown id, nothing to resume) is one UsageError line.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from IPython.core.error import UsageError

from ..errors import NotReady, Timeout
from .commands import one_line, parse_cancel, parse_seconds, parse_sweep_args

if TYPE_CHECKING:
    import pandas as pd

    from ..client import Client
    from ..task import Task
    from .views import Outputs

__all__ = ["ControlCommands"]


class ControlCommands:
    """``%mj wait|cancel|pending|resume``."""

    # what MJMagic provides
    outputs: Outputs
    max_jobs: int
    _last: Task | None

    @property
    def client(self) -> Client:
        raise NotImplementedError

    @property
    def clients(self) -> list[Client]:
        raise NotImplementedError

    def _find(self, task_id: str, *, hint: str = "") -> Task:
        raise NotImplementedError

    def publish(self) -> None:
        raise NotImplementedError

    def _wait(self, rest: str) -> None:
        timeout = parse_seconds(rest) if rest else None
        from ..client import all_tasks

        tasks = [task for client in self.clients for task in client.tasks]
        mine = {task.id for task in tasks}
        # and whatever other clients of this kernel (mjnb.Client() in a cell) still run
        tasks += [task for task in all_tasks() if not task.done and task.id not in mine]
        try:
            _wait_all(tasks, timeout)
        finally:
            self.publish()
        counts: dict[str, int] = {}
        for task in tasks:
            counts[task.status] = counts.get(task.status, 0) + 1
        detail = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        noun = "task has" if len(tasks) == 1 else "tasks have"
        print(f"All {len(tasks)} {noun} ended" + (f": {detail}." if detail else "."))

    def _cancel(self, rest: str) -> None:
        """``%mj cancel [<task_id>|all]``: prints the line each cancel answers."""
        target = parse_cancel(rest)
        if target == "all":
            messages = self._cancel_all()
        else:
            if target is None:
                task = self._last
                if task is None:
                    raise UsageError(
                        "There is no task to cancel yet: name one with %mj cancel <task_id>, "
                        "or stop everything with %mj cancel all."
                    )
            else:
                task = self._find(target)
            messages = [task.cancel()]
        self.publish()
        print("\n".join(one_line(m) for m in messages))

    def _cancel_all(self) -> list[str]:
        """Stop the sweeps shown here, then every task of this kernel still running."""
        from ..client import all_tasks

        messages: list[str] = []
        handled: set[str] = set()
        for sweep in self.outputs.sweeps:
            if not sweep.done:
                handled.update(task.id for task in sweep.tasks)
                messages.append(sweep.cancel())
        for task in all_tasks():
            if task.done or task.id in handled:
                continue
            try:
                messages.append(task.cancel())
            except NotReady:  # it finished meanwhile: nothing to say
                continue
        return messages or ["Nothing is running: there is no task to cancel."]

    def _pending(self, rest: str) -> pd.DataFrame:
        if rest:
            raise UsageError(f"%mj pending takes nothing after it, got {rest!r}.")
        frame: pd.DataFrame = self.client.pending()
        return frame

    def _resume(self, rest: str) -> None:
        """``%mj resume``: says how many cells it will send, then sends them."""
        args = parse_sweep_args(rest)
        if args.text:
            raise UsageError(f"%mj resume takes only --confirm and --max-jobs, got {args.text!r}.")
        client = self.client
        frame = client.pending()
        sending = frame[frame["action"] == "send"] if len(frame) else frame
        count = len(sending)
        max_jobs = self.max_jobs if args.max_jobs is None else args.max_jobs
        if count > max_jobs and not args.confirm:
            raise UsageError(
                f"Resuming would send {count} jobs: more than max_jobs={max_jobs}, so nothing "
                "was sent. Run %mj resume --confirm to send them."
            )
        fetching = int((frame["action"] == "fetch").sum()) if len(frame) else 0
        if count:
            sweeps = sending["sweep_id"].nunique()
            print(f"Resuming {sweeps} interrupted sweep(s): sending {count} cell(s) never sent.")
        if fetching:
            print(f"Fetching {fetching} paid result(s) that never arrived (free).")
        tasks = client.resume(confirm=args.confirm, max_jobs=max_jobs)
        print(f"Resumed {len(tasks)} job(s); %mj wait waits for them.")


def _wait_all(tasks: Iterable[Task], timeout: float | None) -> None:
    deadline = None if timeout is None else time.monotonic() + timeout
    for task in tasks:
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            task.wait(left)
        except Timeout:
            pending = sum(1 for t in tasks if not t.done)
            raise UsageError(
                f"{pending} task(s) still running after {timeout:g} s; they keep running. "
                "Run %mj wait again to keep waiting."
            ) from None
