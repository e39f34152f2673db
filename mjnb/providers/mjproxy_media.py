"""trueai's media on midjourney-proxy: the requests for video, the editor and the seed.

Read from trueai-org/midjourney-proxy (``SubmitController.cs``: ``Video``, ``Modal``,
``Edits``, ``Retexture``, ``Action``; ``TaskService.cs``: ``SubmitVideo`` builds
``<image> <prompt> --video 1 [--end loop] [--end <url>] --motion <m> [--bs 1|2]``, extend
as ``animate_<m>_extend::<index + 1>``; ``TaskInfo.cs``: ``videoUrls`` [{url, thumbnail}],
``SetVideoUpscaleButtons``/``SetVideoExtendButtons``). novicezk's server has none of
these routes; its 404 is turned into one sentence here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import httpx

from ..errors import ProviderError, Rejected
from ..vocab import MAX_RESULT_URLS, VIDEO_BATCHES
from .base import Job, Snapshot
from .common import read_json, with_mode

__all__ = [
    "MODAL_TEXT",
    "TRUEAI_ONLY",
    "bare_text",
    "build_media",
    "confirm_body",
    "media_fields",
    "missing_route",
    "seed_of",
]

#: trueai's description of a code-21 answer that waits for /mj/submit/modal
MODAL_TEXT = "Waiting for window confirm"
#: routes only trueai's fork serves, with what a user would miss without them
TRUEAI_ONLY: dict[str, str] = {
    "/mj/submit/video": "video",
    "/mj/submit/modal": "the window confirm (remix, vary region, custom zoom)",
    "/mj/submit/edits": "edit",
    "/mj/submit/retexture": "retexture",
    "/image-seed": "the job seed",
}
VIDEO_TYPES = {"480p": "vid_1.1_i2v_480", "720p": "vid_1.1_i2v_720"}
_ZOOM = re.compile(r"\s*--zoom\s+\S+", re.I)
_PARAM = re.compile(r"^--?\w")


def bare_text(prompt: str) -> str:
    """A prompt's words without its image links and ``--parameters``."""
    words: list[str] = []
    value_next = False
    for word in prompt.split():
        if _PARAM.match(word):
            value_next = True
            continue
        if value_next and not word.startswith(("http://", "https://")):
            value_next = False
            continue  # the parameter's value (--ar 3:2, --video 1)
        value_next = False
        if not word.startswith(("http://", "https://", "<http")):
            words.append(word)
    return " ".join(words)


def _parent_text(parent: Snapshot | None) -> str:
    said = parent.extra.get("prompt") if parent is not None else None
    return bare_text(said) if isinstance(said, str) else ""


def _video_body(job: Job, image: str | None, prompt: str, motion: str | None) -> dict[str, Any]:
    """SubmitVideoDTO's fields for ``job``."""
    text = prompt.strip()
    if job.raw and "--raw" not in text:
        text = f"{text} --raw".strip()
    if not text:
        raise Rejected(
            "midjourney-proxy needs a prompt for a video (trueai refuses an empty one: "
            "'Prompt 不能为空'); pass prompt=..."
        )
    if job.batch not in VIDEO_BATCHES:
        raise Rejected(f"A video batch is 1, 2 or 4 clips, not {job.batch}.")
    body: dict[str, Any] = {
        "prompt": with_mode(text, job),
        "motion": motion or job.motion or "low",
        "loop": job.loop,
        "batchSize": job.batch,
        "videoType": VIDEO_TYPES.get(job.resolution or "480p", VIDEO_TYPES["480p"]),
    }
    if image:
        body["image"] = image
    if job.end and not job.loop:
        body["endImage"] = job.end
    return body


