"""HubSpot's dropdowns: an enumeration property (a company's ``industry``, or any property a
portal's admin made a dropdown) takes only the internal value of one of its options, and
HubSpot refuses a whole create or update that gives another (``INVALID_OPTION``). The tools
write such fields as free text (Outreach's and Salesloft's account industry: "Computer
Software", "Information Technology & Services").

``hubspot setup`` reads the options of every property the push writes
(:func:`~leadsync.destinations.hubspot.portal.setup`); the push then sends the option a value
names — its internal value or its label, compared without case, spacing or punctuation, "&"
read as "and" — and leaves out a value that names none, the object pushed without it and the
value reported (a push failure of leadsync's own, category ``LEADSYNC_NOT_AN_OPTION``).
Pure functions, no I/O.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

PortalOptions = Mapping[str, Mapping[str, Sequence[Sequence[str]]]]
"""object type -> property name -> its options as ``[value, label]``, as setup stores them."""

# The key a row carries, beside its properties, for the values no option names
# (name -> the record's value): neither sent nor cleared (objects.record_properties,
# objects.clearable_values).
NOT_OPTIONS = "not_options"


def option_key(text: str) -> str:
    """A value or label as compared: NFKC, without case, "&" as "and", letters and digits
    only ("Information Technology & Services" and "INFORMATION_TECHNOLOGY_AND_SERVICES"
    are one)."""
    folded = unicodedata.normalize("NFKC", text).casefold().replace("&", " and ")
    return re.sub(r"[\W_]+", "", folded)


def option_value(value: str, options: Sequence[Sequence[str]]) -> str | None:
    """The internal value of the option ``value`` names (its value exactly, else its value or
    label as :func:`option_key` compares them); None: no option."""
    for option in options:
        if option[0] == value:
            return option[0]
    key = option_key(value)
    if not key:
        return None
    for option in options:
        if option_key(option[0]) == key or option_key(option[1]) == key:
            return option[0]
    return None


def fit_options(
    record: Mapping[str, Any], options: Mapping[str, Sequence[Sequence[str]]] | None
) -> dict[str, Any]:
    """The record as the push writes it to a portal whose dropdowns are ``options`` (its
    type's): each enumerated property holds the option's internal value; one no option names
    is listed under :data:`NOT_OPTIONS` (name -> value). The record is not changed."""
    props: Mapping[str, Any] = record.get("properties") or {}
    if not options or not props:
        return dict(record)
    fitted = dict(props)
    unmatched: dict[str, str] = {}
    for name, choices in options.items():
        value = props.get(name)
        if value is None or value == "" or not choices:
            continue
        chosen = option_value(str(value), choices)
        if chosen is None:
            unmatched[name] = str(value)
        else:
            fitted[name] = chosen
    out = {**record, "properties": fitted}
    if unmatched:
        out[NOT_OPTIONS] = unmatched
    return out


def not_an_option_key(name: str, value: str) -> str:
    """What tells one report of a value no option names from another: its property and its
    value (its message begins with it), whatever the options were when it was made."""
    return f"{name} {value!r} "


def not_an_option_message(
    object_type: str, name: str, value: str, options: Sequence[Sequence[str]]
) -> str:
    """What a push failure says of a value no option names: the options spelled like it, if
    any, and how to list them all."""
    labels = {option[1].casefold(): option[1] for option in options}
    near = difflib.get_close_matches(value.casefold(), list(labels), n=3, cutoff=0.6)
    like = f"; spelled like it: {', '.join(labels[n] for n in near)}" if near else ""
    return (
        f"{not_an_option_key(name, value)}is none of the {len(options)} options of HubSpot's {object_type} "
        f"{name}{like} (`leadsync hubspot setup --json` lists them), so the {object_type} was "
        f"pushed without it. Add it as an option of {name} in HubSpot, or correct it at its "
        "source; then run `leadsync hubspot setup` to read the options again and retry this "
        "failure"
    )
