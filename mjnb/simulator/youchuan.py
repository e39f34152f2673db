"""Youchuan 悠船's open-platform Midjourney API, simulated (``/v1/tob/*``).

Every call needs the headers ``x-youchuan-app`` (any non-empty app id) and
``x-youchuan-secret`` (the simulator's ``token``; any when it has none). Errors are
HTTP statuses equal to the body's ``code``: ``{"code": 400, "message": ..., "reason":
"Invalid_Argument"}``, with Youchuan's reasons (401 ``Invalid_App_Identifier``, 403
``Msg_Sensitive`` for a banned word, 429 ``Max_Concurrent_Limited`` ...).

- ``POST /v1/tob/diffusion {text, callback?}`` answers the new job object. Parameters
  live in ``text``; ``--repeat``, ``--stealth``, ``--public`` and ``{}`` permutations
  are refused (400 ``Invalid_Prompt_Parameter``).
- Edits take ``jobId`` and ``imageNo`` **counted from zero**: ``/variation`` (``type``
  0 subtle, 1 strong), ``/upscale`` (``type`` 0 subtle, 1 creative on V6 and later; 2
  ``v5_2x``, 3 ``v5_4x`` on V5), ``/reroll`` (``jobId`` only), ``/pan`` (``direction``
  0 down, 1 right, 2 up, 3 left; ``scale`` 1.1-3.0), ``/outpaint`` (``scale`` 1.1-2.0),
  ``/remix`` (``remixPrompt``, ``mode`` 0 strong, 1 subtle). An upscaled job has one
  image, ``imageNo`` 0, and cannot be upscaled again (``Job_ReUpscale_Not_Support``).
- Video (``/video-diffusion``, ``/extend-video``, ``/video-upscale``) and the editor
  (``/inpaint``, ``/edit``, ``/upload-paint``, ``/retexture``) are
  :mod:`mjnb.simulator.youchuan_media`'s; clips are served at
  ``/v1/tob/_sim/videos/{id}/{n}.mp4`` (signed like the images). ``/remove-background``
  and undocumented paths answer 405 ``Not_Support``.
- ``GET /v1/tob/job/{id}``: ``status`` 0 queued / 1 running / 2 success / 3 failed and a
  ``comment`` code; ``urls`` are **four separate images** (one for an upscale) and
  ``audits`` runs beside them. No progress field.

Quirks, as clients report them: a job reads ``status`` 2 with empty ``urls`` for a
moment after it finished (``URL_DELAY``); ``comment`` follows ``comment_lang``:
codes (``en``), Chinese words (``zh``), or every third job's final one Chinese
("成功", "失败"; ``mixed``, the default); V8.x jobs (V8.1 here) refuse ``/pan`` and
``/outpaint`` and answer ``/upscale`` with 405 (rerun with ``--hd --seed``); a job
is refused with 429 ``Max_Concurrent_Limited`` when every ``concurrency`` slot is
busy, never queued; a prompt with a word of ``AUDITED_WORDS``
has its second image withheld by moderation (``audits[1]`` set).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount

from mjnb.prompt import Prompt, PromptError
from mjnb.simulator import wire
from mjnb.simulator.model import Job, QueueFull, State
from mjnb.simulator.state import Simulator
from mjnb.simulator.versions import Rules, rules_for, version_key
from mjnb.simulator.wire import BadRequest, Endpoints, Fields, SimError, Unauthorized

__all__ = ["PREFIX", "PROTOCOL", "Youchuan", "mount", "too_many_requests"]

PROTOCOL = "youchuan"
PREFIX = "/v1/tob"
log = logging.getLogger("mjnb.simulator")

MAX_TEXT = 8192
#: words whose images Youchuan's moderation withholds: the second image of such a job
AUDITED_WORDS: tuple[str, ...] = ("swimsuit", "lingerie")
#: parameters Youchuan refuses in a prompt
REFUSED: tuple[str, ...] = ("repeat", "stealth", "public")
STATUS_CODES = {"queued": 0, "running": 1, "succeeded": 2, "failed": 3}
COMMENTS = {
    "queued": "JobStatusQueued",
    "running": "JobStatusRunning",
    "succeeded": "JobStatusSuccess",
}
#: ``comment_lang="mixed"``: every third job's final comment in Chinese, as clients see
CHINESE = {"succeeded": "成功", "failed": "失败"}
#: ``comment_lang="zh"``: every comment in Chinese
ZH_COMMENTS = {
    "created": "已创建",
    "queued": "排队中",
    "running": "生成中",
    "succeeded": "成功",
    "failed": "失败",
}
DIRECTIONS = {0: "down", 1: "right", 2: "up", 3: "left"}
UPSCALES = {0: "subtle", 1: "creative", 2: "2x", 3: "4x"}
VARIATIONS = {0: "subtle", 1: "strong"}


def url_delay(latency: float) -> float:
    """Seconds a finished job reads success with no urls yet."""
    return min(1.0, max(0.1, latency / 4))


def error(status: int, reason: str, message: str) -> JSONResponse:
    return JSONResponse({"code": status, "message": message, "reason": reason}, status_code=status)


def too_many_requests(sim: Simulator) -> Response:
    response = error(429, "Max_Concurrent_Limited", "Too many requests; slow down.")
    response.headers["retry-after"] = str(sim.retry_after())
    return response


class Refused(SimError):
    """An answer with Youchuan's error shape, raised from deep inside a handler."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status, self.reason, self.message = status, reason, message


