"""Sources turn what a tool sends into canonical events; one module per kind of tool.

Each module ``leadsync.sources.<kind>`` defines an :class:`~leadsync.sources.base.Adapter`
subclass and names it ``ADAPTER``; what leadsync needs to know about the vendor (its
signature scheme, whether it needs a secret, its ``vendor:`` options, whether it is the CRM
itself, …) is declared on that class. Modules are imported when first asked for, so adding a
vendor is one module plus its fixtures and tests (and its kind's name in
:data:`leadsync.model.INTEGRATION_KINDS`); docs/ARCHITECTURE.md lists what an adapter declares.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from functools import cache
from typing import Any

from leadsync.errors import EventError
from leadsync.model import INTEGRATION_KINDS
from leadsync.sources.base import Adapter

KINDS = INTEGRATION_KINDS


@cache
def adapter_class(kind: str) -> type[Adapter]:
    if kind not in KINDS:
        raise EventError(f"integration kind {kind!r} has no adapter; allowed: {', '.join(KINDS)}")
    module = importlib.import_module(f"leadsync.sources.{kind}")
    adapter: type[Adapter] = module.ADAPTER
    return adapter


def adapter_for(kind: str, integration: str, options: Mapping[str, Any] | None = None) -> Adapter:
    """A ready adapter for one integration (its name and ``vendor:`` options)."""
    return adapter_class(kind)(integration, options)
