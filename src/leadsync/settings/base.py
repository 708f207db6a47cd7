"""What every settings model shares: the base class, the field types, and the problems.

Every model of the workspace file derives from :class:`SettingsModel`: immutable, unknown keys
refused, checks across keys that never hide another mistake, and the file's short form when
dumped with ``exclude_unset`` (what :mod:`leadsync.settings.export` writes). Problems are
``(key path, message)`` pairs; :mod:`leadsync.settings.errors` puts them at ``FILE:LINE``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    ModelWrapValidatorHandler,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    model_serializer,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_core import InitErrorDetails, PydanticCustomError, to_jsonable_python

from leadsync.sources.options import OWN_ERROR, Id, Name, StrictBool, own_error, show
from leadsync.values import valid_email

__all__ = [
    "Bounds",
    "INTEGRATION_NAME_RE",
    "OWN_ERROR",
    "OWN_PROBLEMS",
    "PathPart",
    "SECRET_ENV_RE",
    "Email",
    "ExternalId",
    "Id",
    "OwnerId",
    "IntegrationName",
    "KeyPath",
    "Name",
    "Number",
    "OwnerEmail",
    "OutcomeName",
    "SettingsModel",
    "StrictBool",
    "Text",
    "WRITTEN",
    "WholeNumber",
    "Written",
    "entries",
    "env_var_name",
    "format_path",
    "given_fields",
    "plainly_a_name",
    "id_text",
    "key_text",
    "listing",
    "own_error",
    "problems_error",
    "show",
    "with_problems",
    "written_in",
]

SECRET_ENV_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")

INTEGRATION_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
"""Integration names appear in URLs and table rows, so they are kept URL- and shell-safe."""

MAX_LISTED = 20
"""Cap on the known values a message lists, so a large workspace still gets a readable line."""

# Error types of our own (with OWN_ERROR); their messages are final text, never reworded.
OWN_PROBLEMS = "leadsync_problems"

PathPart = str | int
KeyPath = tuple[PathPart, ...]

WRITTEN = "leadsync_written"
"""The validation context's key for :class:`Written`."""


@dataclass(frozen=True, slots=True)
class Written:
    """What of the data being validated a person writes now (a file, an API body, the
    console's form), as opposed to what the workspace stored earlier and reads back.

    A few checks guard what is written and only that: an owner's email, and a fallback
    owner who is inactive. A value the workspace already holds — an
    owner pulled from HubSpot or stored by an older version, a fallback owner archived
    since — stays readable, so every command keeps working and the health checks say what
    to fix. Validation without this context (a model built in code from stored rows) makes
    none of these checks."""

    # The owners in the data are written (a file's owners:), not read back from the workspace.
    owners: bool = True
    # The integrations written; None: every integration in the data.
    integrations: frozenset[str] | None = None

    @classmethod
    def only(cls, integrations: Iterable[str]) -> Written:
        """These integrations are written; the owners and the other integrations are the
        workspace's as stored."""
        return cls(owners=False, integrations=frozenset(integrations))

    def integration(self, name: str) -> bool:
        return self.integrations is None or name in self.integrations

    def context(self) -> dict[str, Any]:
        return {WRITTEN: self}


def written_in(context: Any) -> Written | None:
    """The :class:`Written` of a validation context (None: nothing is written)."""
    found = context.get(WRITTEN) if isinstance(context, dict) else None
    return found if isinstance(found, Written) else None


# ------------------------------------------------------------------------ helpers


def listing(values: Any, limit: int = MAX_LISTED) -> str:
    items = [str(v) for v in values]
    if len(items) > limit:
        return ", ".join(items[:limit]) + f", ... ({len(items) - limit} more)"
    return ", ".join(items)


def problems_error(problems: list[tuple[KeyPath, str]]) -> PydanticCustomError:
    """Several problems found by one model check, each at its own key path below the model."""
    summary = "; ".join(f"{format_path(path) or '(here)'}: {msg}" for path, msg in problems)
    return PydanticCustomError(
        OWN_PROBLEMS, "{message}", {"message": summary, "problems": problems}
    )


def key_text(key: Any) -> str:
    """A mapping key as text in a key path; YAML spellings for the odd non-string keys."""
    if isinstance(key, bool) or key is None:
        return show(key)
    return str(key)


