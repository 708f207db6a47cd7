"""The settings of one integration: user mapping, ownership, activities, associations,
the ``vendor:`` options of its kind, and a staged rollout of proposed settings.

The engine and the rules read these per event, so what they ask often (a strategy per record
type, a user's owner by the vendor's form of its id) is resolved once when the settings are
built.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Annotated, Any, Union

from pydantic import (
    BeforeValidator,
    Field,
    GetJsonSchemaHandler,
    PrivateAttr,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from leadsync.model import (
    CALL_OUTCOMES,
    EMAIL_OUTCOMES,
    MEETING_OUTCOMES,
    ActivityType,
    AssociationMode,
    CompanyAssociation,
    DealAssociation,
    RecordType,
    Strategy,
)
from leadsync.settings.base import (
    KeyPath,
    Number,
    OutcomeName,
    SettingsModel,
    StrictBool,
    WholeNumber,
    entries,
    env_var_name,
    given_fields,
    key_text,
    listing,
    own_error,
    problems_error,
    show,
    with_problems,
)
from leadsync.settings.users import (
    DirectoryUser,
    UnmappedSettings,
    UserMappingSettings,
    map_keys_naming_one_rep,
)
from leadsync.sources import KINDS, adapter_class
from leadsync.sources.options import OPTION_MODELS, NoOptions, VendorOptions
from leadsync.values import read_phone, valid_region

__all__ = [
    "KNOWN_KINDS",
    "ActivitySettings",
    "Ambiguity",
    "AmbiguitySettings",
    "CounterpartPolicy",
    "UnknownCounterpartSettings",
    "ActivityTypeSettings",
    "AssociationSettings",
    "DirectoryUser",
    "IntegrationSettings",
    "OwnershipSettings",
    "ProposedSettings",
    "RolloutSettings",
    "UnmappedSettings",
    "UserMappingSettings",
    "kinds_taking",
    "own_number_problem",
]

KNOWN_KINDS: tuple[str, ...] = KINDS
"""Vendor kinds that have an adapter; an integration of any other kind could never run."""


class OwnershipSettings(SettingsModel):
    """Which owner wins when the integration and the CRM disagree, per record type."""

    default: Strategy = Strategy.FILL_IF_EMPTY
    contact: Strategy | None = None
    company: Strategy | None = None
    deal: Strategy | None = None
    ticket: Strategy | None = None
    lead: Strategy | None = None
    # At most a century: "always" in practice, and a number a date can still be added to.
    protect_manual_days: float = Field(
        default=0.0, ge=0, le=36_500, strict=True, allow_inf_nan=False
    )
    assign_on_activity: StrictBool = False

    _by_type: dict[str, Strategy] = PrivateAttr(default_factory=dict)

    def model_post_init(self, context: Any, /) -> None:
        # Asked once per event by the engine: resolve the per-type fallbacks once.
        for record_type in RecordType:
            specific: Strategy | None = getattr(self, record_type._value_)
            self._by_type[record_type._value_] = specific or self.default

    def strategy_for(self, record_type: RecordType | str) -> Strategy:
        """The per-type strategy when set, else the default."""
        return self._by_type[record_type]


class ActivityTypeSettings(SettingsModel):
    """Whether one activity type is created, and which of them to skip."""

    enabled: StrictBool = True
    min_duration_s: float | None = Field(
        default=None, ge=0, le=86_400, strict=True, allow_inf_nan=False
    )
    skip_outcomes: tuple[OutcomeName, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _bool_shorthand(cls, data: Any) -> Any:
        # `meeting: true` is the common case; it means {enabled: true}.
        if isinstance(data, bool):
            return {"enabled": data}
        if not isinstance(data, dict | ActivityTypeSettings):
            raise own_error(f"expected true, false or a mapping; got {show(data)}")
        return data

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        # The shorthand is documented as what it is: what GET gives back, PUT takes.
        settings = handler.resolve_ref_schema(handler(core_schema))
        shorthand = {"type": "boolean", "description": "true/false: {enabled: true/false}"}
        return {"anyOf": [dict(settings), shorthand], "title": settings.get("title", cls.__name__)}

    def _shorter(self, data: dict[str, Any]) -> Any:
        # Nothing but `enabled` is set: `true`/`false` says it all; else `enabled` comes first.
        if set(data) <= {"enabled"}:
            return self.enabled
        return {"enabled": self.enabled, **data}


_OUTCOMES: dict[ActivityType, tuple[str, ...]] = {
    ActivityType.CALL: CALL_OUTCOMES,
    ActivityType.EMAIL: EMAIL_OUTCOMES,
    ActivityType.MEETING: MEETING_OUTCOMES,
}


class ActivitySettings(SettingsModel):
    """Per activity type settings; every type is created unless disabled."""

    call: ActivityTypeSettings = ActivityTypeSettings()
    email: ActivityTypeSettings = ActivityTypeSettings()
    meeting: ActivityTypeSettings = ActivityTypeSettings()
    note: ActivityTypeSettings = ActivityTypeSettings()
    task: ActivityTypeSettings = ActivityTypeSettings()

    @classmethod
    def _problems_across_keys(cls, data: Mapping[str, Any]) -> Iterator[tuple[KeyPath, str]]:
        # Durations and outcomes exist only on some types; saying them elsewhere is a mistake.
        for activity_type in ActivityType:
            name = activity_type.value
            settings = given_fields(data.get(name))
            if settings is None:
                continue  # absent, the true/false shorthand, or a mistake of its own
            duration = settings.get("min_duration_s")
            if duration is not None and activity_type is not ActivityType.CALL:
                yield (name, "min_duration_s"), f"not allowed for {name} activities; allowed: call"
            outcomes = entries(settings.get("skip_outcomes"))
            allowed = _OUTCOMES.get(activity_type)
            if allowed is None:
                if outcomes:
                    yield (
                        (name, "skip_outcomes"),
                        f"not allowed for {name} activities; allowed: "
                        + ", ".join(t.value for t in _OUTCOMES),
                    )
                continue
            for index, outcome in enumerate(outcomes):
                word = outcome.strip().lower() if isinstance(outcome, str) else ""
                if word and word not in allowed:
                    yield (
                        (name, "skip_outcomes", index),
                        f"{word!r} is not allowed; allowed: {', '.join(allowed)}",
                    )

    def for_type(self, activity_type: ActivityType | str) -> ActivityTypeSettings:
        settings: ActivityTypeSettings = getattr(self, activity_type)
        return settings


_PRIMARY_TYPES = (RecordType.CONTACT, RecordType.LEAD)


class AssociationSettings(SettingsModel):
    """Which records an activity is attached to."""

    mode: AssociationMode = AssociationMode.AUTOMATIC
    primary: RecordType = RecordType.CONTACT
    company: CompanyAssociation = CompanyAssociation.PRIMARY
    deal: DealAssociation = DealAssociation.MOST_RECENT_OPEN
    max_deals: WholeNumber = Field(default=5, ge=1, le=100)

    @field_validator("primary")
    @classmethod
    def _person_record(cls, value: RecordType) -> RecordType:
        # Activities hang off a person; companies and deals are reached through them.
        if value not in _PRIMARY_TYPES:
            raise own_error(
                f"{show(value.value)} is not allowed; allowed: "
                + ", ".join(t.value for t in _PRIMARY_TYPES)
            )
        return value


def _phone_text(value: Any) -> Any:
    """A phone number is text; YAML reads ``+442079460000`` as a whole number, which people
    mean as the number's text."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise own_error(f"expected a phone number (text); got {show(value)}")
    return str(value)


