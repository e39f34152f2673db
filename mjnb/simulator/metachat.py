"""The MetaChat open platform's Midjourney API, simulated.

Base path ``/open/v1``; every call needs ``Authorization: Bearer <key>`` and a
non-empty ``X-App-ID``. Two layers of errors, as MetaChat documents them: service
errors are bare HTTP statuses (401 ``authentication_error``, 404 ``not_found_error``,
413, 429 ``rate_limit_error``, 500 ``internal_error``) whose bodies clients should not
parse; API errors are HTTP 200 ``{"status": "Fail", "message": ..., "data": null}``.
Success is ``{"status": "Success", "message": ..., "data": {...}}``.

Submits (``imagine``, ``separate``, ``variation``, ``reroll``, ``upscale``, ``vary``,
``zoomout``, ``pan``, ``describe``, ``blend`` under ``/midjourney``) answer ``data:
{id}`` (imagine also ``prompt`` and ``model``). ``GET /midjourney/result/{id}``
reports ``status`` (submitted, in_progress, failure, success), ``progress`` 0-100 and
the images; an unknown id answers HTTP 500 ``{"status": "Fail", "message": "... not
found"}``, a quirk seen in the wild. Imagine's ``params`` object is folded into the
prompt, where trailing ``--params`` win.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount

from mjnb.prompt import Prompt, PromptError
from mjnb.simulator import wire
from mjnb.simulator.model import Job, QueueFull
from mjnb.simulator.state import Simulator
from mjnb.simulator.wire import BadRequest, Endpoints, Fields, SimError, Unauthorized

__all__ = ["MODELS", "PREFIX", "PROTOCOL", "MetaChat", "mount", "too_many_requests"]

PROTOCOL = "metachat"
PREFIX = "/open/v1"
log = logging.getLogger("mjnb.simulator")

#: Model name -> the prompt parameter it stands for.
MODELS: dict[str, tuple[str, str]] = {
    "mj-v6": ("version", "6"),
    "mj-v61": ("version", "6.1"),
    "mj-v6.1": ("version", "6.1"),
    "mj-v7": ("version", "7"),
    "mj-v52": ("version", "5.2"),
    "mj-v5.2": ("version", "5.2"),
    "mj-niji-v6": ("niji", "6"),
    "niji-6": ("niji", "6"),
    "mj-niji-v5": ("niji", "5"),
}
IMAGE_TYPES = frozenset({"image/png", "image/jpg", "image/jpeg", "image/webp"})
IMAGE_LINK = re.compile(r"^https?://\S+\.(png|jpe?g|gif|webp)(\?\S*)?$", re.I)
STATUSES = {
    "queued": "submitted",
    "running": "in_progress",
    "succeeded": "success",
    "failed": "failure",
}
POINTS = {"imagine": 8, "reroll": 8, "blend": 8, "describe": 2}
#: MetaChat params field -> (prompt parameter, lowest, highest).
PARAMS: dict[str, tuple[str, float, float]] = {
    "stylize": ("stylize", 0, 1000),
    "quality": ("quality", 0.25, 4),
    "chaos": ("chaos", 0, 1000),
    "seed": ("seed", 0, 4294967295),
    "iw": ("iw", 0, 3),
}
#: endpoint -> (action label prefix, field holding the choice, allowed choices, default)
ACTIONS: dict[str, tuple[str, str, tuple[str, ...], str | None]] = {
    "separate": ("U", "index", ("1", "2", "3", "4"), None),
    "variation": ("V", "index", ("1", "2", "3", "4"), None),
    "reroll": ("reroll", "", (), None),
    "upscale": ("upscale ", "type", ("subtle", "creative", "2x", "4x"), "subtle"),
    "vary": ("vary ", "type", ("subtle", "strong"), "subtle"),
    "zoomout": ("zoom ", "type", ("1.5x", "2x"), "2x"),
    "pan": ("pan ", "type", ("left", "right", "up", "down"), None),
}


def fail(message: str) -> JSONResponse:
    return JSONResponse({"status": "Fail", "message": message, "data": None})


def success(data: Any, message: str = "OK") -> JSONResponse:
    return JSONResponse({"status": "Success", "message": message, "data": data})


def service_error(status: int, kind: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"type": kind, "message": message}}, status_code=status)


def too_many_requests(sim: Simulator) -> Response:
    response = service_error(429, "rate_limit_error", "Too many requests; slow down.")
    response.headers["retry-after"] = str(sim.retry_after())
    return response


def model_of(prompt: Prompt, requested: str) -> str:
    """The model that takes effect: the prompt's --v/--niji win over ``model``."""
    if "version" in prompt.params:
        return "mj-v" + str(prompt.params["version"]).replace(".", "")
    niji = prompt.params.get("niji")
    if niji is not None:
        return "mj-niji-v" + ("6" if niji is True else str(niji))
    return requested