def format_path(path: KeyPath) -> str:
    """``a.b[2].c``; keys that would read ambiguously are quoted (``map["u.9"]``)."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z0-9_-]+", part):
            out += f".{part}" if out else part
        else:
            out += '["' + part.replace("\\", "\\\\").replace('"', '\\"') + '"]'
    return out


def with_problems(
    exc: ValidationError, problems: list[tuple[KeyPath, str]], title: str, data: Any
) -> ValidationError:
    """The errors pydantic found, and the problems of the checks across keys, as one error."""
    details: list[InitErrorDetails] = []
    for error in exc.errors(include_url=False):
        context = dict(error.get("ctx") or {})
        context.setdefault("message", error["msg"])
        details.append(
            InitErrorDetails(
                type=PydanticCustomError(error["type"], "{message}", context),
                loc=error["loc"],
                input=error["input"],
            )
        )
    details.append(InitErrorDetails(type=problems_error(problems), loc=(), input=data))
    return ValidationError.from_exception_data(title, details)


@dataclass(frozen=True)
class Bounds:
    """What a number setting allows, read from its model's field (one reading for the
    file's messages and the console's fields): ``given`` its bounds by pydantic's names
    (``ge``, ``gt``, ``le``, ``lt``), the lower first."""

    given: dict[str, float]

    @classmethod
    def of_field(cls, field: FieldInfo) -> Bounds:
        return cls(
            {
                key: getattr(item, key)
                for key in ("ge", "gt", "le", "lt")
                for item in field.metadata
                if getattr(item, key, None) is not None
            }
        )

    @classmethod
    def of(cls, model: type[BaseModel], name: str) -> Bounds:
        return cls.of_field(model.model_fields[name])

    @property
    def low(self) -> float | None:
        return self.given.get("gt", self.given.get("ge"))

    @property
    def low_open(self) -> bool:
        return "gt" in self.given

    @property
    def high(self) -> float | None:
        return self.given.get("le", self.given.get("lt"))

    def words(self) -> str:
        """In words: "From 0 to 36,500." or "More than 0, up to 365."."""
        low, high = (_said(n) if n is not None else None for n in (self.low, self.high))
        if self.low_open:
            return f"More than {low}" + (f", up to {high}." if high else ".")
        return f"From {low} to {high}." if high else f"{low} or more."


def _said(number: float) -> str:
    """A bound for people: ``1,000,000`` (never ``1e+06``), ``0.5``."""
    return f"{int(number):,}" if float(number).is_integer() else f"{number:,}"


def given_fields(value: Any) -> Mapping[str, Any] | None:
    """A mapping as given (YAML, JSON), or the fields set on a model built in code; None for
    anything else. The checks across keys read data through this, before it is validated."""
    if isinstance(value, dict):
        return value
    if isinstance(value, BaseModel):
        return {name: getattr(value, name) for name in value.model_fields_set}
    return None


def entries(value: Any) -> list[Any]:
    """The items of a list as given; nothing for anything else (its own error says so)."""
    return list(value) if isinstance(value, list | tuple) else []


def id_text(value: Any) -> str | None:
    """An id (or name) as validation will make it, or None when it is not one."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    return str(value).strip() or None


def _check_email(value: Any) -> Any:
    """An email address as :func:`leadsync.values.valid_email` takes it; kept as written."""
    if isinstance(value, str) and not valid_email(value):
        rule = "no spaces" if len(value.split()) > 1 else "one '@'"
        raise own_error(f"expected an email address with {rule}; got {show(value)}")
    return value


def _check_owner_email(value: Any, info: ValidationInfo) -> Any:
    """An owner's email is checked where it is written; as stored, it is taken as it is (an
    owner from HubSpot or from an older version with an address the check refuses is kept,
    never matched by email, and reported: :mod:`leadsync.rules.workspace`)."""
    written = written_in(info.context)
    return _check_email(value) if written is not None and written.owners else value


# The starts of well-known tokens and keys that are also valid variable names (Stripe's
# keys and webhook secrets, GitHub's, Shopify's and npm's tokens, AWS access keys): such a
# value is the secret, never the name of a variable.
_SECRET_PREFIX_RE = re.compile(
    r"(sk|rk|pk)_(live|test)_|whsec_|gh[pousr]_|github_pat_|shp(at|ss|ca|pa)_|npm_|xapp_"
    r"|(AKIA|ASIA)[A-Z0-9]{16}$"
)