PhoneText = Annotated[str, BeforeValidator(_phone_text), StringConstraints(strip_whitespace=True)]


def read_own_numbers(data: Mapping[str, Any]) -> Iterator[tuple[int, Any, str | None, str | None]]:
    """An integration's ``own_numbers`` as written (``data``: its settings as given), each
    as (index, given, :func:`own_number_problem`'s problem and E.164 number); none while its
    ``region`` is not one (the region's own error), nor one of another type (its own)."""
    region = data.get("region")
    region = region.strip().upper() if isinstance(region, str) else None
    if region is not None and not valid_region(region):
        return
    for index, given in enumerate(entries(data.get("own_numbers"))):
        if not isinstance(given, bool) and isinstance(given, str | int):
            yield index, given, *own_number_problem(str(given), region)


def own_number_problem(given: str, region: str | None) -> tuple[str | None, str | None]:
    """Why ``given`` is not one of the company's own numbers as ``own_numbers`` takes them
    (None: it is), and its E.164 form: a phone number, international or national in the
    integration's ``region``."""
    allowed = "allowed: a phone number, +44 20 7946 0000 (a national one with region: set)"
    phone = read_phone(given, region)
    if phone is None:
        return f"{show(given)} is not a phone number; {allowed}", None
    if phone.number is None:
        where = f"in {region}" if region else "without region: (national numbers need it)"
        return f"{show(given)} does not read as a phone number {where}; {allowed}", None
    return None, phone.number


