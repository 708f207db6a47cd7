"""Record fields: the core columns of a record (email, domain, name, stage, closed) follow
its properties, by type; which of an event's properties a record takes, by the vendor's
clock (:func:`newer_properties`); who gave each phone number (:func:`phone_changes`).

Pure: the merged properties and the current fields in, the new fields out. The engine keeps
its email and domain indexes in step when these change.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from leadsync.model import PHONE_PROPERTIES, RecordType, display_ts
from leadsync.values import PhoneNumber, read_phone

# The properties that hold a person's phone numbers (model.PHONE_PROPERTIES: adapters map
# theirs onto these), and the record types whose numbers identify them.
PHONE_RECORD_TYPES = (RecordType.CONTACT, RecordType.LEAD)


def gives_phones(properties: Mapping[str, Any]) -> bool:
    """Whether ``properties`` give (or clear) any phone number."""
    return any(prop in properties for prop in PHONE_PROPERTIES)


@dataclass(frozen=True, slots=True)
class CoreFields:
    """The columns a record's properties decide (what lookups, lists and the push read)."""

    email: str | None = None
    domain: str | None = None
    name: str | None = None
    stage: str | None = None
    is_closed: bool | None = None


def core_fields(
    record_type: RecordType, properties: Mapping[str, Any], current: CoreFields
) -> CoreFields:
    """The core fields after ``properties`` (all the record's properties, merged). A name or
    stage follows the properties it is made of once any of them was given — cleared ones
    included, so a name whose parts were all cleared is empty, whichever order the value and
    the clear arrived in (the properties follow the vendor's clock) — and is left as it is
    when none was ever given. An email or domain is only ever replaced, never blanked: it
    is how the record is found. A contact's name is its first and last names, else
    ``name``; a deal's name and stage also come from HubSpot's ``dealname``/``dealstage``; a
    ticket's or lead's from ``subject``/``status``. Only a contact has an email and only a
    company a domain."""
    email, domain, name, stage, is_closed = (
        current.email,
        current.domain,
        current.name,
        current.stage,
        current.is_closed,
    )
    get = properties.get
    if record_type is RecordType.CONTACT:
        email = get("email") or email
        name = _made_of(properties, ("firstname", "lastname"), ("name",), name)
    elif record_type is RecordType.COMPANY:
        domain = get("domain") or domain
        name = _made_of(properties, (), ("name",), name)
    elif record_type is RecordType.DEAL:
        name = _made_of(properties, (), ("name", "dealname"), name)
        stage = _made_of(properties, (), ("stage", "dealstage"), stage)
        if "is_closed" in properties:
            is_closed = properties["is_closed"]
    else:
        name = _made_of(properties, (), ("name", "subject"), name)
        stage = _made_of(properties, (), ("stage", "status"), stage)
    return CoreFields(email, domain, name, stage, is_closed)


def _made_of(
    properties: Mapping[str, Any], joined: Sequence[str], each: Sequence[str], current: Any
) -> Any:
    """A field made of ``properties``: the ``joined`` ones given (space-separated), else the
    first of ``each`` given; None when the properties it is made of were all cleared; the
    ``current`` value when none of them was ever given."""
    if not any(p in properties for p in (*joined, *each)):
        return current
    parts = [str(v) for p in joined if (v := properties.get(p))]
    if parts:
        return " ".join(parts)
    return next((v for p in each if (v := properties.get(p))), None)


# ------------------------------------------------------------------ the vendor's clock


def newer_properties(
    properties: Mapping[str, Any],
    times: dict[str, Any],
    at: str,
    integration: str,
    own_rule: Collection[str] = (),
) -> tuple[dict[str, Any], list[str]]:
    """The properties an event gives (from ``integration``, at ``at`` by the vendor's clock:
    its ``changed_at``, else its ``occurred_at``) that a record takes, by the vendor's clock
    rather than arrival: ``times`` holds, per property, ``[time, integration]`` of the latest
    event that gave the value shown, and is updated in place.

    - An event older than that changes nothing there, whichever integration either is from
      (a retried ``contact.created`` does not bring back the name a ``contact.updated``
      changed; what another integration gave since stays). A clear (``null``) is a value like
      any other: one older than the value shown is ignored, and a value older than a clear
      is too.
    - Equal times are not older: the event applied later (arrival order) wins, as for
      phones, and takes the property's time and integration — deterministic for any cut into
      batches or workers, which keep each record's events in arrival order.
    - A property with no time (stored before leadsync kept them) takes the next event's
      value, as every event did before.

    The properties in ``own_rule`` (a contact's phone numbers, whose order is
    :func:`phone_changes`') pass untouched and untimed. Returns the properties taken, and the
    names of those not taken (older)."""
    if not times:
        taken = dict(properties)
        for prop in properties:
            if prop not in own_rule:
                times[prop] = [at, integration]
        return taken, []
    taken = {}
    older: list[str] = []
    for prop, value in properties.items():
        if prop not in own_rule:
            held = times.get(prop)
            if isinstance(held, list) and held and isinstance(held[0], str) and at < held[0]:
                older.append(prop)
                continue
            times[prop] = [at, integration]
        taken[prop] = value
    return taken, older