def params_of(p: dict[str, Any]) -> dict[str, Any]:
    """The effective parameters, in MetaChat's ``params`` vocabulary."""
    out: dict[str, Any] = {"aspect": p.get("ar", "1:1")}
    for name in ("stylize", "quality", "chaos", "style", "seed", "no", "iw"):
        if name in p:
            out[name] = p[name]
    return out


class MetaChat(Endpoints):
    """The ``/open/v1`` endpoints over one :class:`Simulator`."""

    def authorize(self, request: Request) -> None:
        token = self.sim.config.token
        if token is None:
            return
        app_id = request.headers.get("x-app-id", "").strip()
        if not app_id or request.headers.get("authorization", "") != f"Bearer {token}":
            raise Unauthorized("Missing or wrong X-App-ID / API key.")

    def create(self, make: Callable[[], Job], data: Callable[[Job], dict[str, Any]]) -> Response:
        try:
            job = make()
        except QueueFull:
            self.sim.count(PROTOCOL, "rejected_queue_full")
            self.sim.count(PROTOCOL, "rejected_429")
            return service_error(429, "rate_limit_error", "The task queue is full; retry later.")
        self.sim.count(PROTOCOL, "submits")
        return success(data(job))

    # -- submits

    async def imagine(self, request: Request) -> Response:
        sim, f = self.sim, await self.fields(request)
        text = (f.text("prompt") or "").strip()
        if not text:
            return fail("The field 'prompt' is required.")
        model = f.text("model") or "mj-v6"
        if model not in MODELS:
            return fail(f"Unknown model {model!r}; use one of: {', '.join(MODELS)}.")
        params, images = f.mapping("params"), f.array("images")
        color = f.text("color")
        banned = sim.banned_word(text)
        if banned:
            sim.count(PROTOCOL, "rejected")
            return fail(
                f"The prompt contains a banned word ({banned}); change it and submit again."
            )
        try:
            prompt = self.build(text, model, Fields(params), images, color)
        except PromptError as exc:
            sim.count(PROTOCOL, "rejected")
            return fail(f"The prompt has an invalid parameter: {exc}")
        speed = next((s for s in ("relax", "turbo", "fast") if prompt.params.get(s)), "fast")
        effective = model_of(prompt, model)
        meta = {"prompt": text, "model": effective, "images": images}
        return self.create(
            lambda: sim.table.submit(
                protocol=PROTOCOL, prompt=prompt, prompt_text=str(prompt), speed=speed, meta=meta
            ),
            lambda job: {"id": job.id, "prompt": job.prompt, "model": effective},
        )

    def build(
        self, text: str, model: str, params: Fields, images: list[Any], color: str | None
    ) -> Prompt:
        """The prompt Midjourney runs: images first, the text, then parameters, where the
        prompt's own ``--params`` win over ``params`` and ``model``."""
        prompt = self.sim.parse(text)
        links: list[str] = []
        refs: dict[str, Any] = {}
        if not 0 <= len(images) <= 3:
            raise BadRequest(f"images takes 1-3 reference images, got {len(images)}.")
        for image in images:
            item = Fields(image)
            url = item.text("url", required=True)
            kind = item.text("type", required=True)
            if kind not in IMAGE_TYPES:
                raise BadRequest(
                    f"Image type {kind!r} is not supported; use "
                    "image/png, image/jpg, image/jpeg or image/webp."
                )
            if item.flag("sref"):
                refs.setdefault("sref", []).append(url)
                if item.number("sw") is not None:
                    refs["sw"] = item.integer("sw")
            if item.flag("cref"):
                refs.setdefault("cref", []).append(url)
                if item.number("cw") is not None:
                    refs["cw"] = item.integer("cw")
            if (item.flag("image_prompt") or not (item.flag("sref") or item.flag("cref"))) and (
                url and IMAGE_LINK.match(url)
            ):
                links.append(url)
        changes: dict[str, Any] = {}
        if "ar" not in prompt.params and params.text("aspect"):
            changes["ar"] = params.text("aspect")
        for field, (name, low, high) in PARAMS.items():
            value = params.number(field)
            if value is None or name in prompt.params:
                continue
            if not low <= value <= high:
                raise BadRequest(f"params.{field} must be {low:g}-{high:g}, got {value:g}.")
            value = min(value, 100) if name == "chaos" else value
            changes[name] = int(value) if value == int(value) and name != "quality" else value
        if "style" not in prompt.params and params.text("style"):
            changes["style"] = params.text("style")
        if "no" not in prompt.params and params.array("no"):
            changes["no"] = [str(word) for word in params.array("no")]
        for name, ref in refs.items():
            if name not in prompt.params:
                changes[name] = ref
        if prompt.version is None:
            key, version = MODELS[model]
            changes[key] = version
        if links or color:
            extra = [*links, *prompt.images, prompt.text]
            if color:
                extra.append(f"in colour {color}")
            rebuilt = " ".join(p for p in extra if p)
            prompt = self.sim.parse(str(Prompt(images=[], text=rebuilt, params=prompt.params)))
        return prompt.with_params(**changes) if changes else prompt

    async def act(self, request: Request) -> Response:
        sim, f = self.sim, await self.fields(request)
        endpoint = request.url.path.rsplit("/", 1)[-1]
        prefix, field, choices, default = ACTIONS[endpoint]
        task_id = f.text("id")
        if not task_id:
            return fail("The field 'id' is required.")
        label = prefix
        if field:
            choice = f.text(field) or default
            if choice not in choices:
                return fail(f"The field '{field}' must be one of {', '.join(choices)}.")
            label = prefix + choice
        parent = sim.table.get(task_id, PROTOCOL)
        if parent is None:
            return fail(f"Task {task_id} not found; check the id.")
        if parent.state(sim.clock()).status != "succeeded":
            return fail(f"Task {task_id} has not succeeded yet; wait for it to finish.")
        if label not in parent.offered():
            what = "a grid" if parent.kind == "grid" else "a single image"
            return fail(
                f"/{endpoint} ({label}) cannot be used on task {task_id}, which is "
                f"{what}; check which actions it offers."
            )
        meta = {
            "prompt": parent.meta.get("prompt", ""),
            "model": parent.meta.get("model"),
            "images": parent.meta.get("images", []),
        }
        return self.create(
            lambda: sim.table.submit(
                protocol=PROTOCOL, action=label, parent=parent, speed=parent.speed, meta=meta
            ),
            lambda job: {"id": job.id},
        )

    async def describe(self, request: Request) -> Response:
        sim, f = self.sim, await self.fields(request)
        image = Fields(f.mapping("image"))
        url = image.text("url")
        if not url:
            return fail("The field 'image.url' is required.")
        source = sim.source(url, request.url.netloc)
        return self.create(
            lambda: sim.table.submit(
                protocol=PROTOCOL,
                action="describe",
                inputs=[source],
                prompt_text=url,
                meta={"images": [f.get("image")]},
            ),
            lambda job: {"id": job.id},
        )

    async def blend(self, request: Request) -> Response:
        sim, f = self.sim, await self.fields(request)
        images = f.array("images")
        if not 2 <= len(images) <= 5:
            return fail(f"images must hold 2-5 images, got {len(images)}.")
        urls = [Fields(image).text("url", required=True) or "" for image in images]
        dimension = f.text("dimension") or "square"
        if dimension not in ("square", "landscape", "portrait"):
            return fail("dimension must be square, landscape or portrait.")
        sources = [sim.source(url, request.url.netloc) for url in urls]
        return self.create(
            lambda: sim.table.submit(
                protocol=PROTOCOL,
                action="blend",
                inputs=sources,
                dimensions=dimension,
                prompt_text=" ".join(urls),
                meta={"images": images},
            ),
            lambda job: {"id": job.id},
        )

    # -- results

    async def result(self, request: Request) -> Response:
        sim = self.sim
        sim.count(PROTOCOL, "polls")
        task_id = request.path_params["id"]
        job = sim.table.get(task_id, PROTOCOL)
        if job is None:
            return JSONResponse(
                {"status": "Fail", "message": f"task {task_id} not found"}, status_code=500
            )
        state = job.state(sim.clock())
        base = str(request.base_url)
        done = state.status == "succeeded"
        description = None
        if done and job.kind == "text":
            found = await anyio.to_thread.run_sync(job.descriptions)
            description = "\n\n".join(f"{n}️⃣ {text}" for n, text in enumerate(found, 1))
        image_url = mirror = None
        if done and job.kind != "text":
            image_url = sim.image_url(base, job, "image")
            mirror = sim.image_url(base, job, "image", "webp")
        points = POINTS.get(job.action, 2 if job.action[0] == "U" else 8)
        data = {
            "id": job.id,
            "status": STATUSES[state.status],
            "progress": state.progress,
            "fail_reason": job.fail_reason if state.status == "failed" else None,
            "image_url": image_url,
            "image_url_mirror": mirror,
            "image_description": description,
            "total_points": points if done else 0,
            "prompt": job.meta.get("prompt", job.prompt),
            "revised_prompt": job.prompt,
            "model": job.meta.get("model"),
            "params": params_of(job.params),
            "images": job.meta.get("images", []),
            "submitted_at": int(job.submitted_at),
            "started_at": int(job.started_at)
            if job.started_at is not None and state.status != "queued"
            else None,
            "finished_at": int(state.at) if state.done else None,
        }
        return success(data)

    async def models(self, request: Request) -> Response:
        return success([{"id": name, "object": "model"} for name in MODELS])

    async def not_found(self, request: Request) -> Response:
        return service_error(404, "not_found_error", f"No API at {request.url.path}.")


async def refused(request: Request, exc: Exception) -> Response:
    """Each :class:`SimError` in MetaChat's shapes: service errors with an HTTP status,
    API errors as HTTP 200 ``{"status": "Fail"}``."""
    if isinstance(exc, Unauthorized):
        return service_error(401, "authentication_error", exc.message)
    if isinstance(exc, BadRequest):
        if exc.status == 413:
            return service_error(413, "request_too_large", exc.message)
        return fail(exc.message)
    return service_error(500, "internal_error", "Internal error in the simulator.")


def mount(sim: Simulator) -> Mount:
    """``/open/v1``: MetaChat's endpoints, credential check and error shapes."""
    api = MetaChat(sim)
    post = ["POST"]
    return wire.mount(
        PREFIX,
        [
            ("/midjourney/imagine", api.imagine, post),
            *[(f"/midjourney/{name}", api.act, post) for name in ACTIONS],
            ("/midjourney/describe", api.describe, post),
            ("/midjourney/blend", api.blend, post),
            ("/midjourney/result/{id}", api.result, ["GET"]),
            ("/models", api.models, ["GET"]),
            ("/{rest:path}", api.not_found, ["GET", "POST"]),
        ],
        authorize=api.authorize,
        handlers={SimError: refused},
    )
