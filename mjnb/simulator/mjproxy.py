"""The midjourney-proxy protocol (novicezk/midjourney-proxy and its forks), simulated.

Paths under ``/mj``: ``submit/imagine``, ``submit/change``, ``submit/simple-change``,
``submit/action`` (a button's ``customId``), ``submit/blend``, ``submit/describe``;
``task/{id}/fetch``, ``task/{id}/image-seed``, ``task/list``, ``task/queue``,
``task/list-by-condition``, ``task/{id}/cancel`` (trueai: 200 with an empty body; an
unfinished task becomes FAILURE with failReason ``取消任务``). Submits answer HTTP 200
``{code, description, result, properties}``: 1 accepted, 22 accepted but queued
(``numberOfQueues``), 23 queue full, 24 banned prompt (``promptEn``, ``bannedWord``),
4 validation error, 3 target task not found. Task objects carry ``progress`` as a
string ("45%"), millisecond
times and Discord-style ``buttons``. ``notifyHook`` receives the full task on every
change. A wrong or missing ``mj-api-secret`` gets 401 with an empty body; an unknown
task id fetches as an empty 200.

trueai's media (``/mj/submit/video``, the video buttons, the window confirm: code 21,
status MODAL, ``/mj/submit/modal``; ``/mj/submit/edits``, ``/retexture``,
``/upload-discord-images``) are in :mod:`mjnb.simulator.mjproxy_media_api`, their
pictures and clips in :mod:`mjnb.simulator.mjproxy_media`. ``image-seed`` answers as
TaskController does: 404 for an unknown id, 400 code 4 before the task has finished.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any, cast

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from mjnb.prompt import PromptError
from mjnb.simulator import mjproxy_media as media
from mjnb.simulator import wire
from mjnb.simulator.images import decode_data_url
from mjnb.simulator.mjproxy_media_api import MediaEndpoints, reply
from mjnb.simulator.model import Job, QueueFull, State
from mjnb.simulator.state import Simulator
from mjnb.simulator.versions import rules_for, version_key
from mjnb.simulator.wire import BadRequest, Fields, SimError, Unauthorized

__all__ = ["PREFIX", "PROTOCOL", "MJProxy", "mount", "too_many_requests"]

PROTOCOL = "mjproxy"
PREFIX = "/mj"
log = logging.getLogger("mjnb.simulator")

STATUSES = {"queued": "NOT_START", "succeeded": "SUCCESS", "failed": "FAILURE"}
CHANGE_ACTIONS = {"UPSCALE": "U", "VARIATION": "V"}
DIMENSIONS = {"PORTRAIT": "portrait", "SQUARE": "square", "LANDSCAPE": "landscape"}
#: trueai's failReason for a cancelled task (TaskController.Cancel: ``task.Fail("取消任务")``)
CANCEL_REASON = "取消任务"
SPEED_MODES = {"FAST": "fast", "RELAX": "relax", "TURBO": "turbo"}


def task_action(job: Job) -> str:
    """The proxy's ``action`` name for a job."""
    action = job.action
    if action in ("imagine", "describe", "blend", "reroll"):
        return action.upper()
    if action[0] == "U" or action.startswith("upscale "):
        return "UPSCALE"
    if action[0] == "V" or action.startswith("vary "):
        return "VARIATION"
    if action.startswith("pan "):
        return "PAN"
    return "ZOOM"  # zoom 2x, zoom 1.5x, square