def phones(
    record_type: RecordType | str, properties: Mapping[str, Any], region: str | None
) -> dict[str, PhoneNumber | None]:
    """The phone numbers ``properties`` give a contact or lead, by property, read in
    ``region`` (the integration that sent them); a property given empty is None (the number
    is removed). Nothing for other record types or when no phone property is given."""
    if record_type not in PHONE_RECORD_TYPES:
        return {}
    return {
        prop: read_phone(properties[prop], region)
        for prop in PHONE_PROPERTIES
        if prop in properties
    }


def phone_rows(
    record_id: int, record_type: str, properties: Mapping[str, Any], region: str | None
) -> list[dict[str, Any]]:
    """The ``record_phones`` rows of a contact's or lead's phone properties."""
    return [
        {
            "record_id": record_id,
            "property": prop,
            "record_type": record_type,
            "number": phone.key,
            "valid": phone.number is not None,
        }
        for prop, phone in phones(record_type, properties, region).items()
        if phone is not None
    ]


# ------------------------------------------------------------- who gave each number

# Who gave each phone number of a contact or lead, kept in its properties under this name
# (the push writes only the CRM properties it knows, so it never leaves leadsync). Per phone
# property: ``number``, the number it shows (its E.164 form, else as given; null once
# removed); ``given_by``, the integrations that gave that number (null: not known, it was
# given before leadsync kept this); ``why``, its last change, for people; ``at``, the time of
# each integration's latest event that gave the property (by the vendor's clock);
# ``changed``, when the number shown last changed; ``beside``, per integration, the number
# it gave that the property does not show (``number``) and its place in the phone index
# (``index``: :func:`beside_index`). See :func:`phone_changes` for the rules.
PHONE_SOURCES = "leadsync_phone_sources"

# What an event does to the number a phone property shows (:class:`PhoneChange`).
SET = "set"  # a (new) number is shown: indexed
SAME = "same"  # the number it had, as it was written: only who gave it may change
REMOVED = "removed"  # the number is removed
KEPT = "kept"  # a whole-list tool has it no more, but it stays (others gave it, or not known)
NONE = "none"  # null where there was no number
BESIDE = "beside"  # another integration's number, or an older one: kept beside, not shown
STALE = "stale"  # older than what the property has (by the vendors' clocks): not taken

# Between a phone property and the place of a number kept beside it, in the phone index's
# ``property`` (``mobilephone+1``).
BESIDE_MARK = "+"


def beside_index(prop: str, place: int) -> str:
    """The phone index's name of the ``place``-th number kept beside the one ``prop``
    shows."""
    return f"{prop}{BESIDE_MARK}{place}"


@dataclass(frozen=True, slots=True)
class IndexedAs:
    """An entry of the phone index as people are shown it (never its internal name,
    ``mobilephone+1``): the phone ``property`` it is, or stands beside (``kept_beside``),
    and for a number kept beside the ``integration`` that gave it (None: a property's own
    number, or not known)."""

    property: str
    kept_beside: bool = False
    integration: str | None = None

    def text(self) -> str:
        """``mobilephone``, or ``mobilephone (kept beside, from calendly)``."""
        if not self.kept_beside:
            return self.property
        source = f", from {self.integration}" if self.integration else ""
        return f"{self.property} (kept beside{source})"

    def fields(self) -> dict[str, Any]:
        """The JSON form: ``property`` (the property's own name, as before), ``kept_beside``
        and ``integration``."""
        return {
            "property": self.property,
            "kept_beside": self.kept_beside,
            "integration": self.integration,
        }