def _looks_like_a_secret(value: str) -> bool:
    """A valid variable name that is a token all the same: a well-known token's start, or a
    part (between ``_``) of 16 characters or more that is random text — digits only, hex
    digits of one case (:func:`_hex_digest`), or switching between lowercase, uppercase and
    digits at least 4 times, as a base62 token does (a name's words, ``AIRCALL2024_TOKEN``,
    switch once or twice)."""
    if _SECRET_PREFIX_RE.match(value):
        return True
    for part in value.split("_"):
        if len(part) < 16:
            continue
        kinds = ["d" if c.isdigit() else "u" if c.isupper() else "l" for c in part]
        switches = sum(a != b for a, b in zip(kinds, kinds[1:], strict=False))
        if part.isdigit() or switches >= 4 or _hex_digest(part):
            return True
    return False


def _hex_digest(part: str) -> bool:
    """Hex digits of one case, letters and digits both: a digest or a key, however its
    letters and digits happen to group (``deadbeefcafebabe0123456789abcdef`` switches once)."""
    hexes = set("0123456789abcdef" if part.islower() else "0123456789ABCDEF")
    return set(part) <= hexes and any(c.isdigit() for c in part) and not part.isdigit()


def plainly_a_name(value: str) -> bool:
    """``value`` is a variable's name as a person writes one now, and nothing like a token:
    what a form holding the name of a secret's variable may keep (a form kept through a
    sign-in, :mod:`leadsync.web.drafts`); anything else may be the secret itself."""
    return bool(SECRET_ENV_RE.fullmatch(value)) and not _looks_like_a_secret(value)


def env_var_name(value: Any, example: str, info: ValidationInfo) -> Any:
    """The name of the environment variable that holds a secret (never the secret), checked
    before pydantic reads it as text: a problem never shows the value, which is often the
    secret itself (a number too: YAML reads a numeric token as one). Where a person writes
    it now (:class:`Written`), a value that is a name only in form is refused too: a line
    break after it, or a token that happens to be letters, digits and ``_``. As stored it is
    taken as it is, so a workspace saved earlier stays readable."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        # At the key (not as a value of it): the file's text of a number is never quoted.
        raise problems_error([((), _not_a_name("a number (not shown)", example))])
    if not isinstance(value, str):
        return value  # None (no secret), or pydantic's "expected a string; got a list"
    written = written_in(info.context) is not None
    shown = f"a value of {len(value)} characters (not shown)"
    if not SECRET_ENV_RE.match(value) or (written and not SECRET_ENV_RE.fullmatch(value)):
        raise own_error(_not_a_name(shown, example))
    if written and _looks_like_a_secret(value):
        raise own_error(
            f"must be the name of an environment variable, not the secret: {shown} looks "
            "like a token or key itself; put it in an environment variable and name that "
            f"variable here (e.g. {example})"
        )
    return value


def _not_a_name(shown: str, example: str) -> str:
    return (
        f"{shown} is not an environment variable name: if it is the secret itself, put it "
        "in an environment variable and name that variable here; allowed: letters, digits "
        f"and _, not starting with a digit (e.g. {example})"
    )


def _check_integration_name(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        # YAML reads an unquoted 123 as a number: the name it spells may be a good one.
        raise own_error(
            f"{show(value)} is a number, not a name; allowed: a name as text (in YAML, "
            "quoted) of lowercase letters, digits, '_' and '-'"
        )
    if not isinstance(value, str) or not INTEGRATION_NAME_RE.fullmatch(value):
        raise own_error(
            f"{show(value)} is not a valid integration name; allowed: lowercase letters, "
            "digits, '_' and '-', starting with a letter or digit, at most 63 characters"
        )
    return value


def _no_text(error_type: str) -> BeforeValidator:
    """Refuse what pydantic's lax mode would read as a number: text (``'3'``, quoted in
    YAML or JSON) and ``true``/``false``; an int or a float goes on to the field's own
    checks (a whole float is a whole number, as ``3.0`` always was). The error is pydantic's
    own type error (``int_type``, ``float_type``), which :mod:`.errors` words with what was
    given and what is allowed. A form's fields, text all, are numbers before they get here
    (:mod:`leadsync.ops.settings_form`)."""

    def refuse_text(value: Any) -> Any:
        if isinstance(value, str | bytes | bool):
            raise PydanticCustomError(error_type, "not a number: {value}", {"value": value})
        return value

    return BeforeValidator(refuse_text)


WholeNumber = Annotated[int, _no_text("int_type")]
"""A whole number as written (``3``, not ``'3'`` nor ``true``); bounds are the field's."""
Number = Annotated[float, _no_text("float_type")]
"""A number as written (``2.5`` or ``3``, not ``'2.5'`` nor ``true``)."""