def button_specs(job: Job) -> list[tuple[str, str, str, str]]:
    """(label, customId, emoji, button label) for each action a finished job offers,
    in Discord's order: U1-U4, reroll, V1-V4 on a grid. The upscale buttons are spelt
    per version (``upsample_v5_2x``, ``upsample_v6r1_2x_subtle`` ...); V8 has none."""
    h = job.hash
    t = rules_for(version_key(job.params)).tag
    specs: dict[str, tuple[str, str, str]] = {
        "reroll": (f"MJ::JOB::reroll::0::{h}::SOLO", "🔄", ""),
        "vary subtle": (f"MJ::JOB::low_variation::1::{h}::SOLO", "🪄", "Vary (Subtle)"),
        "vary strong": (f"MJ::JOB::high_variation::1::{h}::SOLO", "🪄", "Vary (Strong)"),
        "zoom 2x": (f"MJ::Outpaint::50::1::{h}::SOLO", "🔍", "Zoom Out 2x"),
        "zoom 1.5x": (f"MJ::Outpaint::75::1::{h}::SOLO", "🔍", "Zoom Out 1.5x"),
        "square": (f"MJ::Outpaint::100::1::{h}::SOLO", "↔️", "Make Square"),
        "pan left": (f"MJ::JOB::pan_left::1::{h}::SOLO", "⬅️", ""),
        "pan right": (f"MJ::JOB::pan_right::1::{h}::SOLO", "➡️", ""),
        "pan up": (f"MJ::JOB::pan_up::1::{h}::SOLO", "⬆️", ""),
        "pan down": (f"MJ::JOB::pan_down::1::{h}::SOLO", "⬇️", ""),
        "upscale subtle": (
            f"MJ::JOB::upsample_{t}_2x_subtle::1::{h}::SOLO",
            "",
            "Upscale (Subtle)",
        ),
        "upscale creative": (
            f"MJ::JOB::upsample_{t}_2x_creative::1::{h}::SOLO",
            "",
            "Upscale (Creative)",
        ),
        "upscale 2x": (f"MJ::JOB::upsample_{t}_2x::1::{h}::SOLO", "", "Upscale (2x)"),
        "upscale 4x": (f"MJ::JOB::upsample_{t}_4x::1::{h}::SOLO", "", "Upscale (4x)"),
    }
    for n in range(1, 5):
        specs[f"U{n}"] = (f"MJ::JOB::upsample::{n}::{h}", "", f"U{n}")
        specs[f"V{n}"] = (f"MJ::JOB::variation::{n}::{h}", "", f"V{n}")
    if "video" in job.meta:
        return media.video_buttons(job)
    offered = job.offered()
    if job.kind == "grid":
        offered = [*offered[:4], "reroll", *offered[4:8]]
    out = [(label, *specs[label]) for label in offered]
    if job.kind == "single":  # trueai's CreateVaryButtons / CreateZoomButtons / animate
        found = re.search(r"\d+(?:\.\d+)?", version_key(job.params))
        extra = []
        if found is None or float(found[0]) >= 5:  # Vary (Region) is a v5+ button
            extra.append(("vary region", f"MJ::Inpaint::1::{h}::SOLO", "🖌️", "Vary (Region)"))
        if "zoom 2x" in offered:
            extra.append(("zoom custom", f"MJ::CustomZoom::{h}", "🔍", "Custom Zoom"))
        extra += [
            ("animate high", f"MJ::JOB::animate_high::1::{h}::SOLO", "🎞️", "Animate (High motion)"),
            ("animate low", f"MJ::JOB::animate_low::1::{h}::SOLO", "🎞️", "Animate (Low motion)"),
        ]
        out += extra
    return out


def buttons(job: Job) -> list[dict[str, Any]]:
    return [
        {"customId": custom_id, "emoji": emoji, "label": text, "type": 2, "style": 2}
        for _, custom_id, emoji, text in button_specs(job)
    ]


def description(job: Job) -> str:
    parent = job.parent
    if job.action == "imagine":
        return f"/imagine {job.prompt}"
    if job.action == "describe":
        return f"/describe {job.id}.png"
    if job.action == "blend":
        return f"/blend {job.id} {len(job.inputs)}"
    short = {"reroll": "R"}.get(job.action, job.action)
    return f"/up {parent.id if parent else ''} {short}"


def too_many_requests(sim: Simulator) -> Response:
    """The fork's rate-limiter answer."""
    wait = sim.retry_after()
    response = reply(
        429,
        "Too many requests; slow down and retry later.",
        status=429,
        properties={"retryAfter": wait},
    )
    response.headers["retry-after"] = str(wait)
    return response