def indexed_as(index: str, sources: Any = None) -> IndexedAs:
    """An entry of the phone index (``record_phones.property``: a phone property, or
    :func:`beside_index`'s name of a number kept beside one) as it is shown, the integration
    that kept it beside read from the record's :data:`PHONE_SOURCES` (``sources``; None or
    not a mapping: not known). The one place that reads the internal name: every face (the
    health report, ``records show``, the console, the admin API, the match reasons) shows
    an entry through this."""
    prop, mark, _ = index.partition(BESIDE_MARK)
    if not mark:
        return IndexedAs(prop)
    entry = sources.get(prop) if isinstance(sources, Mapping) else None
    beside = entry.get("beside") if isinstance(entry, Mapping) else None
    if isinstance(beside, Mapping):
        for integration, kept in sorted(beside.items()):
            if isinstance(kept, Mapping) and kept.get("index") == index:
                return IndexedAs(prop, True, str(integration))
    return IndexedAs(prop, True)


@dataclass(frozen=True, slots=True)
class BesideChange:
    """A number kept beside a property's own, in the phone index under ``index``: ``old``
    the number it held there (None: new), ``new`` the one it holds now (None: removed)."""

    index: str
    old: str | None
    new: PhoneNumber | None


@dataclass(frozen=True, slots=True)
class PhoneChange:
    """What an event does to one phone property of a contact or lead: ``outcome``; the
    number it shows after (``SET``, ``SAME``) and the property's value then (``value``: the
    event's text, or a number kept beside that is shown now; ``REMOVED``: the event's
    empty value); the numbers kept beside it that change (``beside``); the property's entry
    in :data:`PHONE_SOURCES` after it (None: unchanged)."""

    prop: str
    outcome: str
    phone: PhoneNumber | None = None
    source: dict[str, Any] | None = None
    value: Any = None
    beside: tuple[BesideChange, ...] = ()


def phone_changes(
    properties: Mapping[str, Any],
    current: Mapping[str, Any],
    integration: str,
    whole_list: bool,
    region: str | None,
    at: str,
    made_by: str | None = None,
    is_crm: bool = False,
) -> list[PhoneChange]:
    """What the phone properties an event gives (``properties``, from ``integration`` at
    ``at``, read in ``region``) do to a contact's or lead's (``current``: all its
    properties; ``made_by``: the integration that made the record).

    - A property shows one number, its first giver's: a property without one shows the
      number given, and the number it shows given again adds ``integration`` to its givers.
    - Another number replaces it only when ``integration`` alone gave the one shown (it
      changed its own number). Otherwise it is kept *beside* it, one per integration:
      indexed, so that a call by either finds the person, but neither shown nor pushed. The
      CRM itself (``is_crm``) is the exception: the property is its own field (what a person
      edits there, and what the push writes back), so its number is shown, and the one it
      replaces is kept beside for those who gave it.
    - Empty: a clear of the number shown, whoever gave it — unless ``integration`` sends the
      person's whole list of numbers (``whole_list``: the adapter's ``phone_list_complete``):
      then it takes back only what it gave, and the number stays while another gave it too;
      when it goes, the number another integration kept beside it (the earliest given) is
      shown instead. Either way the number ``integration`` kept beside it goes.
    - Order: an event older than the latest of its integration about the property changes
      nothing (``STALE``), and one older than what another integration gave it since — the
      number shown, or its removal — shows nothing (a clear is ``STALE``; a number, kept
      beside). Equal times are not older.

    A number given before leadsync kept who gave numbers is taken to be from the integration
    that made the record: that one changes or takes it back; another keeps its own beside."""
    how = _Giver(integration, whole_list, is_crm, region, at, made_by)
    return [
        _change(prop, properties[prop], current, how)
        for prop in PHONE_PROPERTIES
        if prop in properties
    ]


@dataclass(frozen=True, slots=True)
class _Giver:
    """The integration an event is from, as :func:`phone_changes` reads it."""

    name: str
    whole_list: bool
    is_crm: bool
    region: str | None
    at: str
    made_by: str | None


@dataclass(slots=True)
class _Step:
    """One phone property as an event finds it: its text and number, its stored entry, the
    entry being changed, and who owns the number it shows (its givers; when not known, the
    integration that made the record)."""

    prop: str
    old_text: Any
    old: PhoneNumber | None
    stored: dict[str, Any] | None
    entry: _Entry
    owners: list[str]


