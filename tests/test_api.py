"""The public surface: what ``import mjnb`` offers, and that importing it stays cheap."""

from __future__ import annotations

import subprocess
import sys

import mjnb

PUBLIC = [
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


def test_all_is_pinned_and_every_name_resolves() -> None:
    assert mjnb.__all__ == PUBLIC
    for name in PUBLIC:
        assert getattr(mjnb, name) is not None, name
    assert set(PUBLIC) <= set(dir(mjnb))


def test_every_error_is_an_mjerror() -> None:
    for name in PUBLIC:
        value = getattr(mjnb, name)
        if isinstance(value, type) and issubclass(value, Warning):
            continue  # a warning is no error: PromptWarning (the prompt is sent)
        if isinstance(value, type) and issubclass(value, Exception):
            assert issubclass(value, mjnb.MJError), name
    assert issubclass(mjnb.PromptWarning, UserWarning)
    assert not issubclass(mjnb.PromptWarning, mjnb.MJError)
    assert issubclass(mjnb.PromptError, ValueError)
    assert issubclass(mjnb.AuthError, mjnb.ProviderError)
    assert issubclass(mjnb.Timeout, TimeoutError)
    assert issubclass(mjnb.PromptError, mjnb.InvalidArgument)
    assert issubclass(mjnb.NotFound, LookupError)
    assert issubclass(mjnb.StorageError, OSError)


def test_import_loads_nothing_heavy() -> None:
    probe = (
        "import sys, mjnb; "
        "print(sorted(m for m in ('pandas', 'PIL', 'ipywidgets', 'numpy', 'httpx', 'IPython') "
        "if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