class MJProxy(MediaEndpoints):
    """The ``/mj`` endpoints over one :class:`Simulator`."""

    def __init__(self, sim: Simulator) -> None:
        super().__init__(sim)
        self.modals = {}

    def action_name(self, job: Job) -> str:
        return task_action(job)

    def authorize(self, request: Request) -> None:
        token = self.sim.config.token
        if token is None:
            return
        given = request.headers.get("mj-api-secret")
        if given is None:
            auth = request.headers.get("authorization", "")
            given = auth[7:] if auth.lower().startswith("bearer ") else auth
        if given != token:
            raise Unauthorized("Missing or wrong mj-api-secret.")

    def task(self, job: Job, base: str, state: State | None = None) -> dict[str, Any]:
        """The task object, as ``/mj/task/{id}/fetch`` returns it."""
        sim = self.sim
        state = state or job.state(sim.clock())
        status = STATUSES.get(state.status) or ("IN_PROGRESS" if state.progress else "SUBMITTED")
        image_url = None
        prompt = job.meta.get("prompt", job.prompt)
        final_prompt = job.prompt
        spec = job.meta.get("video")
        extra: dict[str, Any] = {}
        if state.status == "succeeded" and spec is not None:
            urls = [self.video_url(base, job, n) for n in range(media.clip_count(spec))]
            thumb = spec.start_url or None
            image_url = urls[0]
            extra = {
                "videoUrl": urls[0],
                "videoUrls": [{"url": url, "thumbnail": thumb} for url in urls],
                "imageUrls": [{"url": url, "thumbnail": thumb} for url in urls],
                "contentType": "video/mp4",
            }
        elif state.status == "succeeded":
            image_url = job.meta.get("image_url") or sim.image_url(base, job, "image")
            if job.kind == "text":
                prompt = final_prompt = "\n\n".join(job.meta.get("descriptions", []))
        elif state.status == "running" and spec is None:
            image_url = sim.preview_url(base, job, state)
        return {
            "id": job.id,
            "action": job.meta.get("task_action") or task_action(job),
            "status": status,
            "prompt": prompt,
            "promptEn": job.prompt if job.kind != "text" else prompt,
            "description": job.meta.get("description") or description(job),
            "state": job.meta.get("state"),
            "submitTime": int(job.submitted_at * 1000),
            "startTime": int(job.started_at * 1000)
            if job.started_at is not None and state.status != "queued"
            else None,
            "finishTime": int(state.at * 1000) if state.done else None,
            "imageUrl": image_url,
            "progress": "" if state.status == "failed" else f"{state.progress}%",
            "failReason": job.fail_reason if state.status == "failed" else None,
            "properties": {"finalPrompt": final_prompt, "notifyHook": job.meta.get("notifyHook")},
            "buttons": buttons(job) if state.status == "succeeded" else [],
            "parentId": job.parent.id if job.parent is not None else None,
            "seed": str(job.seed) if job.meta.get("seed_asked") else None,
            **extra,
        }

    async def ready(self, job: Job) -> None:
        """Make sure a finished describe job has its text (computed once, off the loop)."""
        done = job.state(self.sim.clock()).status == "succeeded"
        if done and job.kind == "text" and "descriptions" not in job.meta:
            job.meta["descriptions"] = await anyio.to_thread.run_sync(job.descriptions)

    def accept(self, request: Request, fields: Fields, submit: Callable[[], Job]) -> JSONResponse:
        """Submit through ``submit``, answer 1 / 22 / 23, and start the notifyHook."""
        sim = self.sim
        now = sim.clock()
        waiting, will_wait = sim.table.waiting(now), sim.table.will_wait(now)
        try:
            job = submit()
        except QueueFull:
            sim.count(PROTOCOL, "rejected_queue_full")
            return reply(23, "The queue is full; try again later.")
        job.meta["state"] = fields.get("state")
        sim.count(PROTOCOL, "submits")
        base = self.base(request)
        hook = fields.text("notifyHook")
        if hook:
            job.meta["notifyHook"] = hook

            async def payload(state: State) -> dict[str, Any]:
                await self.ready(job)
                return self.task(job, base, state)

            sim.deliver(PROTOCOL, hook, job, payload)
        if will_wait:
            return reply(
                22,
                f"In queue, {waiting} tasks ahead.",
                job.id,
                {"numberOfQueues": waiting, "discordInstanceId": "sim"},
            )
        return reply(1, "Submit success", job.id, {"discordInstanceId": "sim"})

    def uploads(self, request: Request, items: list[Any]) -> list[str]:
        urls = []
        for item in items:
            if not isinstance(item, str):
                raise BadRequest("base64Array must hold data URL strings.")
            if item.strip().lower().startswith(("http://", "https://")):
                urls.append(item.strip())  # trueai takes links too (DataUrl.Parse)
                continue
            urls.append(self.sim.upload(decode_data_url(item), self.base(request), PROTOCOL))
        return urls

    # -- submits

    async def imagine(self, request: Request) -> Response:
        sim, f = self.sim, await self.fields(request)
        text = (f.text("prompt") or "").strip()
        if not text:
            return reply(4, "The prompt must not be empty.")
        images = self.uploads(request, f.array("base64Array"))
        if images:
            text = " ".join([*images, text])
        banned = sim.banned_word(text)
        if banned:
            sim.count(PROTOCOL, "rejected")
            return reply(
                24,
                "The prompt may contain a banned word; change it and submit again.",
                properties={"promptEn": text, "bannedWord": banned},
            )
        bot = f.text("botType", "MID_JOURNEY")
        if bot not in ("MID_JOURNEY", "NIJI_JOURNEY"):
            return reply(4, f"botType must be MID_JOURNEY or NIJI_JOURNEY, got {bot!r}.")
        try:
            prompt = sim.parse(text)
            if bot == "NIJI_JOURNEY" and prompt.version is None:
                prompt = prompt.with_params(niji="6")
        except PromptError as exc:
            sim.count(PROTOCOL, "rejected")
            return reply(4, str(exc))
        speed = "fast"
        modes = f.mapping("accountFilter").get("modes") or []
        for mode in modes if isinstance(modes, list) else []:
            speed = SPEED_MODES.get(str(mode).upper(), speed)
        for flag in ("relax", "turbo", "fast"):
            if prompt.params.get(flag):
                speed = flag
        return self.accept(
            request,
            f,
            lambda: sim.table.submit(
                protocol=PROTOCOL,
                prompt=prompt,
                prompt_text=str(prompt),
                speed=speed,
                meta={"prompt": f.text("prompt")},
            ),
        )

    def act(
        self,
        request: Request,
        f: Fields,
        task_id: Any,
        label: str | None,
        custom_id: str | None = None,
    ) -> Response:
        sim = self.sim
        parent = sim.table.get(task_id, PROTOCOL) if isinstance(task_id, str) else None
        if parent is None:
            return reply(3, "The target task does not exist or has expired; check taskId.")
        state = parent.state(sim.clock())
        if state.status != "succeeded":
            status = STATUSES.get(state.status, "IN_PROGRESS")
            return reply(4, f"The target task is {status}; act on it once it is SUCCESS.")
        if label is None or label not in {spec[0] for spec in button_specs(parent)}:
            return reply(
                4, "That action is not offered by the target task; use one of its buttons."
            )
        remixable = label[0] == "V" or label.startswith(("pan ", "vary ", "animate ", "extend "))
        if label in ("vary region", "zoom custom") or (
            f.flag("enableRemix") and (remixable or label == "reroll")
        ):
            return self.open_modal(request, f, parent, label, custom_id or "")
        if "video" in parent.meta or label.startswith("animate "):
            return self.video_action(request, f, parent, label, custom_id or "", None)
        return self.accept(
            request,
            f,
            lambda: sim.table.submit(
                protocol=PROTOCOL, action=label, parent=parent, speed=parent.speed
            ),
        )

    async def change(self, request: Request) -> Response:
        f = await self.fields(request)
        action = (f.text("action") or "").upper()
        if action == "REROLL":
            return self.act(request, f, f.text("taskId"), "reroll")
        index = f.integer("index")
        if action not in CHANGE_ACTIONS:
            return reply(4, "action must be UPSCALE, VARIATION or REROLL.")
        if index is None or not 1 <= index <= 4:
            return reply(4, "index must be 1-4.")
        return self.act(request, f, f.text("taskId"), f"{CHANGE_ACTIONS[action]}{index}")

    async def simple_change(self, request: Request) -> Response:
        f = await self.fields(request)
        found = re.fullmatch(r"\s*(\S+)\s+([UV][1-4]|R)\s*", f.text("content") or "", re.I)
        if not found:
            return reply(4, "content must look like '<taskId> U2' (U1-U4, V1-V4 or R).")
        word = found[2].upper()
        return self.act(request, f, found[1], "reroll" if word == "R" else word)

    async def action(self, request: Request) -> Response:
        f = await self.fields(request)
        task_id, custom_id = f.text("taskId"), f.text("customId")
        if not custom_id:
            return reply(4, "customId is required: copy it from one of the task's buttons.")
        parent = self.sim.table.get(task_id, PROTOCOL) if task_id else None
        label = None
        if parent is not None and parent.state(self.sim.clock()).status == "succeeded":
            label = next((lbl for lbl, cid, _, _ in button_specs(parent) if cid == custom_id), None)
        return self.act(request, f, task_id, label, custom_id)

    async def blend(self, request: Request) -> Response:
        sim, f = self.sim, await self.fields(request)
        items = f.array("base64Array")
        if not 2 <= len(items) <= 5:
            return reply(4, f"base64Array must hold 2-5 images, got {len(items)}.")
        dims = DIMENSIONS.get((f.text("dimensions") or "SQUARE").upper())
        if dims is None:
            return reply(4, "dimensions must be PORTRAIT, SQUARE or LANDSCAPE.")
        urls = self.uploads(request, items)
        sources = [sim.source(url, request.url.netloc) for url in urls]
        return self.accept(
            request,
            f,
            lambda: sim.table.submit(
                protocol=PROTOCOL,
                action="blend",
                inputs=sources,
                dimensions=dims,
                prompt_text=" ".join(urls),
            ),
        )

    async def describe(self, request: Request) -> Response:
        sim, f = self.sim, await self.fields(request)
        data, link = f.text("base64"), f.text("link")
        if data:
            url = self.uploads(request, [data])[0]
        elif link:
            url = link
        else:
            return reply(4, "Send the image as base64 (a data URL) or as link.")
        source = sim.source(url, request.url.netloc)
        return self.accept(
            request,
            f,
            lambda: sim.table.submit(
                protocol=PROTOCOL,
                action="describe",
                inputs=[source],
                meta={"image_url": url, "prompt": ""},
            ),
        )

    # -- tasks

    async def fetch(self, request: Request) -> Response:
        self.sim.count(PROTOCOL, "polls")
        modal = self.modals.get(request.path_params["id"])
        if modal is not None:
            return JSONResponse(self.modal_task(modal))
        job = self.sim.table.get(request.path_params["id"], PROTOCOL)
        if job is None:
            return Response(status_code=200)
        await self.ready(job)
        return JSONResponse(self.task(job, self.base(request)))

    async def image_seed(self, request: Request) -> Response:
        """``GET /mj/task/{id}/image-seed`` as TaskController.ImageSeed answers: code 1 with
        the seed; 404 code 3 for an unknown id; 400 code 4 ``关联任务状态错误`` for a task
        that has no message yet (not finished). The task object then shows ``seed``."""
        job = self.sim.table.get(request.path_params["id"], PROTOCOL)
        if job is None:
            return reply(3, "关联任务不存在或已失效 (the task does not exist).", status=404)
        if job.state(self.sim.clock()).status != "succeeded":
            return reply(4, "关联任务状态错误 (the task has no seed yet).", status=400)
        job.meta["seed_asked"] = True
        return reply(1, "成功", str(job.seed))

    async def listing(self, request: Request) -> Response:
        self.sim.count(PROTOCOL, "polls")
        jobs = self.sim.table.of(PROTOCOL)
        if request.url.path.endswith("/queue"):
            now = self.sim.clock()
            jobs = [job for job in jobs if not job.state(now).done]
        for job in jobs:
            await self.ready(job)
        base = self.base(request)
        return JSONResponse([self.task(job, base) for job in jobs])

    async def by_condition(self, request: Request) -> Response:
        self.sim.count(PROTOCOL, "polls")
        f = await self.fields(request)
        ids = f.array("ids")
        base, jobs = self.base(request), []
        for task_id in ids:
            job = self.sim.table.get(task_id, PROTOCOL) if isinstance(task_id, str) else None
            modal = self.modals.get(task_id) if isinstance(task_id, str) else None
            if modal is not None:
                jobs.append(self.modal_task(modal))
            elif job is not None:
                await self.ready(job)
                jobs.append(self.task(job, base))
        return JSONResponse(jobs)

    async def cancel(self, request: Request) -> Response:
        """``POST /mj/task/{id}/cancel``, as trueai's TaskController answers an admin
        (the simulator's token holder): 200 with an empty body, also for unknown or
        finished tasks; an unfinished task ends at once as FAILURE, failReason
        ``取消任务``, progress "" (a MODAL task too)."""
        modal = self.modals.pop(request.path_params["id"], None)
        if modal is not None:
            ended = self.submit_job(
                action=modal.label, parent=modal.parent, fail_reason=CANCEL_REASON,
                meta={"prompt": modal.prompt, "task_action": modal.action, "state": modal.state},
            )  # fmt: skip
            self.rekey(ended, modal.id)
            self.sim.count(PROTOCOL, "cancels")
            return Response(status_code=200)
        job = self.sim.table.get(request.path_params["id"], PROTOCOL)
        if job is not None and self.sim.table.cancel(job, CANCEL_REASON):
            self.sim.count(PROTOCOL, "cancels")
        return Response(status_code=200)

    async def not_found(self, request: Request) -> Response:
        body = {
            "timestamp": int(self.sim.clock() * 1000),
            "status": 404,
            "error": "Not Found",
            "path": request.url.path,
        }
        return JSONResponse(body, status_code=404)


