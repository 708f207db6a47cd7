"""The ``vendor:`` options of each kind, as the pydantic models its adapter declares.

An adapter names its model in ``options_model`` and receives an instance of it: the settings
validate an integration's ``vendor:`` block with the model of its kind, so an option of
another kind is refused (``not allowed for kind K; only for ...``) and a value is checked
by the one schema the adapter reads. An option several kinds take (the signed timestamp of
the generic kind and of Salesforce's change events) has one type, so it means the same
everywhere.

This module sits below the settings (sources never import them), so it also holds the few
field types the options share with the settings schema — ids, names, strict booleans — and
the error those raise: a message that the settings show as written, at the option's
``FILE:LINE: key.path``. It imports pydantic and :mod:`leadsync.model` only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)
from pydantic_core import PydanticCustomError

from leadsync.model import ActivityType

__all__ = [
    "OPTION_MODELS",
    "GenericOptions",
    "HubSpotOptions",
    "NoOptions",
    "PipedriveOptions",
    "SalesforceOptions",
    "VendorOptions",
]

OWN_ERROR = "leadsync"
"""The pydantic error type of messages that are final text (the settings never reword them)."""

_ORG_ID_RE = re.compile(r"^00D[A-Za-z0-9]{12}([A-Za-z0-9]{3})?$")


def show(value: Any) -> str:
    """A value as people wrote it in YAML, for messages."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str | int | float):
        return repr(value)
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return type(value).__name__


def own_error(message: str) -> PydanticCustomError:
    """A validation error whose message is shown as written."""
    return PydanticCustomError(OWN_ERROR, "{message}", {"message": message})


def _to_id(value: Any) -> Any:
    """Ids are text; YAML turns ``id: 101`` into an int, which people mean as text."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise own_error(f"expected an id (text or a whole number); got {show(value)}")
    return str(value)


def _to_name(value: Any) -> Any:
    """Names (teams, vendor type keys) are text; a number is taken as its text, like ids."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise own_error(f"expected a name (text); got {show(value)}")
    return str(value)


Id = Annotated[str, BeforeValidator(_to_id), StringConstraints(strip_whitespace=True, min_length=1)]
Name = Annotated[
    str, BeforeValidator(_to_name), StringConstraints(strip_whitespace=True, min_length=1)
]
StrictBool = Annotated[bool, Field(strict=True)]


class VendorOptions(BaseModel):
    """Base of every kind's options: immutable, and an unknown option is an error."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class NoOptions(VendorOptions):
    """The options of a kind that takes none."""


# A signed ``X-Leadsync-Timestamp`` (the generic kind, Salesforce's change events through the
# relay). ``timestamp_tolerance_s``: how far it may be from now, either way (300 s when not
# set); ``require_timestamp``: refuse requests without one (not set: senders that sign the
# body alone keep working). One type each, so that both kinds read them alike.
TimestampTolerance = Annotated[
    float | None,
    Field(
        gt=0,
        le=86_400,
        strict=True,
        allow_inf_nan=False,
        description="How far, in seconds, the signed X-Leadsync-Timestamp may be from now, "
        "either way: more than 0, at most 86400. Not set: 300.",
    ),
]
RequireTimestamp = Annotated[
    StrictBool | None,
    Field(
        description="Refuse (401) a request that carries no X-Leadsync-Timestamp. Not set: "
        "off, so senders that sign the body alone keep working (with no replay window)."
    ),
]


class GenericOptions(VendorOptions):
    """The generic kind's options: the signed timestamp."""

    timestamp_tolerance_s: TimestampTolerance = None
    require_timestamp: RequireTimestamp = None


class HubSpotOptions(VendorOptions):
    """``app_id``: the HubSpot app leadsync writes with; changes it made are echoes and are
    ignored."""

    app_id: Id | None = Field(
        default=None,
        description="The HubSpot app leadsync writes with: its number (the app's settings, "
        "Auth tab: App ID), e.g. 1234567. Changes that app made are leadsync's own echoes "
        "and are ignored. Not set: every change is taken, leadsync's own too.",
    )

    @field_validator("app_id")
    @classmethod
    def _app_id(cls, value: str | None) -> str | None:
        return hubspot_app_id(value)


def hubspot_app_id(value: str | None) -> str | None:
    """A HubSpot app id as written (the app's number), else an error saying what is allowed:
    anything else never matches the ``sourceId`` of the app's changes, silently."""
    if value is not None and not re.fullmatch(r"[0-9]+", value.strip()):
        raise own_error(
            f"{show(value)} is not a HubSpot app id; allowed: the app's number (the app's "
            "settings, Auth tab: App ID), e.g. 1234567"
        )
    return value.strip() if value is not None else None


class SalesforceOptions(VendorOptions):
    """``organization_id``: the org whose Outbound Messages are accepted (they carry no
    signature); the signed timestamp of change events, as for the generic kind."""

    organization_id: Id | None = Field(
        default=None,
        description="The Salesforce org whose Outbound Messages are accepted (they carry no "
        "signature): 00D followed by 12 or 15 letters and digits (Setup > Company "
        "Information). Not set: every Outbound Message is refused (401).",
    )
    timestamp_tolerance_s: TimestampTolerance = None
    require_timestamp: RequireTimestamp = None

    @field_validator("organization_id")
    @classmethod
    def _org_id(cls, value: str | None) -> str | None:
        if value is not None and not _ORG_ID_RE.match(value):
            raise own_error(
                f"{show(value)} is not a Salesforce organization id; allowed: 00D followed by "
                "12 or 15 letters and digits (Setup > Company Information)"
            )
        return value


class PipedriveOptions(VendorOptions):
    """``activity_types``: Pipedrive activity type key -> activity (``{lunch: meeting}``);
    ``other_activity_types``: the activity of type keys not mapped (task when not set)."""

    activity_types: dict[Name, ActivityType] = Field(
        default_factory=dict,
        description="Pipedrive activity type keys and the activity each becomes (call, "
        "email, meeting, note or task), e.g. lunch: meeting. They come before the built-in "
        "ones (call, meeting, task, email; deadline: task; lunch: meeting).",
    )
    other_activity_types: ActivityType | None = Field(
        default=None,
        description="The activity of a type key neither mapped here nor built in. Not set: task.",
    )


OPTION_MODELS: tuple[type[VendorOptions], ...] = (
    NoOptions,
    GenericOptions,
    HubSpotOptions,
    PipedriveOptions,
    SalesforceOptions,
)
"""Every kind's model, for the settings' schema of ``vendor:`` (one of these) without
importing every adapter; ``tests/test_sources_contract.py`` checks each adapter's is here."""