def build_media(job: Job, title: str) -> tuple[str, dict[str, Any]] | None:
    """The path and body of a video, edit or retexture job, or None for the others (and
    for the editor labels, which press the parent's button like any action)."""
    if job.kind == "video":
        if len(job.images) != 1:
            raise Rejected(f"A video starts from one image; got {len(job.images)}.")
        return "/mj/submit/video", _video_body(job, job.images[0], job.prompt, None)
    if job.kind in ("edit", "retexture"):
        if len(job.images) != 1:
            raise Rejected(f"{job.kind.capitalize()} takes one image; got {len(job.images)}.")
        if job.mask:
            raise Rejected(
                f"{title}'s /mj/submit/edits takes no mask; edit without one, or use "
                "vary region on a task."
            )
        if not job.prompt.strip():
            raise Rejected(f"{job.kind.capitalize()} needs a prompt on {title}.")
        path = "/mj/submit/edits" if job.kind == "edit" else "/mj/submit/retexture"
        return path, {"prompt": job.prompt, "image": job.images[0]}
    parent, label = job.parent, job.label or ""
    if job.kind != "action" or parent is None or not parent.remote_id:
        return None
    if label.startswith("animate ") and label in parent.wire and parent.image_url:
        prompt = job.prompt or _parent_text(parent)
        return "/mj/submit/video", _video_body(job, parent.image_url, prompt, label[8:])
    if label.startswith("extend "):
        clips = len(parent.video_urls)
        if not clips:
            raise Rejected("Only a finished video task can be extended.")
        index = job.index or 1
        if not 1 <= index <= clips:
            raise Rejected(f"index must be 1-{clips}: this video task has {clips} clip(s).")
        body = _video_body(job, None, job.prompt or _parent_text(parent), label[7:])
        # trueai's API index is 0-based (TaskService adds 1 for the Discord button)
        body.update(action="extend", taskId=parent.remote_id, index=index - 1)
        return "/mj/submit/video", body
    if label == "upscale video" and label in parent.wire:
        parts = parent.wire[label].split("::")
        clips = max(1, len(parent.video_urls))
        index = job.index or 1
        if not 1 <= index <= clips or len(parts) < 5:
            raise Rejected(f"index must be 1-{clips}: this video task has {clips} clip(s).")
        parts[3] = str(index)  # MJ::JOB::video_virtual_upscale::<n>::<hash>
        return "/mj/submit/action", {"taskId": parent.remote_id, "customId": "::".join(parts)}
    if label == "vary region" and not job.mask:
        raise Rejected("Vary region needs a mask (white = repaint).")
    if label == "zoom custom" and job.zoom is not None and not 1.0 <= job.zoom <= 2.0:
        raise Rejected(f"A custom zoom is 1.0-2.0, not {job.zoom}.")
    return None


def confirm_body(job: Job, snapshot: Snapshot) -> dict[str, Any]:
    """SubmitModalDTO for a MODAL task: the prompt (empty: trueai takes the parent's),
    ``maskBase64`` for vary region, ``--zoom <f>`` in the prompt for a custom zoom."""
    said = snapshot.extra.get("prompt")
    final = said if isinstance(said, str) else ""
    body: dict[str, Any] = {"taskId": snapshot.remote_id}
    if job.label == "vary region":
        body["prompt"] = job.prompt
        if job.mask:
            mask = job.mask
            body["maskBase64"] = (
                mask if mask.startswith("data:") else f"data:image/png;base64,{mask}"
            )
    elif job.label == "zoom custom":
        parent = job.parent.extra.get("prompt") if job.parent is not None else None
        base = job.prompt or (parent if isinstance(parent, str) else "") or final
        body["prompt"] = f"{_ZOOM.sub('', base).strip()} --zoom {job.zoom or 2.0:g}".strip()
    else:
        body["prompt"] = job.prompt or final
    return body


def _url(value: Any, what: str, title: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not value.strip().lower().startswith(("http://", "https://")):
        raise ProviderError(f"{title} sent {what} that is not an http(s) URL: {str(value)[:80]!r}.")
    return value.strip()


def media_fields(task: Mapping[str, Any], title: str) -> tuple[tuple[str, ...], str | None]:
    """A finished task's clips (``videoUrls`` objects, else ``videoUrl``, else a VIDEO
    task's ``imageUrl``) and a still to show for them (a thumbnail), checked."""
    raw = task.get("videoUrls")
    if raw is not None and not isinstance(raw, list):
        raise ProviderError(f"{title} sent videoUrls as {type(raw).__name__}, not a list.")
    videos: list[str] = []
    poster: str | None = None
    for item in raw or ():
        url = _url(item.get("url") if isinstance(item, dict) else item, "a video URL", title)
        if url:
            videos.append(url)
        if isinstance(item, dict) and poster is None:
            thumb = item.get("thumbnail")
            if isinstance(thumb, str) and not thumb.lower().split("?")[0].endswith(".mp4"):
                poster = _url(thumb, "a video thumbnail", title)
    if not videos:
        single = _url(task.get("videoUrl"), "videoUrl", title)
        is_video = task.get("action") == "VIDEO" or task.get("contentType") == "video/mp4"
        if single is None and is_video:
            single = _url(task.get("imageUrl"), "imageUrl", title)
        videos = [single] if single else []
    if len(videos) > MAX_RESULT_URLS:
        raise ProviderError(
            f"{title} sent {len(videos)} video URLs; a job has at most {MAX_RESULT_URLS}. "
            "mjnb downloaded none."
        )
    return tuple(dict.fromkeys(videos)), poster


def seed_of(value: Any) -> int | None:
    """A Midjourney seed (0-4294967295) from a number or a string of digits, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, int) and 0 <= value < 2**32:
        return value
    return None


def missing_route(response: httpx.Response, route: str) -> str | None:
    """One sentence for a 404 of a route only trueai serves, or None when the 404 is
    trueai's own answer (a submit body: the target task is gone)."""
    try:
        body = read_json(response)
    except ProviderError:
        body = None
    if isinstance(body, dict) and "code" in body:
        return None
    if route == "/mj/submit/video":
        return "this midjourney-proxy server has no video (novicezk fork?)"
    what = TRUEAI_ONLY.get(route, route)
    return f"this midjourney-proxy server has no {route} for {what} (novicezk fork?)"
