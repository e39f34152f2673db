"""trueai's media endpoints on the simulated midjourney-proxy (see :mod:`.mjproxy_media`).

:class:`MediaEndpoints` is the part of :class:`mjnb.simulator.mjproxy.MJProxy` that
speaks ``/mj/submit/video``, the video buttons, the window confirm (code 21, MODAL,
``/mj/submit/modal``), ``/mj/submit/edits`` and ``/retexture``, and serves the clips.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from mjnb.prompt import PromptError
from mjnb.simulator import mjproxy_media as media
from mjnb.simulator.images import ImageSource
from mjnb.simulator.model import Job
from mjnb.simulator.wire import BadRequest, Endpoints, Fields, Unauthorized

__all__ = ["PROTOCOL", "MediaEndpoints", "reply"]

PROTOCOL = "mjproxy"
PREFIX = "/mj"


def reply(
    code: int,
    description: str,
    result: Any = None,
    properties: dict[str, Any] | None = None,
    status: int = 200,
) -> JSONResponse:
    """The proxy's submit answer: ``{code, description, result, properties}``."""
    body = {
        "code": code,
        "description": description,
        "result": result,
        "properties": properties or {},
    }
    return JSONResponse(body, status_code=status)


def _text_of(prompt: str) -> str:
    """A prompt's words without its URLs and ``--parameters`` (for the pictures)."""
    words: list[str] = []
    skip = False
    for word in prompt.split():
        if word.startswith("--"):
            skip = True
            continue
        if skip and not word.startswith("http"):
            skip = False
            continue
        skip = False
        if not word.startswith(("http://", "https://")):
            words.append(word)
    return " ".join(words)


