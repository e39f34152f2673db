"""The runner's media steps: uploads before a submit, the confirm step, video results,
and the seed a job used.

Each is a small coroutine the :class:`~mjnb.runtime.runner.Runner` calls at one place,
so the runner's request/stream/download policy stays in one module and these rules in
this one:

- :func:`wait_for_start` holds a task that starts from another one (the ``U<n>`` mjnb
  sends before animating a grid's tile where the protocol animates single images only)
  until that one has succeeded, then points the job at its result;
- :func:`upload_local` reads a resumed task's inputs back from the cache, replaces the
  ``data:`` URLs of a job by the provider's own URLs where the protocol wants uploads
  (``local_images == "upload"``), and the local paths after ``--sref``/``--cref``/
  ``--oref`` by the URLs they were uploaded as (``local_refs``), each image uploaded
  once, its answer read capped like any other;
- :func:`confirm` answers trueai's "window confirm" (``extra["confirm"]``) exactly once:
  the mark that it was sent is kept in the snapshot, so neither a later poll nor a
  resumed kernel sends it again;
- :func:`fetch_videos` downloads every clip at once (URLs expire) under a byte cap and a
  deadline, checks each with :func:`mjnb.video.probe`, and stores it as ``.mp4``; the
  provider's cover image, or else the first frame, becomes the task's image (poster);
- :func:`job_seed` asks the provider which seed a finished job used and logs it.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from ..errors import InvalidArgument, MJError, NotReady, ProviderError
from ..providers.base import Job
from ..vocab import MAX_VIDEO_BYTES
from .engine import with_timeout
from .kept import with_sent
from .wire import read_capped, reason, retry_transient, without_query

if TYPE_CHECKING:
    from .runner import Runner
    from .state import TaskState

logger = logging.getLogger("mjnb")

#: the longest one clip's download may take, whatever the server trickles
VIDEO_DEADLINE = 300.0
#: video action labels: their tasks are of kind "video"
VIDEO_LABELS = ("animate low", "animate high", "extend low", "extend high", "upscale video")


def kind_of(job: Job) -> str:
    """The log's ``kind`` of a job: image, video or describe."""
    if job.kind == "video" or (job.kind == "action" and job.label in VIDEO_LABELS):
        return "video"
    return "describe" if job.kind == "describe" else "image"


def row_fields(state: TaskState) -> dict[str, Any]:
    """The media columns of the task's log row, as :meth:`TaskLog.update_task` takes them."""
    fields: dict[str, Any] = {}
    if state.video_paths:
        fields["video_paths"] = [str(p) for p in state.video_paths]
    if state.job_seed is not None:
        fields["job_seed"] = state.job_seed
    cost = state.snapshot.extra.get("cost")
    if isinstance(cost, (int, float)) and not isinstance(cost, bool):
        state.cost = float(cost)
    if state.cost is not None:
        fields["cost"] = state.cost
    return fields


# -- before the submit ------------------------------------------------------------------


async def wait_for_start(runner: Runner, state: TaskState) -> None:
    """Wait for the task this one starts from; then act on its result.

    Called before the task takes a concurrency slot, so the two never deadlock.
    """
    first = state.waits_for
    if first is None:
        return
    await _ended(first)
    if first.status != "succeeded":
        raise ProviderError(
            f"the {first.job.label or first.job.kind} it starts from (task {first.id}) "
            f"{first.status}: {first.reason}; nothing more was sent."
        )
    label = state.job.label
    if label and label not in first.snapshot.actions:
        offered = ", ".join(first.snapshot.actions) or "none"
        raise ProviderError(
            f"task {first.id} ({first.job.label}) does not offer {label!r} (it offers: "
            f"{offered}); nothing more was sent."
        )
    state.job = replace(state.job, parent=first.snapshot)


async def _ended(other: TaskState) -> None:
    """Wait on the engine loop until ``other`` has ended (its done event is threading's)."""
    while not other.done.is_set():
        await asyncio.sleep(0.05)


