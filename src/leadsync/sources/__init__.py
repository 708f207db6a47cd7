"""Sources turn what a tool sends into canonical events; one module per kind of tool.

Each module ``leadsync.sources.<kind>`` defines an :class:`~leadsync.sources.base.Adapter`
subclass and names it ``ADAPTER``; what leadsync needs to know about the vendor (its
signature scheme, whether it needs a secret, its ``vendor:`` options, whether it is the CRM
itself, …) is declared on that class. docs/ARCHITECTURE.md lists what an adapter declares.

:data:`KINDS` is the one list of kinds in leadsync (settings, the API and the tests read it
from here). It names the vendor modules rather than finding them by importing every module
of this package: importing the package then stays cheap (a settings file is read without
loading an XML parser for Salesforce), and each adapter is imported when first asked for.
``tests/test_sources_contract.py`` checks that the list names exactly the modules that
define an ``ADAPTER``, so adding a vendor is its module, its name here, and its tests.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from functools import cache
from typing import Any

from leadsync.errors import EventError
from leadsync.sources.base import Adapter
from leadsync.sources.options import VendorOptions

__all__ = ["KINDS", "adapter_class", "adapter_for"]

KINDS: tuple[str, ...] = (
    "aircall",
    "calendly",
    "generic",
    "hubspot",
    "outreach",
    "pipedrive",
    "salesforce",
    "salesloft",
)
"""Every kind of tool leadsync has an adapter for: the module ``leadsync.sources.<kind>``."""


@cache
def adapter_class(kind: str) -> type[Adapter]:
    """The adapter class of a kind (its module imported on first use); EventError naming the
    allowed kinds for any other name."""
    if kind not in KINDS:
        raise EventError(f"integration kind {kind!r} has no adapter; allowed: {', '.join(KINDS)}")
    module = importlib.import_module(f"leadsync.sources.{kind}")
    adapter: type[Adapter] = module.ADAPTER
    return adapter


def adapter_for(
    kind: str, integration: str, options: VendorOptions | Mapping[str, Any] | None = None
) -> Adapter:
    """A ready adapter for one integration (its name and ``vendor:`` options: an instance of
    the adapter's ``options_model``, or a mapping it validates)."""
    return adapter_class(kind)(integration, options)