def kinds_taking(option: str) -> tuple[str, ...]:
    """The kinds whose adapter's options model has the ``vendor:`` option, in the order of
    :data:`KNOWN_KINDS` (every adapter is imported: this is for messages and tests)."""
    return tuple(
        kind for kind in KNOWN_KINDS if option in adapter_class(kind).options_model.model_fields
    )


def _option_problem(kind: str, model: type[VendorOptions], option: Any) -> str:
    """Why ``option`` is refused in the ``vendor:`` block of an integration of ``kind``."""
    kinds = kinds_taking(option) if isinstance(option, str) else ()
    if kinds:
        return f"not allowed for kind {kind}; only for {', '.join(kinds)}"
    if model.model_fields:
        return f"unknown key; allowed: {listing(model.model_fields)}"
    return f"unknown key; kind {kind} takes no vendor options"


if TYPE_CHECKING:
    AnyVendorOptions = VendorOptions
else:
    # The schema of ``vendor:`` is one of the kinds' models (anyOf in the OpenAPI document);
    # which one is the kind's, chosen by IntegrationSettings._options_of_kind.
    AnyVendorOptions = Union[OPTION_MODELS]  # noqa: UP007


class CounterpartPolicy(enum.StrEnum):
    HOLD = "hold"
    CREATE = "create"
    SKIP = "skip"


class UnknownCounterpartSettings(SettingsModel):
    """An activity whose other party is only a phone number that no contact has: ``hold``
    it unattached until a contact with that number appears (then it attaches; after
    ``hold_days`` it goes to the review queue), ``create`` a contact with the number and
    nothing else, or ``skip`` it (counted with its reason)."""

    policy: CounterpartPolicy = CounterpartPolicy.HOLD
    hold_days: float = Field(default=7.0, gt=0, le=365, strict=True, allow_inf_nan=False)


class Ambiguity(enum.StrEnum):
    QUEUE = "queue"
    SKIP = "skip"


class AmbiguitySettings(SettingsModel):
    """When the rules find several equally good answers, the engine never picks one: it
    applies what is certain and either puts the open question in the review queue
    (``queue``) or leaves it unanswered with its reason (``skip``).

    ``number``: a counterpart's number several contacts have; ``email``: an email several
    contacts have; ``deal``: several equally recent open deals where one is wanted;
    ``owner``: a rep's email that several active owners have."""

    number: Ambiguity = Ambiguity.QUEUE
    email: Ambiguity = Ambiguity.QUEUE
    deal: Ambiguity = Ambiguity.QUEUE
    owner: Ambiguity = Ambiguity.QUEUE


class ProposedSettings(SettingsModel):
    """The sections a staged rollout may change (``rollout.settings``); absent ones stay."""

    users: UserMappingSettings | None = None
    ownership: OwnershipSettings | None = None
    activities: ActivitySettings | None = None
    associations: AssociationSettings | None = None


class RolloutSettings(SettingsModel):
    """Proposed settings applied to ``percent`` % of records, chosen by record id (stable:
    the same record is always in or out); ``leadsync rollout promote`` makes them current."""

    percent: Number = Field(gt=0, le=100)
    settings: ProposedSettings