def _change(prop: str, given: Any, current: Mapping[str, Any], how: _Giver) -> PhoneChange:
    stored = _source(current, prop)
    entry = _Entry.of(prop, stored, how.at)
    if how.at < entry.at.get(how.name, ""):
        return PhoneChange(prop, STALE)  # its integration said something newer of it
    entry.at[how.name] = how.at
    givers = entry.given_by
    owners = givers if givers is not None else ([how.made_by] if how.made_by else [])
    old_text = current.get(prop)
    step = _Step(prop, old_text, read_phone(old_text, how.region), stored, entry, owners)
    phone = read_phone(given, how.region)
    if phone is not None:
        return _number(step, given, phone, how)
    entry.keep_beside(how.name, None)
    if step.old is None:
        if stored is None:
            entry.given_by = []
        return entry.change(NONE, stored)
    if not how.whole_list:
        if _newer_elsewhere(entry, [g for g in owners if g != how.name], how.at):
            return entry.change(STALE, stored)
        why = f"{step.old.key} removed at {display_ts(how.at)}: {how.name} cleared it"
        entry.show(None, None, why)
        return entry.change(REMOVED, stored, None, given)
    return _taken_back(step, given, how)


def _number(step: _Step, given: Any, phone: PhoneNumber, how: _Giver) -> PhoneChange:
    """A number given: the one shown (``SAME``), or one shown now (``SET``), or one kept
    beside it (``BESIDE``)."""
    integration, at, when = how.name, how.at, display_ts(how.at)
    old, entry, stored = step.old, step.entry, step.stored
    givers = entry.given_by
    if old is not None and (step.old_text == given or old.key == phone.key):
        entry.keep_beside(integration, None)
        if givers is None or integration not in givers:
            entry.number, entry.given_by = phone.key, [*(givers or ()), integration]
            also = f"{integration} gave it too" if givers else f"given by {integration}"
            entry.why = f"{also} at {when}"
        return entry.change(SAME if step.old_text == given else SET, stored, phone, given)
    given_by = f"given by {integration} at {when}"
    others = [g for g in step.owners if g != integration]
    if (old is None and at >= entry.changed) or (old is not None and not others):
        entry.show(phone, integration, given_by)
        return entry.change(SET, stored, phone, given)
    if old is not None and how.is_crm and not _newer_elsewhere(entry, others, at):
        entry.keep_beside(integration, None)  # (its place beside is free for another)
        for giver in others:
            entry.keep_beside(giver, old)
        why = f"{given_by} (the CRM's own field); {old.key}, which {' and '.join(others)} gave"
        entry.show(phone, integration, f"{why}, kept beside")
        return entry.change(SET, stored, phone, given)
    entry.keep_beside(integration, phone)
    if givers is not None and integration in givers:
        entry.given_by = others
    if old is None:
        but = f"the number shown was removed later, at {display_ts(entry.changed)}"
    elif givers is None:
        but = f"{old.key}, given before leadsync kept who gives numbers, stays shown"
    else:
        but = f"{' and '.join(others)} gave {old.key}, which stays shown"
    entry.why = (
        f"{phone.key} kept beside at {when}: {integration} gave it, but {but} (calls by "
        "either find the person)"
    )
    return entry.change(BESIDE, stored)


def _taken_back(step: _Step, given: Any, how: _Giver) -> PhoneChange:
    """``how.name``, which sends the person's whole list, has no number for the property
    any more: the number shown goes if it alone gave it, and a number another integration
    kept beside is shown instead."""
    integration, when = how.name, display_ts(how.at)
    old, entry, stored = step.old, step.entry, step.stored
    assert old is not None
    givers = entry.given_by
    removed = (
        f"{old.key} removed at {when}: {integration} sends the whole list of the person's "
        "numbers, and it is no longer on it"
    )
    if givers is None and how.made_by == integration:
        removed += f" (given before leadsync kept who gives numbers; {integration} made it)"
    elif givers is None:
        if stored is None or stored.get("number") != old.key:
            entry.number = old.key
            entry.why = (
                f"kept at {when}: {integration} no longer lists it, and who gave it is not "
                f"known (given before leadsync kept who gives numbers, to a record "
                f"{integration} did not make)"
            )
        return entry.change(KEPT, stored)
    elif others := [g for g in givers if g != integration]:
        if len(others) < len(givers):  # (else none it gave: nothing to take back)
            entry.given_by = others
            names = " and ".join(others)
            entry.why = f"kept at {when}: {integration} no longer lists it, but {names} gave it"
        return entry.change(KEPT, stored)
    heir = entry.heir()
    if heir is None:
        entry.show(None, None, removed)
        return entry.change(REMOVED, stored, None, given)
    successor, number = heir
    entry.show(number, successor, f"{removed}; {successor} gave {number.key}, shown now")
    return entry.change(SET, stored, number, number.key)