def failure_comment(reason: str | None) -> str:
    """The ``comment`` code for a job that failed while running, from its reason."""
    text = (reason or "").lower()
    if "timed out" in text:
        return "JobStatusTimeout"
    if "fast hours" in text:
        return "JobStatusCreditNotEnough"
    return "JobStatusError" if "internal error" in text else "JobStatusFail"


class Youchuan(Endpoints):
    """The ``/v1/tob`` endpoints over one :class:`Simulator` (the video and editor ones
    are :class:`mjnb.simulator.youchuan_media.Media`'s)."""

    media: Any

    def authorize(self, request: Request) -> None:
        token = self.sim.config.token
        if token is None:
            return
        app = request.headers.get("x-youchuan-app", "").strip()
        if not app or request.headers.get("x-youchuan-secret", "") != token:
            raise Unauthorized("Missing or wrong x-youchuan-app/secret.")

    def prompt(self, text: str, field: str) -> Prompt:
        """Parse a prompt as Youchuan takes it; Refused for what it refuses."""
        if not 1 <= len(text) <= MAX_TEXT:
            raise Refused(400, "Invalid_Argument", f"{field} must be 1-{MAX_TEXT} characters.")
        banned = self.sim.banned_word(text)
        if banned:
            raise Refused(403, "Msg_Sensitive", f"The prompt contains a sensitive word ({banned}).")
        try:
            prompt = self.sim.parse(text)
        except PromptError as exc:
            raise Refused(400, "Invalid_Prompt_Parameter", str(exc)) from None
        refused = [name for name in REFUSED if name in prompt.params]
        if refused:
            raise Refused(
                400, "Invalid_Prompt_Parameter", f"--{refused[0]} is not supported by this API."
            )
        return prompt

    def create(
        self, request: Request, f: Fields, kind: str, make: Callable[[], Job]
    ) -> JSONResponse:
        """Make the job unless every slot is busy (429); answer its object."""
        sim = self.sim
        if sim.table.will_wait(sim.clock()):
            sim.count(PROTOCOL, "rejected_429")
            raise Refused(
                429, "Max_Concurrent_Limited", "The plan's concurrent job limit is reached."
            )
        try:
            job = make()
        except QueueFull:
            sim.count(PROTOCOL, "rejected_429")
            raise Refused(
                429, "Max_Concurrent_Limited", "The plan's concurrent job limit is reached."
            ) from None
        sim.count(PROTOCOL, "submits")
        base = str(request.base_url)
        job.meta.update(type=kind, base=base)
        hook = f.text("callback")
        if hook:
            job.meta["callback"] = hook

            async def payload(state: State) -> dict[str, Any] | None:
                late = url_delay(sim.config.latency) if state.status == "succeeded" else 0.0
                return self.job_object(job, state.at + late)

            sim.deliver(PROTOCOL, hook, job, payload)
        return JSONResponse(self.job_object(job, job.submitted_at, created=True))

    def parent(self, f: Fields, *, upscale: bool = False) -> Job:
        """The finished job an edit names by ``jobId``. Jobs from upload-paint and
        retexture allow only upscale (405 for anything else)."""
        job_id = f.text("jobId", required=True)
        parent = self.sim.table.get(job_id, PROTOCOL)
        if parent is None:
            raise Refused(400, "Invalid_Argument", f"Job {job_id} does not exist.")
        if parent.state(self.sim.clock()).status != "succeeded":
            raise Refused(400, "Invalid_Argument", f"Job {job_id} has not succeeded.")
        if parent.meta.get("only_upscale") and not upscale:
            raise Refused(
                405,
                "Not_Support",
                f"Job {job_id} came from {parent.meta.get('type')}: "
                "only upscale is supported on it.",
            )
        if "video" in parent.meta and "videoNo" not in f.body:
            raise Refused(400, "Invalid_Argument", f"Job {job_id} is a video job.")
        return parent

    def image_no(self, f: Fields, parent: Job) -> int:
        """The 0-based ``imageNo`` checked against the parent; returns the tile (1-4) or
        0 for an upscaled job's one image."""
        number = f.integer("imageNo", required=True)
        assert number is not None
        if parent.kind == "single":
            if number != 0:
                raise Refused(
                    400, "Invalid_Argument", f"Job {parent.id} has one image: imageNo must be 0."
                )
            return 0
        if not 0 <= number <= 3:
            raise Refused(
                400, "Invalid_Argument", f"imageNo must be 0-3 (counted from 0), got {number}."
            )
        if number in self.withheld(parent):
            raise Refused(
                400, "Invalid_Argument", f"Image {number} of job {parent.id} failed moderation."
            )
        return number + 1

    @staticmethod
    def withheld(job: Job) -> set[int]:
        """The 0-based numbers of a job's images that moderation withheld."""
        if job.kind != "grid":
            return set()
        words = set(job.text.lower().split())
        return {1} if words & set(AUDITED_WORDS) else set()

    def edit(
        self,
        request: Request,
        f: Fields,
        kind: str,
        label: str,
        tile: int,
        parent: Job,
        text: str | None = None,
    ) -> JSONResponse:
        """Create ``label`` acting on ``tile`` (0: all) of ``parent``."""
        sim = self.sim
        meta = {"prompt": text or parent.meta.get("prompt", parent.prompt), "parentId": parent.id}
        meta["imageNo"] = max(tile - 1, 0) if kind != "reroll" else None
        return self.create(
            request,
            f,
            kind,
            lambda: sim.table.submit(
                protocol=PROTOCOL,
                action=label,
                parent=parent,
                speed=parent.speed,
                meta=meta,
                tile=tile,
            ),
        )

    # -- submits

    async def diffusion(self, request: Request) -> Response:
        sim, f = self.sim, await self.fields(request)
        text = (f.text("text") or "").strip()
        prompt = self.prompt(text, "text")
        speed = next((s for s in ("relax", "turbo", "fast") if prompt.params.get(s)), "fast")
        return self.create(
            request,
            f,
            "diffusion",
            lambda: sim.table.submit(
                protocol=PROTOCOL,
                prompt=prompt,
                prompt_text=str(prompt),
                speed=speed,
                meta={"prompt": text},
            ),
        )

    async def variation(self, request: Request) -> Response:
        f = await self.fields(request)
        parent = self.parent(f)
        tile = self.image_no(f, parent)
        strength = VARIATIONS.get(f.integer("type", 0) or 0)
        if strength is None:
            raise Refused(400, "Invalid_Argument", "type must be 0 (subtle) or 1 (strong).")
        remix = f.text("remixPrompt")
        if remix:
            return self.remixed(request, f, parent, tile, remix)
        return self.edit(request, f, "variation", f"vary {strength}", tile, parent)

    async def remix(self, request: Request) -> Response:
        f = await self.fields(request)
        parent = self.parent(f)
        tile = self.image_no(f, parent)
        if f.integer("mode", 0) not in (0, 1):
            raise Refused(400, "Invalid_Argument", "mode must be 0 (strong) or 1 (subtle).")
        remix = f.text("remixPrompt", required=True) or ""
        return self.remixed(request, f, parent, tile, remix)

    def remixed(
        self, request: Request, f: Fields, parent: Job, tile: int, remix: str
    ) -> JSONResponse:
        """A remix: the new prompt painted from the parent's seed, so its layout stays."""
        sim = self.sim
        prompt = self.prompt(remix.strip(), "remixPrompt")
        if "seed" not in prompt.params:
            prompt = prompt.with_params(seed=parent.seed)
        meta = {"prompt": remix, "parentId": parent.id, "imageNo": max(tile - 1, 0)}
        return self.create(
            request,
            f,
            "remix",
            lambda: sim.table.submit(
                protocol=PROTOCOL,
                prompt=prompt,
                prompt_text=str(prompt),
                speed=parent.speed,
                meta=meta,
            ),
        )

    async def upscale(self, request: Request) -> Response:
        f = await self.fields(request)
        parent = self.parent(f, upscale=True)
        if parent.kind == "single":
            raise Refused(400, "Job_ReUpscale_Not_Support", f"Job {parent.id} is an upscale.")
        tile = self.image_no(f, parent)
        number = f.integer("type", 0) or 0
        kind = UPSCALES.get(number)
        if kind is None:
            raise Refused(400, "Invalid_Argument", "type must be 0, 1, 2 or 3.")
        rules = self.rules(parent)
        if not rules.upscales:
            raise Refused(
                405,
                "Not_Support",
                f"Job {parent.id} is V8.x: upscale by running its prompt again with "
                f"--hd --seed {parent.seed}.",
            )
        if f"upscale {kind}" not in rules.upscales:
            model = "V5" if "upscale 2x" in rules.upscales else "V6 and later"
            raise Refused(
                403, "Upscale_Not_Support", f"Upscale type {number} is not available on {model}."
            )
        return self.edit(request, f, "upscale", f"upscale {kind}", tile, parent)

    async def reroll(self, request: Request) -> Response:
        f = await self.fields(request)
        parent = self.parent(f)
        if parent.kind != "grid":
            raise Refused(405, "Not_Support", f"Job {parent.id} cannot be rerolled.")
        return self.edit(request, f, "reroll", "reroll", 0, parent)

    @staticmethod
    def rules(parent: Job) -> Rules:
        """What the parent's version allows (V8.1: no pan, outpaint or inpaint)."""
        return rules_for(version_key(parent.params))

    def not_on_v8(self, parent: Job, what: str) -> Refused:
        return Refused(405, "Not_Support", f"{what} is not supported on V8.x (job {parent.id}).")

    async def pan(self, request: Request) -> Response:
        f = await self.fields(request)
        parent = self.parent(f)
        if not self.rules(parent).pan:
            raise self.not_on_v8(parent, "Pan")
        tile = self.image_no(f, parent)
        number = f.integer("direction", required=True)
        direction = DIRECTIONS.get(number) if number is not None else None
        if direction is None:
            raise Refused(400, "Invalid_Argument", "direction must be 0, 1, 2 or 3.")
        scale = f.number("scale")
        if scale is not None and not 1.1 <= scale <= 3.0:
            raise Refused(400, "Invalid_Argument", f"scale must be 1.1-3.0, got {scale:g}.")
        text = f.text("remixPrompt")
        return self.edit(request, f, "pan", f"pan {direction}", tile, parent, text)

    async def outpaint(self, request: Request) -> Response:
        f = await self.fields(request)
        parent = self.parent(f)
        if not self.rules(parent).zoom:
            raise self.not_on_v8(parent, "Outpaint (zoom out)")
        tile = self.image_no(f, parent)
        scale = f.number("scale")
        if scale is None or not 1.1 <= scale <= 2.0:
            raise Refused(400, "Invalid_Argument", f"scale must be 1.1-2.0, got {scale}.")
        text = f.text("remixPrompt")
        return self.edit(request, f, "outpaint", f"zoom {scale:g}x", tile, parent, text)

    # -- the job

    async def job(self, request: Request) -> Response:
        sim = self.sim
        sim.count(PROTOCOL, "polls")
        job_id = request.path_params["id"]
        job = sim.table.get(job_id, PROTOCOL)
        if job is None:
            raise Refused(400, "Invalid_Argument", f"Job {job_id} does not exist.")
        return JSONResponse(self.job_object(job, sim.clock()))

    def job_object(self, job: Job, now: float, *, created: bool = False) -> dict[str, Any]:
        """The job as Youchuan shows it at ``now``."""
        sim, state = self.sim, job.state(now)
        status = "queued" if created else state.status
        comment = "JobStatusCreated" if created else COMMENTS.get(status, "")
        if status == "failed":
            comment = failure_comment(job.fail_reason)
        lang = sim.config.comment_lang
        if lang == "zh":
            comment = ZH_COMMENTS["created" if created else status]
        elif lang == "mixed" and status in CHINESE and job.number % 3 == 0:
            comment = CHINESE[status]
        urls: list[str] = []
        audits: list[str] = []
        if status == "succeeded" and now >= state.at + url_delay(sim.config.latency):
            base = job.meta.get("base", "http://127.0.0.1/")
            if "video" in job.meta:
                urls = self.media.video_urls(job, base)
                audits = [""] * len(urls)
            elif job.kind == "grid":
                urls = [sim.image_url(base, job, f"tile{n}") for n in (1, 2, 3, 4)]
                withheld = self.withheld(job)
                audits = ["Image moderation" if n in withheld else "" for n in range(4)]
            else:
                urls, audits = [sim.image_url(base, job, "image")], [""]
        return {
            "id": job.id,
            "type": job.meta.get("type", "diffusion"),
            "text": job.meta.get("prompt", job.prompt),
            "parentId": job.meta.get("parentId"),
            "imageNo": job.meta.get("imageNo"),
            "status": STATUS_CODES[status],
            "comment": comment,
            "urls": urls,
            "audits": audits,
            "createdAt": int(job.submitted_at * 1000),
            "updatedAt": int(min(now, state.at) * 1000),
        }

    async def not_supported(self, request: Request) -> Response:
        raise Refused(405, "Not_Support", f"{request.url.path} is not simulated.")