class IntegrationSettings(SettingsModel):
    """Everything one connected tool is allowed to do.

    ``secret_env`` names the environment variable that holds the webhook secret (a token, a
    signing key, ``user:password`` for Pipedrive); the secret itself is never in the file,
    the database, an export or a message.
    """

    _null_is_default = frozenset(
        {
            "users",
            "ownership",
            "activities",
            "associations",
            "vendor",
            "unknown_counterpart",
            "ambiguous",
            "own_numbers",
        }
    )

    kind: str = Field(json_schema_extra={"enum": list(KNOWN_KINDS)})
    secret_env: str | None = None
    # The country national phone numbers from this tool are read in (ISO 3166, e.g. GB).
    region: str | None = None
    # The company's own numbers the admin declares (lines, reps' own phones): a call to one
    # is an internal call, never a stranger's number. Read as phone numbers in ``region``.
    own_numbers: tuple[PhoneText, ...] = Field(
        default=(),
        description="The company's own phone numbers (its lines, its reps' own phones), read "
        "like a call's numbers: E.164 (+44 20 7946 0100), or national in `region`. A call to "
        "one is an internal call: on no contact or lead, never held, asked about or made a "
        "contact of. The lines the tool names itself are learned without being listed here "
        "(GET /api/integrations/{name}/lines lists both).",
    )
    vendor: AnyVendorOptions = Field(default_factory=NoOptions, validate_default=True)
    users: UserMappingSettings = UserMappingSettings()
    ownership: OwnershipSettings = OwnershipSettings()
    activities: ActivitySettings = ActivitySettings()
    associations: AssociationSettings = AssociationSettings()
    unknown_counterpart: UnknownCounterpartSettings = UnknownCounterpartSettings()
    ambiguous: AmbiguitySettings = AmbiguitySettings()
    rollout: RolloutSettings | None = None

    _is_crm: bool = PrivateAttr(default=False)

    @classmethod
    def _problems_across_keys(cls, data: Mapping[str, Any]) -> Iterator[tuple[KeyPath, str]]:
        yield from map_keys_naming_one_rep(data)
        first: dict[str, int] = {}
        for index, given, problem, number in read_own_numbers(data):
            if problem is not None:
                yield ("own_numbers", index), problem
            elif number in first:
                yield (
                    ("own_numbers", index),
                    f"{show(given)} is {number}, given already as own_numbers[{first[number]}]",
                )
            elif number is not None:
                first[number] = index

    def model_post_init(self, context: Any, /) -> None:
        # Vendor facts, read once from the adapter class: the vendor's form of a user id,
        # and whether it is the CRM.
        if self.kind in KNOWN_KINDS:
            adapter = adapter_class(self.kind)
            self.users.index_ids(adapter.normalize_external_id)
            self._is_crm = adapter.is_crm

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, value: str) -> str:
        if value not in KNOWN_KINDS:
            raise own_error(f"{show(value)} is not a known kind; allowed: {', '.join(KNOWN_KINDS)}")
        return value

    @field_validator("secret_env", mode="before")
    @classmethod
    def _env_name(cls, value: Any, info: ValidationInfo) -> Any:
        kind = info.data.get("kind")  # validated before: the example names its kind's secret
        word = "TOKEN" if kind == "aircall" else "SECRET"  # Aircall's is a token
        example = f"{kind.upper()}_WEBHOOK_{word}" if isinstance(kind, str) else "WEBHOOK_SECRET"
        return env_var_name(value, example, info)

    @field_validator("region")
    @classmethod
    def _phone_region(cls, value: str | None) -> str | None:
        if value is None:
            return None
        region = value.strip().upper()
        if not valid_region(region):
            raise own_error(
                f"{show(value)} is not a country phone numbers are known for; allowed: an ISO "
                "3166 two-letter code such as GB, US, DE, FR"
            )
        return region

    @field_validator("vendor", mode="before")
    @classmethod
    def _options_of_kind(cls, value: Any, info: ValidationInfo) -> Any:
        """The ``vendor:`` block read by the options model of the kind's adapter. An option
        of another kind is refused as such (``not allowed for kind K; only for ...``), and
        every problem of the block is reported at once, each at its option."""
        kind = info.data.get("kind")
        if kind is None:
            return NoOptions()  # the kind is wrong (its own error): its options cannot be told
        model = adapter_class(kind).options_model
        if isinstance(value, model):
            return value
        given = given_fields(value)
        if given is None:
            raise own_error(f"expected a mapping; got {show(value)}")
        problems: list[tuple[KeyPath, str]] = [
            ((key_text(name),), _option_problem(kind, model, name))
            for name in given
            if name not in model.model_fields
        ]
        known = {name: option for name, option in given.items() if name in model.model_fields}
        try:
            options = model.model_validate(known)
        except ValidationError as exc:
            if not problems:
                raise
            raise with_problems(exc, problems, model.__name__, known) from None
        if problems:
            raise problems_error(problems)
        return options

    def proposed(self) -> IntegrationSettings | None:
        """The settings the rollout sample gets: these, with the proposed sections."""
        if self.rollout is None:
            return None
        changes = {
            name: value
            for name in ("users", "ownership", "activities", "associations")
            if (value := getattr(self.rollout.settings, name)) is not None
        }
        return self.model_copy(update={**changes, "rollout": None})

    def vendor_options(self) -> VendorOptions:
        """The options an adapter receives: an instance of its ``options_model``."""
        return self.vendor

    @property
    def is_crm(self) -> bool:
        """The integration is the CRM itself (its adapter's ``is_crm``): its owner ids are
        owner ids, and its owner changes are the CRM's own."""
        return self._is_crm
