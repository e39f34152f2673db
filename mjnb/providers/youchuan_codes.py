"""Youchuan's status numbers, ``comment`` codes and error ``reason`` s, as mjnb reads them.

Kept apart from :mod:`mjnb.providers.youchuan` (which re-exports them) so that the adapter
stays one readable module. Sources: Youchuan's API reference (error codes per endpoint)
and the clients' readings of ``GET /v1/tob/job/{id}``.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..errors import AuthError, ProviderError, RateLimited, Rejected
from .base import Status

__all__ = ["CHINESE_COMMENTS", "COMMENTS", "CREDENTIALS", "MAX_TEXT", "REASONS", "STATUSES"]

CREDENTIALS = "MJNB_YOUCHUAN_APP and MJNB_YOUCHUAN_SECRET"
MAX_TEXT = 8192

#: the integer ``status`` of a job (0 is "queued" in some clients; 4 is moderation)
STATUSES: Mapping[int, Status] = {
    0: "queued",
    1: "running",
    2: "succeeded",
    3: "failed",
    4: "failed",
}

_NOT_CHARGED = " Youchuan does not charge for it."
#: ``comment`` code -> (status, what a failure means and what to do next)
COMMENTS: Mapping[str, tuple[Status, str | None]] = {
    "JobStatusCreated": ("queued", None),
    "JobStatusQueued": ("queued", None),
    "JobStatusRunning": ("running", None),
    "JobStatusSuccess": ("succeeded", None),
    "JobStatusCanceled": ("cancelled", "The job was cancelled on Youchuan."),
    "JobStatusFail": ("failed", "Midjourney could not finish the job; submit it again."),
    "JobStatusError": ("failed", "Youchuan hit an error running the job; submit it again."),
    "JobStatusReject": (
        "failed",
        "Youchuan's image moderation rejected the result; change the prompt and submit again.",
    ),
    "JobStatusTextReject": (
        "failed",
        "Youchuan's moderation rejected the prompt text; reword it and submit again."
        + _NOT_CHARGED,
    ),
    "JobStatusBadPrompt": (
        "failed",
        "Midjourney could not read the prompt; check its wording and parameters." + _NOT_CHARGED,
    ),
    "JobStatusInvalidParameter": (
        "failed",
        "A parameter in the prompt is invalid for this model; fix it and submit again."
        + _NOT_CHARGED,
    ),
    "JobStatusTimeout": ("failed", "The job timed out on Midjourney; submit it again."),
    "JobStatusRequestTimeout": (
        "failed",
        "Youchuan timed out waiting for Midjourney; submit the job again.",
    ),
    "JobStatusInvalidImagePromptLink": (
        "failed",
        "An image link in the prompt could not be fetched; use a public http(s) link to a "
        "PNG, JPEG or WebP image.",
    ),
    "JobStatusMaxConcurrentLimited": (
        "failed",
        "Your Youchuan plan's concurrency limit was reached; submit the job again when one "
        "finishes (or lower max_concurrency).",
    ),
    "JobStatusCreditNotEnough": (
        "failed",
        "Your Youchuan account has too little credit for this job; top up your Youchuan "
        "account and submit again.",
    ),
    "JobStatusImagePromptDenied": (
        "failed",
        "An image in the prompt failed Youchuan's moderation; use another image.",
    ),
    "JobStatusDuplicateImage": (
        "failed",
        "Youchuan refused a duplicate image in the prompt; use each image once.",
    ),
}
#: comments seen in Chinese (matched anywhere in the text)
CHINESE_COMMENTS: tuple[tuple[str, Status, str | None], ...] = (
    ("失败", "failed", "Youchuan reported the job failed (失败); submit it again."),
    ("取消", "cancelled", "The job was cancelled on Youchuan (取消)."),
    ("成功", "succeeded", None),
    ("排队", "queued", None),
    ("进行", "running", None),
    ("生成中", "running", None),
)

_TOP_UP = "top up your Youchuan account and submit again"
#: error ``reason`` -> (exception class, message); ``{said}`` is Youchuan's own message
REASONS: Mapping[str, tuple[type[ProviderError], str]] = {
    "Invalid_Argument": (
        Rejected,
        "Youchuan refused the request as invalid ({said}); check the prompt and the action.",
    ),
    "Invalid_Prompt_Parameter": (
        Rejected,
        "Youchuan refused a parameter in the prompt ({said}); fix or remove it and submit "
        "again (Youchuan does not take --repeat, --stealth or --public).",
    ),
    "Job_ReUpscale_Not_Support": (
        Rejected,
        "This image is already upscaled and Youchuan cannot upscale it again; upscale one of "
        "the grid's images instead.",
    ),
    "Invalid_App_Identifier": (
        AuthError,
        f"Youchuan refused the app id or secret (Invalid_App_Identifier); check {CREDENTIALS} "
        "against the Youchuan open-platform console.",
    ),
    "No_More_Relax_Credit": (
        Rejected,
        "Your Youchuan plan has no relax credit left; use fast mode (--fast or mode='fast') "
        "or wait until relax credit renews.",
    ),
    "Account_Fee_Not_Enough": (
        Rejected,
        f"Your Youchuan account balance is too low for this job; {_TOP_UP}.",
    ),
    "Permission_Denied": (
        AuthError,
        "Youchuan says this app may not use that API (Permission_Denied); enable it for your "
        "app in the Youchuan open-platform console.",
    ),
    "Relax_Not_Allow": (
        Rejected,
        "Your Youchuan plan does not allow relax mode; remove --relax (or mode='relax') and "
        "submit again, or change plans.",
    ),
    "Msg_Sensitive": (
        Rejected,
        "Youchuan's moderation refused the prompt (Msg_Sensitive); reword it without "
        "sensitive content and submit again.",
    ),
    "Upscale_Not_Support": (
        Rejected,
        "Youchuan cannot run this upscale for this image's model ({said}); use upscale "
        "subtle or creative on V6 and later, upscale 2x or 4x on V5.",
    ),
    "No_Avaliable_Plan": (
        Rejected,
        "Your Youchuan account has no active plan for this API; subscribe to one in the "
        "Youchuan console and submit again.",
    ),
    "Not_Support": (
        Rejected,
        "Youchuan does not support this operation here ({said}); choose another action.",
    ),
    "Max_Concurrent_Limited": (
        RateLimited,
        "Your Youchuan plan's concurrency limit is reached (Max_Concurrent_Limited); the job "
        "was not created and mjnb submits it again when a slot frees. Set max_concurrency "
        "to your plan's limit to avoid the wait.",
    ),
    "Server_Busy": (
        RateLimited,
        "Youchuan is busy (Server_Busy); the job was not created and mjnb submits it again "
        "in a moment.",
    ),
    "Request_Timout": (
        ProviderError,
        "Youchuan timed out on the request (Request_Timout); the job may have been created, "
        "so mjnb did not send it again. Check your Youchuan job list before retrying.",
    ),
    "Internal_Server_Error": (
        ProviderError,
        "Youchuan had an internal error ({said}); try again later.",
    ),
}
