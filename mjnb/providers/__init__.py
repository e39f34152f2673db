"""The provider adapters, by name, and the one way to build one.

Each module maps one wire protocol (see :mod:`mjnb.providers.base` for the contract)::

    adapter = make_adapter("acedata", base_url=None, token="...")
    request = adapter.submit(Job("imagine", prompt="a red fox --ar 3:2"))

Which credentials each provider needs, and from which variables, is
:mod:`mjnb.config`'s business; adapters take them already resolved.
"""

from __future__ import annotations

from typing import Any

from ..errors import ConfigError
from .acedata import AceDataAdapter, LocalAdapter, ZhishuyunAdapter
from .base import Adapter, AdapterBase
from .metachat import MetaChatAdapter
from .mjproxy import MJProxyAdapter
from .youchuan import YouchuanAdapter

__all__ = ["PROVIDERS", "make_adapter"]

PROVIDERS: dict[str, type[AdapterBase]] = {
    "local": LocalAdapter,
    "acedata": AceDataAdapter,
    "zhishuyun": ZhishuyunAdapter,
    "metachat": MetaChatAdapter,
    "mjproxy": MJProxyAdapter,
    "youchuan": YouchuanAdapter,
}


def make_adapter(name: str, *, base_url: str | None = None, **credentials: Any) -> Adapter:
    """The adapter for provider ``name``; ``None`` credentials count as not given."""
    cls = PROVIDERS.get(name)
    if cls is None:
        raise ConfigError(f"Unknown provider {name!r}; the adapters are: {', '.join(PROVIDERS)}.")
    given = {key: value for key, value in credentials.items() if value is not None}
    adapter: Adapter = cls(base_url=base_url, **given)
    return adapter
