"""Every exception mjnb raises, in one tree.

    MJError                      root: ``except mjnb.MJError`` catches everything below;
    │                            never raised bare
    ├── InvalidArgument          an argument is wrong (also a ValueError); nothing was sent
    │   ├── PromptError          the prompt is malformed; nothing was sent
    │   └── BudgetExceeded       a daily job cap would be broken; nothing was sent
    ├── NotFound                 no such task, sweep or row (also a LookupError)
    ├── NotReady                 the task is in the wrong state for that (still running,
    │                            already finished, has no image)
    ├── ConfigError              a setting or credential is missing or wrong
    ├── LogError                 the task log cannot be opened or written
    ├── StorageError             the image cache cannot be written or holds a damaged file
    ├── ProviderError            the provider answered with an error
    │   ├── AuthError            the credentials were refused (401/403)
    │   ├── RateLimited          429 / queue full: the job was not created, retry later
    │   ├── Rejected             the provider refused the job (banned prompt, bad argument)
    │   └── TaskFailed           the job was created and then failed
    └── Timeout                  a job, or a wait for one, took too long

Messages are full sentences that say what to do next. None of them ever carries a
credential: providers' text is scrubbed of every secret before it is raised.
"""

from __future__ import annotations

__all__ = [
    "AuthError",
    "BudgetExceeded",
    "ConfigError",
    "InvalidArgument",
    "LogError",
    "MJError",
    "NotFound",
    "NotReady",
    "PromptError",
    "ProviderError",
    "RateLimited",
    "Rejected",
    "StorageError",
    "TaskFailed",
    "Timeout",
]


class MJError(Exception):
    """Root of every mjnb exception."""


class InvalidArgument(MJError, ValueError):
    """An argument mjnb cannot use (a bad label, mode, axis, URL ...); nothing was sent."""


class NotFound(MJError, LookupError):
    """No task, sweep or row by that name, in this session or in the log."""


class NotReady(MJError):
    """The task is in the wrong state for what was asked: still running, already
    finished, or without an image."""


class PromptError(InvalidArgument):
    """A prompt that Midjourney would refuse; raised before anything is sent.

    ``column`` is the 1-based column in the prompt where the problem starts (or None).
    """

    def __init__(self, message: str, *, column: int | None = None) -> None:
        super().__init__(message)
        self.column = column


class BudgetExceeded(InvalidArgument):
    """A daily job cap (per user or per account, :mod:`mjnb.budget`) would be broken;
    nothing was sent."""


class ConfigError(MJError):
    """A missing or invalid setting, e.g. a credential variable that is not set."""


class LogError(MJError):
    """The task log (``$MJNB_HOME/history.sqlite``) cannot be used."""


class StorageError(MJError, OSError):
    """The image cache cannot be written (disk full, no permission) or holds a damaged
    file; the message names the folder and what to do."""


class ProviderError(MJError):
    """The provider answered with an error.

    ``code`` is the provider's own error code when it sent one, ``status`` the HTTP status.
    """

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


class AuthError(ProviderError):
    """The provider refused the credentials."""


class RateLimited(ProviderError):
    """Too many requests or a full queue: the job was not created and may be retried.

    ``retry_after`` is the provider's hint in seconds, when it gave one.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, code=code, status=status)
        self.retry_after = retry_after


class Rejected(ProviderError):
    """The provider refused the job (banned word, invalid argument); it was not run."""


class TaskFailed(ProviderError):
    """The job ran and failed; the message carries the provider's reason."""


class Timeout(MJError, TimeoutError):
    """A job, or a wait for one, took longer than allowed."""