def _newer_elsewhere(entry: _Entry, others: list[str], at: str) -> bool:
    """Whether the number shown was given by ``others`` (other integrations) later than
    ``at``, or shown since: an event of ``at`` is older than it."""
    return bool(others) and at < max([entry.changed, *(entry.at.get(g, "") for g in others)])


@dataclass(slots=True)
class _Entry:
    """A property's entry in :data:`PHONE_SOURCES` while an event changes it, and the
    numbers kept beside it that move."""

    prop: str
    at_now: str
    number: str | None
    given_by: list[str] | None
    why: str | None
    at: dict[str, str]
    changed: str
    beside: dict[str, dict[str, str]]
    moves: list[BesideChange]

    @classmethod
    def of(cls, prop: str, stored: Mapping[str, Any] | None, at_now: str) -> _Entry:
        stored = stored or {}
        times = stored.get("at")
        beside = stored.get("beside")
        return cls(
            prop,
            at_now,
            stored.get("number"),
            stored.get("given_by"),
            stored.get("why"),
            dict(times) if isinstance(times, dict) and _all_of(times, str) else {},
            str(stored.get("changed") or ""),
            {i: dict(b) for i, b in beside.items()}
            if isinstance(beside, dict) and _all_of(beside, dict)
            else {},
            [],
        )

    def show(self, phone: PhoneNumber | None, giver: str | None, why: str) -> None:
        """The property shows ``phone`` (None: nothing) from ``giver`` now; whoever kept the
        same number beside it is among its givers instead."""
        self.number = phone.key if phone is not None else None
        self.given_by, self.why, self.changed = [], why, self.at_now
        if giver is not None:
            self.given_by.append(giver)
            self.keep_beside(giver, None)
        for integration, kept in sorted(self.beside.items()):
            if phone is not None and kept.get("number") == phone.key:
                self.given_by.append(integration)
                self.keep_beside(integration, None)

    def keep_beside(self, integration: str, phone: PhoneNumber | None) -> None:
        """``integration``'s number beside the one shown is ``phone`` now (None: none)."""
        kept = self.beside.get(integration)
        old = kept.get("number") if kept is not None else None
        if phone is None:
            if kept is not None:
                del self.beside[integration]
                self.moves.append(BesideChange(str(kept.get("index")), old, None))
            return
        if old == phone.key:
            return
        taken = {str(b.get("index")) for b in self.beside.values()}
        place = 1
        while beside_index(self.prop, place) in taken:
            place += 1
        index = str(kept["index"]) if kept is not None else beside_index(self.prop, place)
        self.beside[integration] = {"number": phone.key, "index": index}
        self.moves.append(BesideChange(index, old, phone))

    def heir(self) -> tuple[str, PhoneNumber] | None:
        """The number kept beside that was given first (then by integration name)."""
        for _at, integration in sorted((self.at.get(i, ""), i) for i in self.beside):
            phone = read_phone(self.beside[integration].get("number"))
            if phone is not None:
                return integration, phone
        return None

    def change(
        self,
        outcome: str,
        stored: Mapping[str, Any] | None,
        phone: PhoneNumber | None = None,
        value: Any = None,
    ) -> PhoneChange:
        entry: dict[str, Any] = {"number": self.number, "given_by": self.given_by}
        if self.why is not None:
            entry["why"] = self.why
        if self.at:
            entry["at"] = dict(sorted(self.at.items()))
        if self.changed:
            entry["changed"] = self.changed
        if self.beside:
            entry["beside"] = dict(sorted(self.beside.items()))
        source = None if stored is not None and entry == dict(stored) else entry
        return PhoneChange(self.prop, outcome, phone, source, value, tuple(self.moves))


def _all_of(mapping: Mapping[Any, Any], kind: type) -> bool:
    return all(isinstance(k, str) and isinstance(v, kind) for k, v in mapping.items())


def _source(current: Mapping[str, Any], prop: str) -> dict[str, Any] | None:
    """The property's entry in :data:`PHONE_SOURCES`, if it has one of that shape (the
    properties are free: an event could have put anything under that name)."""
    sources = current.get(PHONE_SOURCES)
    entry = sources.get(prop) if isinstance(sources, dict) else None
    if not isinstance(entry, dict):
        return None
    givers = entry.get("given_by")
    if givers is not None and not (
        isinstance(givers, list) and all(isinstance(g, str) for g in givers)
    ):
        return None
    return entry
