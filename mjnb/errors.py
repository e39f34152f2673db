"""Every exception mjnb raises, in one tree.

    MJError                      root: ``except mjnb.MJError`` catches everything below
    ├── PromptError              the prompt is malformed; nothing was sent
    ├── ConfigError              a setting or credential is missing or wrong
    ├── LogError                 the task log cannot be opened or written
    ├── ProviderError            the provider answered with an error
    │   ├── AuthError            the credentials were refused (401/403)
    │   ├── RateLimited          429 / queue full: the job was not created, retry later
    │   ├── Rejected             the provider refused the job (banned prompt, bad argument)
    │   └── TaskFailed           the job was created and then failed
    └── Timeout                  a job, or a wait for one, took too long

Messages are full sentences that say what to do next. None of them ever carries a
credential: providers' messages pass through :func:`redact` before they are raised.
"""

from __future__ import annotations

__all__ = [
    "AuthError",
    "ConfigError",
    "LogError",
    "MJError",
    "PromptError",
    "ProviderError",
    "RateLimited",
    "Rejected",
    "TaskFailed",
    "Timeout",
]


class MJError(Exception):
    """Root of every mjnb exception."""


class PromptError(MJError, ValueError):
    """A prompt that Midjourney would refuse; raised before anything is sent.

    ``column`` is the 1-based column in the prompt where the problem starts (or None).
    """

    def __init__(self, message: str, *, column: int | None = None) -> None:
        super().__init__(message)
        self.column = column


class ConfigError(MJError):
    """A missing or invalid setting, e.g. a credential variable that is not set."""


class LogError(MJError):
    """The task log (``$MJNB_HOME/history.sqlite``) cannot be used."""


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