async def upload_local(runner: Runner, state: TaskState) -> None:
    """Give the job its local images in the form the protocol takes, before the submit.

    Called after the task's row is logged and right before the submit, once per task
    send. A task rebuilt from the log first reads its inputs back from the cache
    (:func:`.kept.restore`). Then, where the protocol wants uploads, each distinct
    ``data:`` image of the job is uploaded once and the job carries the URL the provider
    gave; the local paths after ``--sref``/``--cref``/``--oref`` are uploaded where the
    protocol can take them (``local_refs``) and the prompt sent holds their URLs (the
    log keeps the paths, and the URLs sent with the task's inputs). An upload is no job
    and costs nothing; a resumed task that never got to its submit uploads again. Any
    failure (a file gone from the cache, refused credentials, a body too large, an
    answer without the URL, a trickled or endless answer) ends the task with the
    reason, and nothing is submitted.
    """
    if state.restore:
        from .kept import restore

        inputs = state.inputs or {}
        try:
            state.job = await asyncio.to_thread(restore, state.job, inputs, state.mask_path)
        except InvalidArgument as exc:  # kept.py speaks of "its image prompt ..."
            raise InvalidArgument(f"Task {state.id} cannot be sent again: {exc}") from None
        state.restore = False
    adapter, job = runner.adapter, state.job
    _check_refs(job)
    local = [u for u in (*job.images, job.end or "") if u.startswith("data:")]
    if local and adapter.local_images == "refuse":
        raise InvalidArgument(
            f"{adapter.name} needs a public URL for each image (it takes no local files); "
            "nothing was sent."
        )
    if job.refs and adapter.local_refs != "upload":
        raise InvalidArgument(
            f"{adapter.name} cannot take local images after --sref/--cref/--oref; give "
            "them as http(s) URLs; nothing was sent."
        )
    wanted = [*(local if adapter.local_images == "upload" else ()), *(u for _, u in job.refs)]
    uploaded: dict[str, str] = {}
    for data_url in dict.fromkeys(wanted):
        request = adapter.upload(data_url)
        if request is None:
            raise InvalidArgument(f"{adapter.name} has no upload; nothing was sent.")
        uploaded[data_url] = await _upload(runner, request)
    if not uploaded:
        return
    images = tuple(uploaded.get(u, u) for u in job.images)
    end = uploaded.get(job.end, job.end) if job.end else job.end
    state.job = replace(job, images=images, end=end)
    if job.refs:
        urls = {path: uploaded[data_url] for path, data_url in job.refs}
        state.job = with_references(state.job, urls)
        state.inputs = with_sent(state.inputs, urls)
        runner.log.update_task(state.id, inputs=state.inputs)


def _check_refs(job: Job) -> None:
    """A prompt sent as new text never goes with a local path left in it."""
    from ..prompt.refs import local_refs
    from .kept import sends_prompt

    if job.parsed is None or not sends_prompt(job):
        return
    have = {path for path, _ in job.refs}
    missing = [path for _, path in local_refs(job.parsed) if path not in have]
    if missing:
        raise InvalidArgument(
            f"its reference {missing[0]} is not among the images it kept; nothing was sent: "
            "run it again."
        )


def with_references(job: Job, urls: dict[str, str]) -> Job:
    """``job`` as sent: its local references' URLs in the prompt, no paths left."""
    from ..prompt.refs import with_urls

    if job.parsed is None:  # every job with refs is built from a parsed prompt
        raise InvalidArgument("a prompt with local references must be parsed; nothing was sent.")
    parsed = with_urls(job.parsed, urls)
    return replace(job, prompt=str(parsed), parsed=parsed, refs=())


async def _upload(runner: Runner, request: httpx.Request) -> str:
    """One upload, its answer read under the runner's deadline and byte cap."""
    where = without_query(str(request.url))
    try:
        response = await runner.exchange(
            request, what="the upload answer", deadline=runner.download_deadline
        )
        return runner.adapter.parse_upload(response)
    except httpx.TransportError as exc:
        raise ProviderError(
            f"uploading a local image to {where} failed ({reason(exc)}); nothing was submitted."
        ) from None
    except ProviderError as exc:
        exc.args = (f"uploading a local image to {where} failed: {exc} Nothing was submitted.",)
        raise


# -- after the submit -------------------------------------------------------------------


