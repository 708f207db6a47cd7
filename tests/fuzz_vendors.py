"""The harness of the generative tests of vendor payloads (tests/test_fuzz_published.py).

Every published sample of ``tests/fixtures/published/<kind>/`` is a :class:`Sample`: its body
as the vendor posts it, the integration that takes it (its kind's options, its secret) and the
headers the vendor signs it with (:func:`tests.live.vendor_headers`). :func:`mutations` is a
Hypothesis strategy of the ways real vendors and real data vary one sample: a field removed,
set to null or to an empty string, a string where a number was and the other way round, an
object replaced by a list or a scalar, an unknown field added, unicode and very long strings,
emails in odd case and spacing, phone numbers in national and odd formats, times in other ISO
forms and epoch seconds where milliseconds were (and the other way round). :func:`deliver`
takes a body through what the webhook does with it, in this process: the signature check, the
cut into pieces (:meth:`Adapter.cut`, the vendor's acknowledgement) and each piece's stored
payload read by a worker (:meth:`Adapter.events_of`).

Two strategies vary a sample without changing what it means (docs/WEBHOOKS.md, "Field
types"): :func:`re_encoded` writes one flag or number in another plain form (``true`` as
``"true"`` or ``1``, ``42`` as ``"42"``), and :func:`odd_decorative` gives a field that only
labels or points at something (:data:`DECORATIVE`) a value of another type than a string,
which reads as the field absent.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from leadsync.errors import EventError, SignatureError
from leadsync.sources import adapter_for
from leadsync.sources.base import Adapter, WebhookRequest
from leadsync.sources.canonical import event_to_dict
from tests.live import NOW, vendor_headers

PUBLISHED = Path(__file__).parent / "fixtures" / "published"
URI = "http://127.0.0.1:8000/webhooks/{}"

#: Each vendor's secret as its integration's variable holds it (Aircall's: the body's token;
#: a Salesforce Outbound Message has none, its organization id is the check).
SECRETS = {
    "calendly": "calendly-signing-key-fuzz-7d1e",
    "outreach": "outreach-webhook-secret-fuzz-41b2",
    "salesloft": "salesloft-callback-token-fuzz-9a0c",
    "hubspot": "hubspot-client-secret-fuzz-5e6f",
    "pipedrive": "hooks:pipedrive-password-fuzz-c3d4",
    "salesforce": "salesforce-relay-secret-fuzz-1f2a",
}
HUBSPOT_APP_ID = 777
ORGANIZATION = re.compile(rb"<OrganizationId>(00D\w{12,15})</OrganizationId>")
SESSION = re.compile(rb"<SessionId>([^<]+)</SessionId>")


@dataclass(frozen=True)
class Sample:
    """One published sample as its vendor posts it."""

    kind: str
    name: str  # kind/file
    body: Any  # decoded JSON, or the XML text
    headers: dict[str, str] = field(default_factory=dict)  # besides the signature's

    @property
    def is_xml(self) -> bool:
        return isinstance(self.body, str)

    @property
    def integration(self) -> str:
        """Its integration's name: the kind's; an Aircall account's (its webhook token is the
        secret) or a Salesforce organization's (an Outbound Message names it) of its own."""
        if self.kind == "aircall":
            return "aircall-" + hashlib.sha256(str(self.body["token"]).encode()).hexdigest()[:8]
        if self.is_xml:
            org = self.options() or {}
            return "sf-" + str(org.get("organization_id") or "none").lower()
        return self.kind

    def settings(self) -> dict[str, Any]:
        """Its integration as an admin configures it (the secret in ``FUZZ_<NAME>``)."""
        found: dict[str, Any] = {"kind": self.kind, "users": {"unmapped": {"policy": "leave"}}}
        if self.secret() is not None:
            found["secret_env"] = self.secret_env
        if self.options():
            found["vendor"] = self.options()
        return found

    @property
    def secret_env(self) -> str:
        return "FUZZ_" + self.integration.upper().replace("-", "_")

    def options(self) -> dict[str, Any] | None:
        if self.kind == "hubspot":
            return {"app_id": HUBSPOT_APP_ID}
        if self.is_xml:
            found = ORGANIZATION.search(self.body.encode())
            return {"organization_id": found.group(1).decode()} if found else None
        return None

    def secret(self) -> str | None:
        """The secret the integration holds: Aircall's is the sample's own token."""
        if self.kind == "aircall":
            return str(self.body["token"])
        if self.is_xml:
            return None
        return SECRETS[self.kind]

    def secrets(self) -> list[str]:
        """Every secret this sample's delivery may carry: the integration's, and a Salesforce
        Outbound Message's session id (a credential Salesforce sends with it)."""
        found = [s for s in (self.secret(),) if s]
        session = SESSION.search(self.body.encode()) if self.is_xml else None
        if session and len(session.group(1)) >= 16:  # not a placeholder ("...")
            found.append(session.group(1).decode())
        return found

    def encode(self, body: Any) -> bytes:
        return body.encode() if isinstance(body, str) else json.dumps(body).encode()

    def request(self, body: Any, uri: str | None = None) -> tuple[dict[str, str], bytes]:
        """The headers and bytes of ``body`` (a mutation of this sample's) as the vendor posts
        them, signed with the integration's secret."""
        raw = self.encode(body)
        content_type = "text/xml" if self.is_xml else "application/json"
        uri = uri or URI.format(self.integration)
        signed = vendor_headers(self.kind, raw, uri, self.secret() or "", content_type, NOW)
        return {**self.headers, **signed}, raw

    def adapter(self) -> Adapter:
        return adapter_for(self.kind, self.integration, self.options())


