"""mjnb: Midjourney in Jupyter.

>>> import mjnb
>>> mj = mjnb.Client()              # "local": the built-in simulator, no key needed
>>> task = mj.imagine("a red fox in snow --ar 3:2 --seed 7")
>>> task.wait().image               # the 2x2 grid as a PIL image

In a notebook: ``%load_ext mjnb`` then ``%mj a red fox in snow``.

Importing mjnb is cheap: the client, pandas, Pillow and ipywidgets load on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import (
    AuthError,
    ConfigError,
    InvalidArgument,
    LogError,
    MJError,
    NotFound,
    NotReady,
    PromptError,
    ProviderError,
    RateLimited,
    Rejected,
    StorageError,
    TaskFailed,
    Timeout,
)

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

    from .client import AsyncClient, Client
    from .config import configure
    from .notebook.gallery import Gallery
    from .notebook.panel import Panel
    from .prompt import Prompt, PromptWarning, parse_prompt
    from .task import Task

__version__ = "0.1.0"

__all__ = [
    "AsyncClient",
    "AuthError",
    "Client",
    "ConfigError",
    "Gallery",
    "InvalidArgument",
    "LogError",
    "MJError",
    "NotFound",
    "NotReady",
    "Panel",
    "Prompt",
    "PromptError",
    "PromptWarning",
    "ProviderError",
    "RateLimited",
    "Rejected",
    "StorageError",
    "Task",
    "TaskFailed",
    "Timeout",
    "__version__",
    "configure",
    "default_client",
    "load_ipython_extension",
    "log",
    "parse_prompt",
]

# name -> module that defines it, imported on first access (PEP 562)
_LAZY = {
    "AsyncClient": "client",
    "Client": "client",
    "Gallery": "notebook.gallery",
    "Panel": "notebook.panel",
    "Task": "task",
    "Prompt": "prompt",
    "PromptWarning": "prompt",
    "parse_prompt": "prompt",
    "configure": "config",
}
_default: Client | None = None


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'mjnb' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def default_client() -> Client:
    """The process-wide client the magic and :func:`log` use (created on first use)."""
    global _default
    if _default is None:
        from .client import Client

        _default = Client()
    return _default


def log(**filters: Any) -> Any:
    """The task log of the default client as a DataFrame; see ``Client.log``."""
    return default_client().log(**filters)


def load_ipython_extension(ipython: InteractiveShell) -> None:
    """``%load_ext mjnb``: registers the ``%mj`` magic."""
    from .notebook.magic import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: InteractiveShell) -> None:
    """``%unload_ext mjnb``: removes the magic and its display hooks."""
    from .notebook.magic import unload_ipython_extension as unload

    unload(ipython)