async def refused(request: Request, exc: Exception) -> Response:
    """Each :class:`SimError` in the proxy's shapes: 401 with an empty body, validation
    errors as HTTP 200 code 4 (413 for a body too large), bugs as code 9 with a 500."""
    if isinstance(exc, Unauthorized):
        return Response(status_code=401)
    if isinstance(exc, BadRequest):
        return reply(4, exc.message, status=413 if exc.status == 413 else 200)
    return reply(9, "Internal error in the simulator; see its log.", status=500)


def mount(sim: Simulator) -> Mount:
    """``/mj``: the proxy's endpoints, credential check and error shapes."""
    api = MJProxy(sim)
    post, get = ["POST"], ["GET"]
    mounted = wire.mount(
        PREFIX,
        [
            ("/submit/imagine", api.imagine, post),
            ("/submit/change", api.change, post),
            ("/submit/simple-change", api.simple_change, post),
            ("/submit/action", api.action, post),
            ("/submit/blend", api.blend, post),
            ("/submit/describe", api.describe, post),
            ("/submit/video", api.video, post),
            ("/submit/modal", api.modal, post),
            ("/submit/edits", api.edits, post),
            ("/submit/edit", api.edits, post),
            ("/submit/retexture", api.retexture, post),
            ("/submit/upload-discord-images", api.upload_images, post),
            ("/task/list", api.listing, get),
            ("/task/queue", api.listing, get),
            ("/task/list-by-condition", api.by_condition, post),
            ("/task/{id}/fetch", api.fetch, get),
            ("/task/{id}/image-seed", api.image_seed, get),
            ("/task/{id}/cancel", api.cancel, post),
            ("/{rest:path}", api.not_found, ["GET", "POST", "PUT", "DELETE"]),
        ],
        authorize=api.authorize,
        handlers={SimError: refused},
    )
    # clips are CDN-style links: signed, outside the secret check
    app = cast(Starlette, mounted.app)
    app.router.routes.insert(0, Route("/_sim/videos/{job}/{n}.mp4", api.video_file, methods=get))
    return mounted
