"""The Ace Data Cloud (formerly Zhishuyun) Midjourney API, simulated.

``POST /midjourney/imagine`` (also ``/imagine/relax`` and ``/imagine/turbo``) takes
``prompt``, ``action`` (``generate`` or an action name offered by the previous
answer, with ``image_id``), ``mode``, ``timeout``, ``translation``, ``split_images``,
``callback_url``, ``async`` and ``version``. It answers in one of three ways:

- by default it holds the connection until the image is done (or ``timeout``);
- with ``async: true`` or a ``callback_url`` it answers ``{"task_id": ...}`` at once
  and POSTs the final result to the callback (every change, when streaming too);
- with ``accept: application/x-ndjson`` it streams one full response object per
  progress change, lines ending in ``\\r\\n``, ``actions: []`` until the last line.

As Ace really speaks, every stream line and callback carries ``success: true``,
previews included (a job is done at ``progress`` 100 with ``actions``), while task
records (``/midjourney/tasks``) carry no ``image_url`` and no ``success`` until done.

``POST /midjourney/tasks`` (``retrieve`` / ``retrieve_batch``), ``/midjourney/describe``,
``/midjourney/seed`` and ``/midjourney/translate`` complete the API, and
``POST /api/v1/files/`` takes uploads (:mod:`.acedata_media`). Both eras' action
names are accepted (``upscale2`` and ``upsample2``, ``variation_subtle`` and
``low_variation`` ...); a job offers the names of the era its request used (the
Zhishuyun names when the request carried ``?token=`` or used an old name). Errors are
``{"success": false, "error": {"code", "message"}, "trace_id"}`` with HTTP 400, 401,
403 (moderation), 413, 429 or 500.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Mount

from mjnb.prompt import PromptError
from mjnb.simulator import acedata_media as media
from mjnb.simulator import wire
from mjnb.simulator.model import SPEEDS, Job, QueueFull, State, watch
from mjnb.simulator.state import Simulator
from mjnb.simulator.wire import BadRequest, Endpoints, Fields, SimError, Unauthorized

__all__ = [
    "ACE_NAMES",
    "PREFIX",
    "PROTOCOL",
    "UPLOAD_PREFIX",
    "ZHISHUYUN_NAMES",
    "AceData",
    "mount",
    "too_many_requests",
    "upload_mount",
]

PROTOCOL = "acedata"
PREFIX = "/midjourney"
#: the platform's paths the simulator serves too (uploads), at its own origin
UPLOAD_PREFIX = "/api/v1"
log = logging.getLogger("mjnb.simulator")

#: Label -> current Ace action name.
ACE_NAMES: dict[str, str] = {
    **{f"U{n}": f"upscale{n}" for n in range(1, 5)},
    **{f"V{n}": f"variation{n}" for n in range(1, 5)},
    "reroll": "reroll",
    "vary subtle": "variation_subtle",
    "vary strong": "variation_strong",
    "zoom 2x": "zoom_out_2x",
    "zoom 1.5x": "zoom_out_1_5x",
    "square": "square",
    "pan left": "pan_left",
    "pan right": "pan_right",
    "pan up": "pan_up",
    "pan down": "pan_down",
    "upscale subtle": "upscale_subtle",
    "upscale creative": "upscale_creative",
    "upscale 2x": "upscale_2x",
    "upscale 4x": "upscale_4x",
}
#: Label -> Zhishuyun-era action name.
ZHISHUYUN_NAMES: dict[str, str] = {
    **ACE_NAMES,
    **{f"U{n}": f"upsample{n}" for n in range(1, 5)},
    "vary subtle": "low_variation",
    "vary strong": "high_variation",
    "upscale 2x": "upsample_2x",
    "upscale 4x": "upsample_4x",
}
LABELS: dict[str, str] = {name: label for label, name in ACE_NAMES.items()}
LABELS.update({name: label for label, name in ZHISHUYUN_NAMES.items()})
OLD_NAMES = frozenset(ZHISHUYUN_NAMES.values()) - frozenset(ACE_NAMES.values())


def error_body(code: str, message: str, task_id: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"success": False}
    if task_id is not None:
        body["task_id"] = task_id
    body["error"] = {"code": code, "message": message}
    body["trace_id"] = str(uuid.uuid4())
    return body


def error(status: int, code: str, message: str, task_id: str | None = None) -> JSONResponse:
    return JSONResponse(error_body(code, message, task_id), status_code=status)


def too_many_requests(sim: Simulator) -> Response:
    response = error(429, "too_many_requests", "Too many requests; slow down and retry later.")
    response.headers["retry-after"] = str(sim.retry_after())
    return response


def action_names(job: Job) -> list[str]:
    """The action names a finished job offers, in its era's spelling, Discord's order."""
    names = ZHISHUYUN_NAMES if job.meta.get("era") == "zhishuyun" else ACE_NAMES
    offered = job.offered()
    if job.kind == "grid":
        offered = [*offered[:4], "reroll", *offered[4:8]]
    return [names[label] for label in offered]


def ace_state(state: State) -> str:
    return {"queued": "pending", "running": "generating", "succeeded": "finished"}.get(
        state.status, "failed"
    )


class AceData(Endpoints):
    """The ``/midjourney`` endpoints over one :class:`Simulator`."""

    def authorize(self, request: Request) -> None:
        token = self.sim.config.token
        if token is None:
            return
        header = request.headers.get("authorization", "").strip()
        given = header[7:].strip() if header.lower().startswith("bearer ") else header
        given = given or request.query_params.get("token", "")
        if not given:
            raise Unauthorized(
                "No token was sent; pass 'authorization: Bearer <token>' or '?token=<token>'.",
                "no_token",
            )
        if given != token:
            raise Unauthorized("The token is not valid; check it and retry.", "invalid_token")

    # -- answers

    async def answer(
        self, job: Job, base: str, state: State, *, live: bool = True
    ) -> dict[str, Any]:
        """The response object for ``job`` in ``state`` (final ones in full).

        ``live``: a stream line or callback, which carries ``success: true`` on every
        line and the preview as ``image_url`` while running (as Ace really speaks:
        ``success`` means "no error yet"). Otherwise a task record's ``response``, which
        has neither until the job is done (Ace's SDK takes any URL there as finished).
        """
        sim = self.sim
        if state.status == "failed":
            code = "bad_request" if job.meta.get("refused") else "api_error"
            return error_body(code, job.fail_reason or "The job failed.", job.uuid)
        if job.meta.get("type") == "videos":
            return await media.video_answer(self, job, base, state, live)
        if state.status != "succeeded":
            running: dict[str, Any] = {"task_id": job.uuid, "image_id": job.id}
            if live:
                preview = sim.preview_url(base, job, state)
                running = {"success": True, **running, "image_url": preview or ""}
            return {**running, "progress": state.progress, "actions": []}
        if job.kind == "text":
            found = await anyio.to_thread.run_sync(job.descriptions)
            return {"success": True, "task_id": job.uuid, "descriptions": found}
        image = job.rendered
        if image is None:
            image = await anyio.to_thread.run_sync(job.render)
        width, height = image.size
        body: dict[str, Any] = {
            "success": True,
            "task_id": job.uuid,
            "image_id": job.id,
            "image_url": sim.image_url(base, job, "image"),
            "image_width": width,
            "image_height": height,
            "raw_image_url": sim.image_url(base, job, "raw"),
            "raw_image_width": width,
            "raw_image_height": height,
            "progress": 100,
            "actions": action_names(job),
        }
        if job.meta.get("split_images") and job.kind == "grid":
            body["sub_image_urls"] = [sim.image_url(base, job, f"tile{n}") for n in range(1, 5)]
        return body

    async def record(self, job: Job, base: str) -> dict[str, Any]:
        """The ``/midjourney/tasks`` record of a job."""
        state = job.state(self.sim.clock())
        return {
            "id": job.uuid,
            "created_at": job.submitted_at,
            "type": job.meta.get("type", "imagine"),
            "request": job.meta.get("request", {}),
            "response": await self.answer(job, base, state, live=False),
            "state": ace_state(state),
            "finished_at": state.at if state.done else None,
            "duration": state.at - job.submitted_at if state.done else None,
        }

    async def respond(self, request: Request, f: Fields, job: Job) -> Response:
        """Answer a submit in the mode the request asked for."""
        sim, base = self.sim, str(request.base_url)
        stream = "application/x-ndjson" in request.headers.get("accept", "")
        callback = f.text("callback_url")
        if callback:

            async def payload(state: State) -> dict[str, Any] | None:
                if state.done or (stream and state.status == "running"):
                    return await self.answer(job, base, state)
                return None

            sim.deliver(PROTOCOL, callback, job, payload)
        if f.flag("async") or callback:
            return JSONResponse({"task_id": job.uuid})
        if stream:
            return StreamingResponse(self.lines(job, base), media_type="application/x-ndjson")
        timeout = f.number("timeout")
        final = None
        with anyio.move_on_after(timeout if timeout and timeout > 0 else 600.0):
            async for state in watch(job, sim.clock):
                final = state
        if final is None or not final.done:
            return error(
                500,
                "timeout",
                "The job did not finish within the timeout; retrieve it later with its task_id.",
                job.uuid,
            )
        body = await self.answer(job, base, final)
        status = 200 if final.status == "succeeded" else 400 if job.meta.get("refused") else 500
        return JSONResponse(body, status_code=status)

    async def lines(self, job: Job, base: str) -> AsyncIterator[bytes]:
        async for state in watch(job, self.sim.clock):
            if state.status == "queued":
                continue
            body = await self.answer(job, base, state)
            yield (json.dumps(body, ensure_ascii=False) + "\r\n").encode()

    def create(self, make: Callable[[], Job]) -> Job | Response:
        try:
            job = make()
        except QueueFull:
            self.sim.count(PROTOCOL, "rejected_queue_full")
            self.sim.count(PROTOCOL, "rejected_429")
            return error(429, "too_many_requests", "The queue is full; retry in a while.")
        self.sim.count(PROTOCOL, "submits")
        return job

    # -- endpoints

    async def imagine(self, request: Request) -> Response:
        f = await self.fields(request)
        suffix = request.url.path.rsplit("/", 1)[-1]
        mode = suffix if suffix in SPEEDS else (f.text("mode") or "fast")
        if mode not in SPEEDS:
            raise BadRequest(f"mode must be fast, relax or turbo, got {mode!r}.")
        action = f.text("action") or "generate"
        split = f.flag("split_images")
        f.flag("translation")
        f.flag("async")
        f.text("callback_url")
        f.number("timeout")
        era = "zhishuyun" if "token" in request.query_params or action in OLD_NAMES else "acedata"
        meta = {"request": f.body, "type": "imagine", "era": era, "split_images": split}
        if action == "generate":
            made = self.generate(f, mode, meta)
        elif action == "variation_region":
            made = media.region(self, f, mode, meta)
        else:
            made = self.act(f, action, mode, meta)
        if isinstance(made, Response):
            return made
        return await self.respond(request, f, made)

    def generate(self, f: Fields, mode: str, meta: dict[str, Any]) -> Job | Response:
        sim = self.sim
        text = (f.text("prompt") or "").strip()
        if not text:
            raise BadRequest("The field 'prompt' is required for action 'generate'.")
        banned = sim.banned_word(text)
        if banned:
            sim.count(PROTOCOL, "rejected")
            return error(
                403,
                "forbidden",
                f"The prompt contains a banned word ({banned}); "
                "change the prompt and submit again.",
            )
        version = f.text("version")
        try:
            prompt = sim.parse(text)
            if version and prompt.version is None:
                prompt = prompt.with_params(version=version)
        except PromptError as exc:
            reason = str(exc)
            return self.create(
                lambda: sim.table.submit(
                    protocol=PROTOCOL,
                    prompt_text=text,
                    fail_reason=reason,
                    meta={**meta, "refused": True},
                )
            )
        for flag in ("relax", "turbo", "fast"):
            if prompt.params.get(flag):
                mode = flag
        return self.create(
            lambda: sim.table.submit(
                protocol=PROTOCOL, prompt=prompt, prompt_text=str(prompt), speed=mode, meta=meta
            )
        )

    def act(self, f: Fields, action: str, mode: str, meta: dict[str, Any]) -> Job | Response:
        sim = self.sim
        label = LABELS.get(action)
        if label is None:
            raise BadRequest(
                f"Unknown action {action!r}; use 'generate' or one of the actions "
                "the previous answer listed."
            )
        image_id = f.text("image_id", required=True)
        parent = sim.table.get(image_id, PROTOCOL)
        if parent is None:
            raise BadRequest(
                f"No image has image_id {image_id!r}; pass the image_id of an earlier answer."
            )
        if parent.state(sim.clock()).status != "succeeded":
            raise BadRequest(f"The image {image_id} is not finished; act on it once it is.")
        if label not in parent.offered():
            offered = ", ".join(action_names(parent))
            raise BadRequest(
                f"The action {action!r} is not available for image {image_id}; "
                f"use one of: {offered}."
            )
        return self.create(
            lambda: sim.table.submit(
                protocol=PROTOCOL, action=label, parent=parent, speed=mode, meta=meta
            )
        )

    async def describe(self, request: Request) -> Response:
        sim, f = self.sim, await self.fields(request)
        url = f.text("image_url", required=True)
        assert url is not None
        source = sim.source(url, request.url.netloc)
        meta = {"request": f.body, "type": "describe", "era": "acedata"}
        made = self.create(
            lambda: sim.table.submit(
                protocol=PROTOCOL, action="describe", inputs=[source], prompt_text=url, meta=meta
            )
        )
        if isinstance(made, Response):
            return made
        return await self.respond(request, f, made)

    async def tasks(self, request: Request) -> Response:
        sim, f = self.sim, await self.fields(request)
        action, base = f.text("action"), str(request.base_url)
        sim.count(PROTOCOL, "polls")
        if action == "retrieve":
            task_id = f.text("id", required=True)
            job = sim.table.get(task_id, PROTOCOL)
            if job is None:
                return error(404, "not_found", f"No task has id {task_id!r}; check the task_id.")
            return JSONResponse(await self.record(job, base))
        if action == "retrieve_batch":
            ids = f.array("ids")
            offset = f.integer("offset", 0) or 0
            limit = f.integer("limit", 12) or 12
            if ids:
                found = [sim.table.get(i, PROTOCOL) if isinstance(i, str) else None for i in ids]
                jobs = [job for job in found if job is not None]
            else:
                jobs = sorted(sim.table.of(PROTOCOL), key=lambda j: -j.submitted_at)
            low, high = f.number("created_at_min"), f.number("created_at_max")
            jobs = [
                j
                for j in jobs
                if (low is None or j.submitted_at >= low)
                and (high is None or j.submitted_at <= high)
            ]
            page = jobs[max(0, offset) : max(0, offset) + max(0, limit)]
            items = [await self.record(job, base) for job in page]
            return JSONResponse({"items": items, "count": len(jobs)})
        raise BadRequest("action must be 'retrieve' (with id) or 'retrieve_batch' (with ids).")

    async def seed(self, request: Request) -> Response:
        sim, f = self.sim, await self.fields(request)
        image_id = f.text("image_id", required=True)
        job = sim.table.get(image_id, PROTOCOL)
        if job is None or job.state(sim.clock()).status != "succeeded":
            raise BadRequest(f"No finished image has image_id {image_id!r}.")
        return JSONResponse({"seed": str(job.seed)})  # Ace sends the seed as a string

    async def videos(self, request: Request) -> Response:
        return await media.videos(self, request)

    async def edits(self, request: Request) -> Response:
        return await media.edits(self, request)

    async def files(self, request: Request) -> Response:
        return await media.files(self, request)

    async def translate(self, request: Request) -> Response:
        f = await self.fields(request)
        return JSONResponse({"content": f.text("content", required=True)})

    async def not_implemented(self, request: Request) -> Response:
        return error(
            400,
            "api_not_implemented",
            f"{request.url.path} is not an API of this service; check the path.",
        )


async def refused(request: Request, exc: Exception) -> Response:
    """Each :class:`SimError` in Ace's error shape."""
    if isinstance(exc, Unauthorized):
        return error(401, exc.code, exc.message)
    if isinstance(exc, BadRequest):
        if exc.status == 413:
            return error(413, "payload_too_large", exc.message)
        return error(400, "bad_request", exc.message)
    return error(500, "api_error", "Internal error in the simulator; see its log.")


def upload_mount(sim: Simulator) -> Mount:
    """``/api/v1/files/``: the platform's upload (Ace's SDK sends it to another host; the
    simulator serves it at its own origin), with the API's credential check and errors."""
    api = AceData(sim)
    post = ["POST"]
    return wire.mount(
        UPLOAD_PREFIX,
        [("/files/", api.files, post), ("/files", api.files, post)],
        authorize=api.authorize,
        handlers={SimError: refused},
    )


def mount(sim: Simulator) -> Mount:
    """``/midjourney``: Ace's endpoints, credential check and error shapes."""
    api = AceData(sim)
    post = ["POST"]
    return wire.mount(
        PREFIX,
        [
            ("/imagine", api.imagine, post),
            ("/imagine/relax", api.imagine, post),
            ("/imagine/turbo", api.imagine, post),
            ("/imagine/fast", api.imagine, post),
            ("/tasks", api.tasks, post),
            ("/describe", api.describe, post),
            ("/seed", api.seed, post),
            ("/videos", api.videos, post),
            ("/edits", api.edits, post),
            ("/translate", api.translate, post),
            ("/{rest:path}", api.not_implemented, ["GET", "POST"]),
        ],
        authorize=api.authorize,
        handlers={SimError: refused},
    )