def load_samples(kind: str) -> list[Sample]:
    found = []
    for path in sorted((PUBLISHED / kind).iterdir()):
        name = f"{kind}/{path.name}"
        if path.suffix == ".xml":
            found.append(Sample(kind, name, path.read_text("utf-8")))
            continue
        data = json.loads(path.read_text("utf-8"))
        if isinstance(data, dict) and set(data) == {"headers", "body"}:
            found.append(Sample(kind, name, data["body"], dict(data["headers"])))
        else:
            found.append(Sample(kind, name, data))
    return found


# ------------------------------------------------------------------ delivering in process


@dataclass
class Outcome:
    """What the webhook makes of a body: refused (the status and detail a vendor is
    answered), or taken: the pieces' keys, each piece's events (canonical dicts) or the
    dead letter's error, and the events of a batch refused on receipt (index, error)."""

    status: int
    detail: str = ""
    keys: list[str] = field(default_factory=list)
    events: list[Any] = field(default_factory=list)  # per piece: list of dicts, or an error
    refused: list[tuple[int, str]] = field(default_factory=list)
    payloads: list[str] = field(default_factory=list)  # what the inbox keeps of each piece

    def letters(self) -> list[str]:
        """The errors of what becomes a dead letter (a refused batch's events too)."""
        found = [e for e in self.events if isinstance(e, str)]
        return found + [error for _, error in self.refused]

    def stored(self) -> list[Any]:
        """What the worker applies (events without the inbox's own keys and positions)."""
        return [
            e if isinstance(e, str) else [_without_ids(event) for event in e] for e in self.events
        ]


def _without_ids(event: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in event.items() if k != "id"}


class Defect(AssertionError):
    """Something other than a refusal or a dead letter came out of an adapter."""