class MediaEndpoints(Endpoints):
    """Video, MODAL and edit endpoints; :class:`MJProxy` supplies the shared parts."""

    modals: dict[str, media.Modal]
    modal_count: int = 0

    # supplied by MJProxy
    def accept(self, request: Request, fields: Fields, submit: Callable[[], Job]) -> JSONResponse:
        raise NotImplementedError

    def uploads(self, request: Request, items: list[Any]) -> list[str]:
        raise NotImplementedError

    def authorize(self, request: Request) -> None:
        raise NotImplementedError

    def action_name(self, job: Job) -> str:
        raise NotImplementedError

    @staticmethod
    def base(request: Request) -> str:
        return str(request.base_url)

    def video_url(self, base: str, job: Job, n: int) -> str:
        """The signed link of clip ``n`` (0-based) of a video job."""
        path = f"{PREFIX}/_sim/videos/{job.id}/{n}.mp4"
        return base.rstrip("/") + self.sim.sign(path, job.finished_at)

    # -- trueai's media: video, the window confirm (MODAL), edits (see mjproxy_media)

    def submit_job(self, kind: str | None = None, **kwargs: Any) -> Job:
        """``table.submit`` for this protocol; ``kind`` overrides the job's shape."""
        job = self.sim.table.submit(protocol=PROTOCOL, **kwargs)
        if kind is not None:
            job.kind = kind  # type: ignore[assignment]
        return job

    def video_action(
        self,
        request: Request,
        f: Fields,
        parent: Job,
        label: str,
        custom_id: str,
        prompt: str | None,
    ) -> Response:
        """A video button (animate, extend, video_virtual_upscale, reroll of a video)."""
        old: media.VideoSpec | None = parent.meta.get("video")
        text = prompt if prompt is not None else (old.prompt if old else parent.text)
        base = self.base(request)
        spec = media.VideoSpec(prompt=text, batch=4)
        if label.startswith("animate "):
            spec.motion = label[8:]
            spec.start = ImageSource(job=parent)
            spec.start_url = self.sim.image_url(base, parent, "image")
        elif old is None:
            return reply(4, "That action is not offered by the target task; use its buttons.")
        elif label == "upscale video":
            index = custom_id.split("::")[3] if custom_id.count("::") >= 4 else "1"
            pick = int(index) - 1 if index.isdigit() else 0
            if not 0 <= pick < media.clip_count(old):
                return reply(4, f"There is no video {index} in this task.")
            spec = replace(old, pick=pick, source=parent, lock=threading.Lock())
        elif label == "reroll":
            spec = replace(old, lock=threading.Lock())
        else:  # extend high|low on a picked clip
            spec = media.VideoSpec(
                prompt=text,
                motion=label[7:],
                batch=4,
                source=parent,
                clip=0,
                extensions=old.extensions + 1,
                start_url=old.start_url,
            )
        return self.start_video(
            request, f, spec, parent, "UPSCALE" if label == "upscale video" else "VIDEO"
        )

    def start_video(
        self, request: Request, f: Fields, spec: media.VideoSpec, parent: Job | None, action: str
    ) -> Response:
        words = [spec.prompt]
        if spec.start_url and spec.source is None:
            words.insert(0, spec.start_url)
        words.append("--video 1")
        if spec.loop:
            words.append("--end loop")
        elif spec.end is not None:
            words.append(f"--end {spec.end.url or 'image'}")
        words.append(f"--motion {spec.motion}")
        if spec.batch in (1, 2):
            words.append(f"--bs {spec.batch}")
        full = " ".join(w for w in words if w)
        fail = None
        if spec.extensions > media.MAX_EXTENSIONS:
            fail = (
                f"This video was already extended {media.MAX_EXTENSIONS} times, the most allowed."
            )
        meta = {
            "video": spec,
            "prompt": spec.prompt,
            "task_action": action,
            "description": f"/video {spec.prompt}",
        }
        return self.accept(
            request,
            f,
            lambda: self.submit_job(
                action="video",
                parent=parent,
                prompt_text=full,
                meta=meta,
                fail_reason=fail,
                speed=parent.speed if parent is not None else "fast",
            ),
        )

    async def video(self, request: Request) -> Response:
        """``POST /mj/submit/video`` (trueai's SubmitVideoDTO)."""
        sim, f = self.sim, await self.fields(request)
        prompt = (f.text("prompt") or "").strip()
        if not prompt:
            return reply(4, "Prompt 不能为空 (the prompt must not be empty).")
        motion = (f.text("motion") or "low").lower()
        if motion not in ("low", "high"):
            return reply(4, f"motion must be low or high, got {motion!r}.")
        resolution = media.VIDEO_TYPES.get(f.text("videoType") or "vid_1.1_i2v_480")
        if resolution is None:
            return reply(4, "videoType must be vid_1.1_i2v_480 or vid_1.1_i2v_720.")
        batch = f.integer("batchSize", 4)
        spec = media.VideoSpec(
            prompt=prompt,
            motion=motion,
            loop=f.flag("loop"),
            resolution=resolution,
            batch=batch if batch in (1, 2) else 4,
            raw="--raw" in prompt,
        )
        try:
            end = self.image_of(request, f.text("endImage"))
            start = self.image_of(request, f.text("image"))
        except BadRequest:
            return reply(4, "base64格式错误 (an image is not valid base64).")
        if end is not None and not spec.loop:
            spec.end = sim.source(end, request.url.netloc)
        task_id, action = f.text("taskId"), f.text("action")
        if task_id and action != "extend":
            return reply(4, "任务类型错误 (taskId needs action 'extend').")
        if action == "extend" and not task_id:
            return reply(3, "目标任务不存在 (extend needs the taskId of a video).")
        if not task_id:
            found = start or next((w for w in prompt.split() if w.startswith("http")), None)
            if found is None:
                return reply(4, "image is required: the video starts from an image.")
            spec.start, spec.start_url = sim.source(found, request.url.netloc), found
            spec.prompt = prompt.replace(found, "").strip()
            return self.start_video(request, f, spec, None, "VIDEO")
        parent = sim.table.get(task_id, PROTOCOL)
        if parent is None:
            return reply(3, "关联任务不存在或已失效 (the task does not exist).", status=404)
        old: media.VideoSpec | None = parent.meta.get("video")
        if parent.state(sim.clock()).status != "succeeded" or old is None:
            return reply(4, "关联任务状态错误 (extend a finished video task).")
        index = f.integer("index", 0) or 0
        if not 0 <= index < media.clip_count(old):
            return reply(4, f"index must be 0-{media.clip_count(old) - 1} (0-based), got {index}.")
        spec.source, spec.start_url = parent, old.start_url
        spec.clip = 0 if old.pick is not None else index
        spec.extensions = old.extensions + 1
        return self.start_video(request, f, spec, parent, "VIDEO")

    def image_of(self, request: Request, value: str | None) -> str | None:
        """An image field: an http(s) URL as is; a data URL or bare base64 stored (PNG)."""
        if not value or not value.strip():
            return None
        value = value.strip()
        if value.lower().startswith("http"):
            return value
        if not value.startswith("data:"):
            value = "data:image/png;base64," + value
        return self.uploads(request, [value])[0]

    def open_modal(
        self, request: Request, f: Fields, parent: Job, label: str, custom_id: str
    ) -> Response:
        """Answer code 21 "Waiting for window confirm": a MODAL task until /submit/modal."""
        now = self.sim.clock()
        self.modal_count += 1
        task_id = media.new_task_id(now, self.modal_count)
        action = "ZOOM" if label == "zoom custom" else "VARIATION"
        if label.startswith("pan "):
            action = "PAN"
        elif label.startswith(("animate ", "extend ")):
            action = "VIDEO"
        elif label == "reroll":
            action = self.action_name(parent)
        prompt = "" if label == "vary region" else parent.prompt
        if label == "zoom custom":
            prompt = f"{prompt} --zoom 2".strip()
        self.modals[task_id] = media.Modal(
            task_id,
            parent,
            label,
            custom_id,
            action,
            prompt,
            now,
            f.get("state"),
            f.text("notifyHook"),
        )
        while len(self.modals) > 1000:
            self.modals.pop(next(iter(self.modals)))
        self.sim.count(PROTOCOL, "modals")
        return reply(21, media.MODAL_TEXT, task_id, {"finalPrompt": prompt, "remix": True})

    def modal_task(self, modal: media.Modal) -> dict[str, Any]:
        return {
            "id": modal.id,
            "action": modal.action,
            "status": "MODAL",
            "prompt": modal.prompt,
            "promptEn": modal.prompt,
            "description": media.MODAL_TEXT,
            "state": modal.state,
            "submitTime": int(modal.submitted_at * 1000),
            "startTime": None,
            "finishTime": None,
            "imageUrl": None,
            "progress": "0%",
            "failReason": None,
            "properties": {"finalPrompt": modal.prompt, "remix": True},
            "buttons": [],
            "parentId": modal.parent.id,
        }

    async def modal(self, request: Request) -> Response:
        """``POST /mj/submit/modal``: ``taskId`` of the MODAL task, ``prompt`` (empty: the
        parent's), ``maskBase64`` for Vary Region. Answers code 1 with the same id."""
        sim, f = self.sim, await self.fields(request)
        task_id = f.text("taskId")
        if not task_id:
            return reply(4, "参数错误 (taskId is required).")
        modal = self.modals.get(task_id)
        if modal is None:
            if sim.table.get(task_id, PROTOCOL) is not None:
                return reply(4, "关联任务状态错误 (the task is not waiting for a confirm).")
            return reply(3, "关联任务不存在或已失效 (the task does not exist).", status=404)
        parent = modal.parent
        # the button press's notifyHook and state carry over unless the form names its own
        given = {k: v for k, v in f.body.items() if v not in (None, "")}
        f = Fields({"notifyHook": modal.hook, "state": modal.state, **given})
        prompt = (f.text("prompt") or "").strip() or parent.prompt
        if not prompt:
            return reply(4, "prompt不能为空 (the prompt must not be empty).")
        text = _text_of(prompt)
        painter: Any = None
        fail = None
        kind: str | None = None
        label = modal.label
        if label == "vary region":
            size = (await anyio.to_thread.run_sync(parent.render)).size
            try:
                mask = media.mask_image(f.text("maskBase64"), size)
            except BadRequest:
                return reply(4, "base64格式错误 (maskBase64 is not a PNG in base64).")
            if mask is None or not mask.getbbox():
                fail = "Vary Region needs a mask: maskBase64 was empty or all black."
            else:
                painter, kind = media.paint_region(mask, text, parent), "single"
        elif label == "zoom custom":
            factor, rest = media.zoom_factor(prompt)
            if factor is None:
                fail = "Invalid --zoom value: a custom zoom takes 1.0-2.0."
            else:
                painter = media.paint_zoom(factor, parent)
            text = _text_of(rest)
        elif label.startswith(("animate ", "extend ")) or "video" in parent.meta:
            self.modals.pop(task_id, None)
            response = self.video_action(request, f, parent, label, modal.custom_id, text)
            return self.rekeyed(response, task_id)
        elif label[0] == "V" or label.startswith("vary ") or label == "reroll":
            tile = int(label[1]) if label[0] == "V" and label[1:].isdigit() else 0
            painter = media.paint_remix(text, parent, tile)
        self.modals.pop(task_id, None)
        meta: dict[str, Any] = {"prompt": prompt, "task_action": modal.action}
        if painter is not None:
            meta["paint"] = painter

        def make() -> Job:
            job = self.submit_job(
                kind,
                action=label,
                parent=parent,
                speed=parent.speed,
                meta=meta,
                fail_reason=fail,
                prompt_text=prompt,
            )
            self.rekey(job, task_id)
            return job

        return self.accept(request, f, make)

    def rekey(self, job: Job, task_id: str) -> None:
        """Give a job the id of the MODAL task it continues (trueai keeps one id)."""
        table = self.sim.table
        table.jobs.pop(job.id, None)
        job.id = task_id
        table.jobs[task_id] = job

    def rekeyed(self, response: Response, task_id: str) -> Response:
        """A video confirm's answer, its new job renamed to the MODAL task's id."""
        body = json.loads(bytes(response.body))
        job = (
            self.sim.table.get(body.get("result"), PROTOCOL)
            if body.get("code") in (1, 22)
            else None
        )
        if job is None:
            return response
        self.rekey(job, task_id)
        body["result"] = task_id
        return JSONResponse(body, status_code=response.status_code)

    async def edits(self, request: Request) -> Response:
        """``POST /mj/submit/edits`` (and ``/edit``)."""
        return await self.edit_like(request, retexture=False)

    async def retexture(self, request: Request) -> Response:
        """``POST /mj/submit/retexture``."""
        return await self.edit_like(request, retexture=True)

    async def edit_like(self, request: Request, *, retexture: bool) -> Response:
        sim, f = self.sim, await self.fields(request)
        prompt, image = (f.text("prompt") or "").strip(), (f.text("image") or "").strip()
        if not prompt or not image:
            return reply(4, "image或prompt不能为空 (image and prompt are required).")
        try:
            url = self.image_of(request, image)
        except BadRequest:
            return reply(4, "base64格式错误 (the image is not valid base64).")
        assert url is not None
        try:
            parsed = sim.parse(prompt)
        except PromptError as exc:
            return reply(4, str(exc))
        source = sim.source(url, request.url.netloc)
        name = "retexture" if retexture else "edit"
        meta = {
            "paint": media.paint_edit(source, parsed.text, retexture),
            "prompt": prompt,
            "task_action": name.upper(),
            "description": f"/{name} {prompt}",
        }
        return self.accept(
            request,
            f,
            lambda: self.submit_job(
                "single",
                action=name,
                prompt=parsed,
                prompt_text=prompt,
                inputs=[source],
                meta=meta,
            ),
        )

    async def upload_images(self, request: Request) -> Response:
        """``POST /mj/submit/upload-discord-images``: ``base64Array`` -> ``result`` is a
        list of URLs (trueai's ImagineDiscordImages)."""
        f = await self.fields(request)
        items = f.array("base64Array")
        if not items:
            return reply(4, "base64 参数错误 (base64Array is empty).")
        try:
            urls = [self.image_of(request, item if isinstance(item, str) else "") for item in items]
        except BadRequest:
            return reply(4, "base64格式错误 (an image is not valid base64).")
        if not all(urls):
            return reply(4, "base64格式错误 (an image is not valid base64).")
        return reply(1, "提交成功", urls)

    async def video_file(self, request: Request) -> Response:
        """A clip's MP4 (signed link, as a CDN's; or the secret)."""
        sim = self.sim
        signed = sim.verify(request.url.path, request.url.query)
        if not signed:
            try:
                self.authorize(request)
            except Unauthorized:
                return Response("This content is no longer available.", status_code=403)
        job = sim.table.get(request.path_params["job"], PROTOCOL)
        n = request.path_params["n"]
        spec = job.meta.get("video") if job is not None else None
        if (
            job is None
            or spec is None
            or not n.isdigit()
            or int(n) >= media.clip_count(spec)
            or job.state(sim.clock()).status != "succeeded"
        ):
            return Response("Not found.", status_code=404)
        data = await anyio.to_thread.run_sync(media.clip_bytes, job, int(n))
        sim.count(None, "downloads")
        return Response(data, media_type="video/mp4")