def mount(sim: Simulator) -> Mount:
    """``/v1/tob``: Youchuan's endpoints, credential check and error shapes."""
    from mjnb.simulator.youchuan_media import Media

    api = Youchuan(sim)
    api.media = media = Media(api)
    post = ["POST"]
    edits = {
        "diffusion": api.diffusion,
        "variation": api.variation,
        "upscale": api.upscale,
        "reroll": api.reroll,
        "pan": api.pan,
        "outpaint": api.outpaint,
        "remix": api.remix,
        **media.routes(),
    }

    async def refused(request: Request, exc: Exception) -> Response:
        """Each :class:`SimError` as Youchuan answers: HTTP status = body ``code``."""
        if isinstance(exc, Unauthorized):
            return error(401, "Invalid_App_Identifier", exc.message)
        if isinstance(exc, Refused):
            if exc.status != 429:
                sim.count(PROTOCOL, "rejected")
            return error(exc.status, exc.reason, exc.message)
        if isinstance(exc, BadRequest):
            return error(exc.status, "Invalid_Argument", exc.message)
        return error(500, "Internal_Server_Error", "Internal error in the simulator.")

    return wire.mount(
        PREFIX,
        [
            *[(f"/{name}", handler, post) for name, handler in edits.items()],
            ("/job/{id}", api.job, ["GET"]),
            ("/_sim/videos/{id}/{n}.mp4", media.download, ["GET"]),
            ("/{rest:path}", api.not_supported, ["GET", "POST"]),
        ],
        authorize=api.authorize,
        handlers={SimError: refused},
    )