def deliver(sample: Sample, body: Any) -> Outcome:
    """``body`` through the webhook's steps in this process: content type, signature, the cut
    (a 400 when the body cannot be cut, the events of a batch that cannot be identified set
    apart), then each stored piece read as a worker reads it. Anything but the errors those
    steps document raises :class:`Defect`."""
    adapter = sample.adapter()
    headers, raw = sample.request(body)
    request = WebhookRequest("POST", URI.format(sample.integration), headers, raw)
    try:
        adapter.verify(request, sample.secret(), NOW)
    except SignatureError as exc:
        return Outcome(exc.http_status, str(exc))
    except EventError as exc:
        return Outcome(400, str(exc))
    except Exception as exc:
        raise Defect(f"{sample.name}: verify raised {exc!r}") from exc
    try:
        pieces, refused = adapter.cut(request)
        adapter.acknowledge(pieces)
    except EventError as exc:
        return Outcome(400, str(exc))
    except Exception as exc:
        raise Defect(f"{sample.name}: the cut raised {exc!r}") from exc
    out = Outcome(200, refused=[(r.index, r.error) for r in refused])
    for seq, piece in enumerate(pieces, start=1):
        out.keys.append(piece.key)
        out.payloads.append(piece.payload())
        try:
            events = adapter.events_of(piece.payload(), piece.key, seq, f"inbox #{seq}", None)
        except EventError as exc:
            out.events.append(exc.detail)
            continue
        except Exception as exc:
            raise Defect(f"{sample.name}: the worker's read raised {exc!r}") from exc
        out.events.append([event_to_dict(event) for event in events])
    return out


NAMES_A_FIELD = re.compile(
    r'field "[^"]+"|body field \w+|no token field|OrganizationId|element <[^>]+>|<\w+>|body is not valid|body must'
)


def names_the_field(error: str) -> bool:
    """A refusal or dead letter names where the problem is (a key path, an XML element, or the
    body as a whole) — and is not a defect's ``internal error``."""
    return "internal error" not in error and bool(NAMES_A_FIELD.search(error))


# ------------------------------------------------------------------ mutations

Path_ = tuple[Any, ...]

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE = re.compile(r"^\+?[\d\s().-]{7,}$")
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
UNKNOWN_KEY = "x_fuzz_unknown"

UNICODE = st.sampled_from(
    [
        "Zoë Ångström",
        "李小龍",
        "עברית",
        "😀👩‍💻",
        "e\u0301",  # a combining accent
        "\u200b",  # a zero-width space
        "tab\tnew\nline",
        "\x00nul",
        "\u2028",
    ]
)
ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