async def confirm(runner: Runner, state: TaskState) -> None:
    """Send the protocol's confirm step once, if the submit's answer asks for it."""
    snapshot = state.snapshot
    if not snapshot.extra.get("confirm") or snapshot.extra.get("confirm_sent"):
        return
    request = runner.adapter.confirm(state.job, snapshot)
    if request is None:
        raise ProviderError(
            f"{runner.adapter.name} asked to confirm the job, and mjnb has no confirm step "
            "for it; the job waits at the provider."
        )
    # marked before sending: whatever happens next, it is never sent twice
    state.snapshot = replace(snapshot, extra={**snapshot.extra, "confirm_sent": True})
    runner.log.update_task(
        state.id, remote_state={**_remote(state), "sending": True}, remote_id=snapshot.remote_id
    )
    response = await runner.exchange(request)
    answer = runner.adapter.parse_submit(state.job, response)
    extra = {**answer.extra, "confirm_sent": True}
    extra.pop("confirm", None)
    runner.update(state, replace(answer, extra=extra))


def _remote(state: TaskState) -> dict[str, Any]:
    from .state import snapshot_state

    return snapshot_state(state.snapshot, sending=state.sending)


# -- video results ----------------------------------------------------------------------


async def fetch_videos(runner: Runner, state: TaskState) -> None:
    """Download, check and store every clip; a bad clip fails the task with the reason."""
    from ..video import probe

    snapshot = state.snapshot
    try:
        paths: list[Path] = []
        for number, url in enumerate(snapshot.video_urls, 1):
            data = await download_capped(runner, url, MAX_VIDEO_BYTES, VIDEO_DEADLINE)
            await asyncio.to_thread(probe, data)
            paths.append(await asyncio.to_thread(runner.images.save_video, data))
            logger.debug("mjnb: clip %d of task %s stored", number, state.id)
        state.video_paths = tuple(paths)
    except MJError as exc:
        state.fail(f"the video could not be downloaded: {exc}")
        return
    cover = snapshot.image_url or (snapshot.image_urls[0] if snapshot.image_urls else None)
    try:
        if cover:
            state.image_path = await runner.download(cover)
        else:
            state.image_path = await asyncio.to_thread(_first_frame, runner, state.video_paths[0])
    except MJError as exc:  # the clips are here; the still is a nicety
        logger.info("mjnb: no poster for task %s (%s)", state.id, exc)
        try:
            state.image_path = await asyncio.to_thread(_first_frame, runner, state.video_paths[0])
        except MJError:
            state.image_path = None


def _first_frame(runner: Runner, clip: Path) -> Path:
    from ..images import encode
    from ..video import poster

    return runner.images.save(encode(poster(clip), "PNG"), content_type="image/png")


async def download_capped(runner: Runner, url: str, cap: int, deadline: float) -> bytes:
    """GET ``url`` into memory: at most ``cap`` bytes, within ``deadline`` seconds.

    Retries transient failures (connection errors, 5xx) while the deadline allows; an
    oversized or endless answer is refused, never stored.
    """

    async def attempt(left: float | None) -> bytes:
        try:
            return await asyncio.wait_for(_get(runner, url, cap), left)
        except asyncio.TimeoutError:
            raise ProviderError(
                f"downloading the video took more than {deadline:.0f} s; refused."
            ) from None

    def fail(last: Exception | None) -> Exception:
        return ProviderError(f"downloading {url.split('?', 1)[0]} failed: {last}")

    return await retry_transient(attempt, fail, deadline=deadline)


async def _get(runner: Runner, url: str, cap: int) -> bytes:
    request = with_timeout(runner.adapter.download(url), runner.timeout)
    response = await runner.http.send(request, stream=True)
    try:
        if response.status_code != 200:
            raise ProviderError(
                f"GET of the video answered HTTP {response.status_code}"
                + (" (the URL has expired)" if response.status_code == 403 else ""),
                status=response.status_code,
            )
        return await read_capped(response, cap, "the video")
    finally:
        await response.aclose()


# -- the seed ---------------------------------------------------------------------------


async def job_seed(runner: Runner, state: TaskState) -> int:
    """Ask the provider which seed the job used; store it in the state and the log."""
    if state.job_seed is not None:
        return state.job_seed
    adapter = runner.adapter
    request = adapter.seed(state.snapshot) if "seed" in adapter.features else None
    if request is None:
        raise InvalidArgument(f"{adapter.name} has no seed: it cannot tell which seed a job used.")
    response = await runner.exchange(request, what="the seed")
    seed = adapter.parse_seed(state.snapshot, response)
    if seed is None:
        raise NotReady(f"{adapter.name} did not say which seed task {state.id} used.")
    state.job_seed = int(seed)
    runner.log.update_task(state.id, job_seed=state.job_seed)
    return state.job_seed
