"""Getting a finished job's pictures: the result, its preview while running, one URL.

Functions over the :class:`~mjnb.runtime.runner.Runner` that drives the task (its
adapter, HTTP pool, image store and deadlines), kept apart from the runner's submit
and follow loop. Every download has a wall-clock deadline and a byte cap, and its bytes
are checked (type, size, the header's dimensions, integrity) without being decoded:
pixels are decoded only when a view, ``tiles`` or ``image`` asks.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from ..errors import MJError, ProviderError, StorageError
from ..vocab import MAX_IMAGE_BYTES, MAX_RESULT_URLS
from .engine import with_timeout
from .wire import reason, retry_transient, send_capped, without_query

if TYPE_CHECKING:
    from .runner import Runner
    from .state import TaskState

logger = logging.getLogger("mjnb")


async def result(runner: Runner, state: TaskState) -> None:
    """Download the result at once, into the content-addressed cache.

    The bytes are checked (type, size, the header's dimensions, integrity) but not
    decoded: pixels are decoded when a view, ``tiles`` or ``image`` asks.
    """
    snapshot = state.snapshot
    urls = [snapshot.image_url] if snapshot.image_url else list(snapshot.image_urls)
    if not urls or state.job.kind == "describe":
        return  # text only (a describe's image_url is the user's own picture)
    if not all(isinstance(url, str) and url for url in urls) or len(urls) > MAX_RESULT_URLS:
        state.error = (
            f"{runner.adapter.name} named {len(urls)} result images; mjnb takes 1 to "
            f"{MAX_RESULT_URLS} image URLs and downloaded none."
        )
        return
    try:
        stored = [await download(runner, url) for url in urls]
        if len(stored) == 1:
            state.image_path = stored[0]
        else:  # separate images (Youchuan): the grid is composed here, once
            state.image_paths = tuple(stored)
            state.image_path = await asyncio.to_thread(_compose, runner, stored)
    except StorageError as exc:  # the disk, not the provider: say what to do
        state.unfetched = True
        state.error = (
            f"the image was generated but could not be saved: {exc} The job's id and "
            f"image URL are kept: mj.task({state.id!r}).refetch() downloads it again."
        )
    except MJError as exc:
        state.error = f"the image could not be downloaded: {exc}"


def _compose(runner: Runner, paths: list[Path]) -> Path:
    """The grid of separate images, composed locally and cached.

    It is composed at a size that fits ``MAX_PIXELS`` (four honest 8000² images make
    an 8000² grid, not a 16000² one mjnb would refuse); the full-size images stay in
    ``image_paths`` and are what ``tiles`` returns. One image is decoded at a time.
    """
    from ..images import compose_files, encode

    return runner.images.save(encode(compose_files(paths), "PNG"), composed=True)


async def get_image(runner: Runner, url: str, what: str) -> httpx.Response:
    """GET an image within the download deadline and ``MAX_IMAGE_BYTES``."""
    return await send_capped(
        runner.http,
        with_timeout(runner.adapter.download(url), runner.timeout),
        deadline=runner.download_deadline,
        limit=MAX_IMAGE_BYTES,
        what=what,
    )


async def download(runner: Runner, url: str) -> Path:
    """GET ``url`` (retrying transient failures) and store it; returns its path."""

    async def attempt(left: float | None) -> Path:
        response = await get_image(runner, url, "the image")
        if response.status_code != 200:
            raise ProviderError(
                f"GET of the image answered HTTP {response.status_code}"
                + (" (the URL has expired)" if response.status_code == 403 else ""),
                status=response.status_code,
            )
        content_type = response.headers.get("content-type")
        return await asyncio.to_thread(
            runner.images.save, response.content, content_type=content_type
        )

    def fail(last: Exception | None) -> Exception:
        failure = reason(last or Exception())
        return ProviderError(f"downloading {without_query(url)} failed: {failure}")

    return await retry_transient(attempt, fail)


async def preview(runner: Runner, state: TaskState, url: str) -> None:
    """Fetch a running job's low-resolution preview for the views watching it."""
    from ..images import check_image

    try:
        response = await get_image(runner, url, "the preview")
        if response.status_code != 200:
            return
        # the same checks as a result: a whole image, its header's pixels in bounds
        await asyncio.to_thread(check_image, response.content)
    except (httpx.TransportError, MJError) as exc:
        logger.info("mjnb: preview of %s refused (%s)", state.id, reason(exc))
        return  # a preview is a nicety; the next one may arrive
    if not state.done.is_set() and state.snapshot.preview_url == url:
        state.preview = response.content
        state.notify()
