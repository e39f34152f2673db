"""A task rebuilt from its log row: after a restart, or when it is looked up by id.

The row is what :class:`~mjnb.log.TaskLog` stores; every field is checked for its type
here (a row a damaged or older log left may hold anything), so a bad row becomes a task
with fewer facts, never an exception in the middle of a resume.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..errors import PromptError
from ..prompt import Prompt, parse_prompt
from ..prompt.refs import with_urls
from ..providers.base import Job
from .kept import OWN_KINDS, sent_urls
from .media import kind_of
from .state import TaskState, snapshot_from_state

__all__ = ["resendable", "state_from_row"]


def resendable(row: Mapping[str, Any]) -> bool:
    """Whether a task logged and never sent can be sent by ``mj.resume()``: an imagine,
    or a job of the user's own inputs whose row keeps them (``inputs``)."""
    action = row.get("action") or "imagine"
    return action == "imagine" or (action in OWN_KINDS and isinstance(row.get("inputs"), dict))


def state_from_row(row: Mapping[str, Any], provider: str, *, translate: bool = False) -> TaskState:
    """A TaskState rebuilt from its log row (after a restart, or looked up by id);
    ``translate`` is the Job's, should it be sent now (a dead kernel's unsent task)."""
    remote = row.get("remote_state") or {}
    snapshot = snapshot_from_state(remote)
    prompt_text = row.get("prompt") or ""
    try:
        # warned about when it was sent; read as it was sent
        prompt: Prompt | None = (
            parse_prompt(prompt_text, strict=False, warn=False) if prompt_text else None
        )
    except PromptError:
        prompt = None
    action = row.get("action") or "imagine"
    kind = action if action in OWN_KINDS else "action"
    batch = row.get("batch")
    inputs = row.get("inputs") if isinstance(row.get("inputs"), dict) else None
    sending = bool(remote.get("sending")) or bool(snapshot.remote_id)
    sent_text, parsed = prompt_text, prompt
    if kind in ("describe", "blend") and inputs is not None:
        sent_text, parsed = "", None  # the row's prompt names its images; the job has none
    urls = sent_urls(inputs)
    if urls and parsed is not None and sending:  # what its job sent: the references' URLs
        parsed = with_urls(parsed, urls)
        sent_text = str(parsed)
    job = Job(
        kind,  # type: ignore[arg-type]
        prompt=sent_text,
        label=None if kind != "action" else action,
        translate=translate,
        parsed=parsed,
        motion=row.get("motion") if isinstance(row.get("motion"), str) else None,
        loop=bool(row.get("loop")),
        batch=int(batch) if isinstance(batch, (int, float)) and batch == batch else 1,
    )
    state = TaskState(
        row["task_id"],
        job,
        provider,
        prompt=prompt,
        parent_id=row.get("parent_id"),
        sweep_id=row.get("sweep_id"),
        submitted_at=_as_datetime(row.get("submitted_at")),
        started_at=_as_datetime(row.get("started_at"), None),
        finished_at=_as_datetime(row.get("finished_at"), None),
        image_path=Path(row["image_path"]) if row.get("image_path") else None,
        snapshot=snapshot,
        error=row.get("error"),
        sending=bool(remote.get("sending")),
        kind=row.get("kind") or kind_of(job),
        video_paths=tuple(Path(p) for p in _listed(row.get("video_paths"))),
        mask_path=Path(row["mask_path"]) if row.get("mask_path") else None,
        inputs=inputs,
        # never sent: its own inputs are read back from the cache before it is
        restore=inputs is not None and not sending and kind in OWN_KINDS,
        job_seed=_int_or_none(row.get("job_seed")),
        cost=_float_or_none(row.get("cost")),
    )
    if snapshot.done:
        state.done.set()
    return state


def _as_datetime(value: Any, default: Any = ...) -> Any:
    if value is None or value != value:  # None or NaT
        return datetime.now(timezone.utc) if default is ... else default
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def _listed(value: Any) -> list[str]:
    if isinstance(value, str):
        import json

        try:
            value = json.loads(value)
        except ValueError:
            return []
    return [str(v) for v in value] if isinstance(value, (list, tuple)) else []


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value == value:
        return int(value)
    return None


def _float_or_none(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value == value:
        return float(value)
    return None