def nodes(value: Any, path: Path_ = ()) -> list[Path_]:
    """Every place in a JSON value (not the root)."""
    found: list[Path_] = [path] if path else []
    if isinstance(value, dict):
        for key, item in value.items():
            found.extend(nodes(item, (*path, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(nodes(item, (*path, index)))
    return found


def at(value: Any, path: Path_) -> Any:
    for step in path:
        value = value[step]
    return value


def email_variants(email: str) -> st.SearchStrategy[str]:
    local, _, domain = email.partition("@")
    return st.sampled_from(
        [
            email.upper(),
            f"  {email}  ",
            f"{local.capitalize()}@{domain.upper()}",
            f"\t{email}\n",
            f"{local}+tag@{domain}",
            f"<{email}>",
            f"{email}.",
        ]
    )


def phone_variants(phone: str) -> st.SearchStrategy[str]:
    digits = re.sub(r"\D", "", phone)
    national = digits[-10:]
    return st.sampled_from(
        [
            f"({national[:3]}) {national[3:6]}-{national[6:]}",
            f"{national[:3]}.{national[3:6]}.{national[6:]}",
            f"00{digits}",
            f"+{digits} ext. 12",
            f"0{national[1:]}",
            f" +{digits[:2]} {digits[2:5]} {digits[5:]} ",
            digits,
            "anonymous",
            "+",
        ]
    )


def time_variants(value: str) -> st.SearchStrategy[str]:
    base = value[:19]
    return st.sampled_from(
        [
            base + "Z",
            base + "+00:00",
            base + ".123Z",
            base + ".123456+00:00",
            base + "+0000",
            base + "-05:00",
            base,
            base.replace("T", " ") + "Z",
            base[:10],
        ]
    )


def epoch_variants(value: float) -> st.SearchStrategy[Any]:
    seconds = value / 1000 if value > 10**11 else value
    return st.sampled_from([int(seconds), int(seconds * 1000), seconds + 0.5, str(int(seconds))])


def mutation_of(value: Any, in_dict: bool) -> st.SearchStrategy[tuple[str, Any]]:
    """The ways one value varies: (what was done, the new value; ``REMOVE`` to remove it)."""
    options: list[st.SearchStrategy[tuple[str, Any]]] = [
        st.just(("null", None)),
        st.just(("empty string", "")),
    ]
    if in_dict:
        options.append(st.just(("removed", REMOVE)))
    if isinstance(value, str):
        options.append(st.tuples(st.just("unicode"), UNICODE.map(lambda u: value + u)))
        options.append(st.tuples(st.just("long string"), st.integers(300, 6000).map(long_text)))
        number = _as_number(value)
        options.append(st.just(("string to number", number if number is not None else 42)))
        if EMAIL.match(value.strip()):
            options.append(st.tuples(st.just("odd email"), email_variants(value.strip())))
        if PHONE.match(value) and sum(c.isdigit() for c in value) >= 7:
            options.append(st.tuples(st.just("odd phone"), phone_variants(value)))
        if ISO.match(value):
            options.append(st.tuples(st.just("iso form"), time_variants(value)))
    elif isinstance(value, bool):
        options.append(st.just(("boolean to string", str(value).lower())))
    elif isinstance(value, int | float):
        options.append(st.just(("number to string", str(value))))
        if 10**8 < abs(value) < 10**14:
            options.append(st.tuples(st.just("epoch unit"), epoch_variants(float(value))))
    elif isinstance(value, dict):
        options.append(st.just(("object to list", [value])))
        options.append(st.tuples(st.just("object to scalar"), st.sampled_from(["x", 1, True])))
        options.append(
            st.tuples(st.just("unknown field"), ANY_JSON.map(lambda v: {**value, UNKNOWN_KEY: v}))
        )
    elif isinstance(value, list):
        options.append(st.just(("list to object", {"0": value[0]} if value else {})))
        options.append(st.tuples(st.just("list to scalar"), st.sampled_from(["x", 1])))
    return st.one_of(options)


REMOVE = object()


def long_text(length: int) -> str:
    """``length`` characters that do not repeat in any short stretch (text a database cannot
    compress much: what a size limit of an index meets)."""
    return "".join(chr(0x4E00 + (i * 7919) % 20000) for i in range(length))


def shape_of(value: Any) -> st.SearchStrategy[tuple[str, Any]] | None:
    """The other forms of a value that has one (email, phone number, time), else None."""
    if isinstance(value, str):
        if EMAIL.match(value.strip()):
            return st.tuples(st.just("odd email"), email_variants(value.strip()))
        if PHONE.match(value) and sum(c.isdigit() for c in value) >= 7:
            return st.tuples(st.just("odd phone"), phone_variants(value))
        if ISO.match(value):
            return st.tuples(st.just("iso form"), time_variants(value))
    elif (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and 10**8 < abs(value) < 10**14
    ):
        return st.tuples(st.just("epoch unit"), epoch_variants(float(value)))
    return None


def _as_number(value: str) -> float | int | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return int(number) if number.is_integer() and abs(number) < 2**53 else number


@st.composite
def json_mutation(draw: st.DrawFn, body: Any) -> tuple[list[str], Any]:
    """1–3 changes to a JSON body: what was done where, and the new body."""
    changed = copy.deepcopy(body)
    done: list[str] = []
    for _ in range(draw(st.integers(1, 3), label="changes")):
        places = nodes(changed)
        if not places:
            break
        # Half the time, a value real data varies in form: an email, a phone number, a time.
        shaped = [p for p in places if shape_of(at(changed, p)) is not None]
        if shaped and draw(st.booleans(), label="shaped"):
            path = draw(st.sampled_from(shaped), label="where")
            parent = at(changed, path[:-1])
            what, new = draw(shape_of(parent[path[-1]]), label="how")  # type: ignore[misc]
        else:
            path = draw(st.sampled_from(places), label="where")
            parent = at(changed, path[:-1])
            what, new = draw(mutation_of(parent[path[-1]], isinstance(parent, dict)), label="how")
        if new is REMOVE:
            del parent[path[-1]]
        else:
            parent[path[-1]] = new
        done.append(f"{what} at {'.'.join(map(str, path))}")
    return done, changed


SF_FIELD = re.compile(r"<(sf:\w+)>([^<]*)</\1>")


def xml_field_changes(field: re.Match[str]) -> st.SearchStrategy[tuple[str, str]]:
    """The ways one sObject field of an Outbound Message varies: (what, its new XML)."""
    name, value = field.group(1), field.group(2)

    def element(text: str) -> str:
        return f"<{name}>{_xml(text)}</{name}>"

    choices: list[st.SearchStrategy[tuple[str, str]]] = [
        st.just(("removed", "")),
        st.just(("empty", element(""))),
        st.just(("nil", f'<{name} xsi:nil="true"/>')),
        st.tuples(st.just("unicode"), UNICODE.map(lambda u: element(value + u))),
        st.just(("long string", element(long_text(5000)))),
        st.just(("unknown field", f"{field.group(0)}<sf:X_Fuzz__c>1</sf:X_Fuzz__c>")),
    ]
    shape = shape_of(value)
    if shape is not None:
        choices.append(shape.map(lambda changed: (changed[0], element(str(changed[1])))))
    return st.one_of(choices)


@st.composite
def xml_mutation(draw: st.DrawFn, body: str) -> tuple[list[str], str]:
    """1–3 changes to an Outbound Message's sObject fields (their text), or an unknown one."""
    done: list[str] = []
    for _ in range(draw(st.integers(1, 3), label="changes")):
        fields = list(SF_FIELD.finditer(body))
        if not fields:
            break
        match = draw(st.sampled_from(fields), label="where")
        what, new = draw(xml_field_changes(match), label="how")
        body = body[: match.start()] + new + body[match.end() :]
        done.append(f"{what} at {match.group(1)}")
    return done, body


def _xml(text: str) -> str:
    # XML 1.0 holds neither NUL nor most control characters: a real sender leaves them out.
    text = "".join(c for c in text if c in "\t\n" or ord(c) >= 0x20)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mutations(sample: Sample) -> st.SearchStrategy[tuple[list[str], Any]]:
    if sample.is_xml:
        return xml_mutation(sample.body)
    return json_mutation(sample.body)


def unknown_field_added(sample: Sample) -> st.SearchStrategy[tuple[str, Any]]:
    """The sample with one unknown field added to one of its objects (a vendor adding a field
    to its payload): never changes what leadsync stores."""

    def add(path: Path_, value: Any) -> tuple[str, Any]:
        changed = copy.deepcopy(sample.body)
        target = at(changed, path) if path else changed
        target[UNKNOWN_KEY] = value
        return ".".join(map(str, path)) or "(body)", changed

    def add_xml(match: re.Match[str], value: str) -> tuple[str, Any]:
        added = f"<sf:X_Fuzz__c>{_xml(value)}</sf:X_Fuzz__c>"
        return match.group(1), sample.body[: match.end()] + added + sample.body[match.end() :]

    if sample.is_xml:
        fields = list(SF_FIELD.finditer(sample.body))
        return st.builds(add_xml, st.sampled_from(fields), st.text(max_size=12))
    objects = [p for p in [(), *nodes(sample.body)] if isinstance(at(sample.body, p), dict)]
    return st.builds(add, st.sampled_from(objects), ANY_JSON)


# ------------------------------------------------------------------ variations that mean the same

#: Fields that only label or point at something, by kind, as key paths (``*``: any list
#: index; docs/WEBHOOKS.md, "Field types"): a value of another type than a string reads as the
#: field absent (``src/leadsync/sources/forms.py``), never as a dead letter.
DECORATIVE: dict[str, tuple[tuple[str, ...], ...]] = {
    "aircall": (
        ("data", "voicemail"),
        ("data", "recording"),
        ("data", "asset"),
        ("data", "phone_numbers", "*", "label"),
        ("data", "name"),  # a user's or a line's display name (a call's data has none)
        ("data", "numbers", "*", "name"),
    ),
    "calendly": (
        ("payload", "scheduled_event", "location"),
        ("payload", "scheduled_event", "location", "type"),
        ("payload", "scheduled_event", "location", "location"),
        ("payload", "new_invitee"),
    ),
    "pipedrive": tuple(
        (root, field, "*", "label")
        for root in ("current", "previous", "data")
        for field in ("email", "phone", "emails", "phones")
    ),
    "outreach": (("data", "attributes", "recordingUrl"),),
    "salesloft": (
        ("recordings",),
        ("recordings", "*"),
        ("recordings", "*", "url"),
        ("recording",),
        ("recording", "url"),
    ),
}
#: Values of another type than a string.
ODD_VALUES = st.sampled_from([5, 0, True, False, 4.5, {"url": "x"}, ["x"], {}, []])


def _matches(path: Path_, pattern: tuple[str, ...]) -> bool:
    return len(path) == len(pattern) and all(
        (p == "*" and isinstance(step, int)) or p == step
        for step, p in zip(path, pattern, strict=True)
    )


def decorative_places(sample: Sample) -> list[Path_]:
    """The places of :data:`DECORATIVE` fields in a sample's JSON body."""
    patterns = DECORATIVE.get(sample.kind, ())
    if sample.is_xml or not patterns:
        return []
    return [p for p in nodes(sample.body) if any(_matches(p, pattern) for pattern in patterns)]


def odd_decorative(sample: Sample) -> st.SearchStrategy[tuple[str, Any, Any]]:
    """(what, the body with that field given an odd value, the body without the field) for
    one of the sample's :data:`DECORATIVE` fields (there must be one)."""

    def build(path: Path_, odd: Any) -> tuple[str, Any, Any]:
        changed, without = copy.deepcopy(sample.body), copy.deepcopy(sample.body)
        at(changed, path[:-1])[path[-1]] = odd
        del at(without, path[:-1])[path[-1]]
        return f"{'.'.join(map(str, path))} = {odd!r}", changed, without

    return st.builds(build, st.sampled_from(decorative_places(sample)), ODD_VALUES)


def plain_values(sample: Sample) -> list[Path_]:
    """The places of the flags and numbers in a sample's JSON body."""
    if sample.is_xml:
        return []
    return [p for p in nodes(sample.body) if isinstance(at(sample.body, p), bool | int | float)]


def other_encodings(value: bool | float) -> list[Any]:
    """The plain other forms of a flag or a number a vendor may send."""
    if isinstance(value, bool):
        return [str(value).lower(), str(value).upper(), int(value), f" {int(value)} "]
    return [str(value)]


#: A Pipedrive v1 body renders its object twice (``current``, ``previous``); a vendor writes
#: both one way, so a value re-encoded in one is re-encoded in the other where it is the same.
TWIN_ROOTS = {"current": "previous", "previous": "current"}


def re_encoded(sample: Sample) -> st.SearchStrategy[tuple[str, Any]]:
    """(what, the body) with one flag or number written in another plain form
    (:func:`other_encodings`), which means the same (there must be one)."""

    def build(path: Path_, choice: int) -> tuple[str, Any]:
        value = at(sample.body, path)
        forms = other_encodings(value)
        new = forms[choice % len(forms)]
        changed = copy.deepcopy(sample.body)
        places = [path]
        if sample.kind == "pipedrive" and path[0] in TWIN_ROOTS:
            twin = (TWIN_ROOTS[path[0]], *path[1:])
            with suppress(KeyError, IndexError, TypeError):  # the twin may lack the path
                if at(sample.body, twin) == value and type(at(sample.body, twin)) is type(value):
                    places.append(twin)
        for place in places:
            at(changed, place[:-1])[place[-1]] = new
        return f"{value!r} as {new!r} at {'.'.join(map(str, path))}", changed

    return st.builds(build, st.sampled_from(plain_values(sample)), st.integers(0, 3))