# The longest text the store keeps of each (store/schema.py): longer is refused at its key,
# as an event's is at its field, never by the database (PostgreSQL's varchar would refuse it
# at the write; SQLite would keep it).
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
Email = Annotated[
    str, BeforeValidator(_check_email), StringConstraints(strip_whitespace=True, max_length=320)
]
OwnerEmail = Annotated[
    str,
    BeforeValidator(_check_owner_email),
    StringConstraints(strip_whitespace=True, max_length=320),
]
OwnerId = Annotated[Id, StringConstraints(max_length=64)]
"""An owner's id (a CRM owner: HubSpot's are numbers)."""
ExternalId = Annotated[Id, StringConstraints(max_length=200)]
"""An external user's id at its tool."""
IntegrationName = Annotated[str, BeforeValidator(_check_integration_name)]
OutcomeName = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=1)]


def _says(field: FieldInfo, value: Any) -> bool:
    """Whether a dumped field says anything in the file's short form: a required one does;
    one whose default is null unless it is null; else unless it is an empty section or
    list."""
    if field.is_required():
        return True
    if field.default is None:
        return value is not None
    return value not in ({}, [])


class SettingsModel(BaseModel):
    """Base of every settings model: immutable, and unknown keys are errors (typos matter).

    Checks that relate several keys (a policy and its target, owners a team names) are
    :meth:`_problems_across_keys`: they read the data as given and run whether or not its
    fields are valid, so one mistake never hides another and a file's problems are all
    reported at once.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    # Container keys where an empty YAML value (``users:`` with everything commented out)
    # means "use the default" rather than a type error.
    _null_is_default: ClassVar[frozenset[str]] = frozenset()

    # Fields the file's short form shows even at their default (a dedupe rule's window).
    _always_shown: ClassVar[tuple[str, ...]] = ()

    @model_serializer(mode="wrap")
    def _short_form(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> Any:
        """With ``exclude_unset`` (the keys written, a default's value too: what
        :mod:`leadsync.settings.export` writes) or ``exclude_defaults``, the shape people
        write: a field whose default is a container (a section, a list; not None, not
        required) and that dumps empty is left out like a default (an integration's ``users``
        indexed by its vendor's ids is still "nothing set"), so is a null where null is the
        default (``null`` means "not set"), and the :attr:`_always_shown` fields are there.
        Other dumps are pydantic's own."""
        data = handler(self)
        if not (info.exclude_unset or info.exclude_defaults) or not isinstance(data, dict):
            return data
        fields = type(self).model_fields
        shown = {
            name: to_jsonable_python(getattr(self, name))
            if name in self._always_shown and name not in data
            else data[name]
            for name in fields
            if name in data or name in self._always_shown
        }
        return self._shorter(
            {name: value for name, value in shown.items() if _says(fields[name], value)}
        )

    def _shorter(self, data: dict[str, Any]) -> Any:
        """The short form of this model's dump; a model with a shorthand overrides it."""
        return data

    @model_validator(mode="before")
    @classmethod
    def _drop_null_containers(cls, data: Any) -> Any:
        if isinstance(data, dict) and cls._null_is_default:
            return {k: v for k, v in data.items() if not (v is None and k in cls._null_is_default)}
        return data

    @classmethod
    def _problems_across_keys(cls, data: Mapping[str, Any]) -> Iterator[tuple[KeyPath, str]]:
        """Problems between keys of this mapping, at key paths below it. ``data`` is not
        validated yet: a value of the wrong shape is skipped (its own error says what is
        wrong), and nothing is reported that follows only from another mistake."""
        return iter(())

    @classmethod
    def _problems_as_written(
        cls, data: Mapping[str, Any], written: Written
    ) -> Iterator[tuple[KeyPath, str]]:
        """Problems between keys that are problems only in what is written now (see
        :class:`Written`); read like :meth:`_problems_across_keys`."""
        return iter(())

    @model_validator(mode="wrap")
    @classmethod
    def _every_problem(
        cls, data: Any, handler: ModelWrapValidatorHandler[Any], info: ValidationInfo
    ) -> Any:
        problems = list(cls._problems_across_keys(data)) if isinstance(data, dict) else []
        written = written_in(info.context)
        if written is not None and isinstance(data, dict):
            problems.extend(cls._problems_as_written(data, written))
        try:
            result = handler(data)
        except ValidationError as exc:
            if not problems:
                raise
            raise with_problems(exc, problems, cls.__name__, data) from None
        if problems:
            raise problems_error(problems)
        return result
