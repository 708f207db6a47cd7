"""What the console's integration settings page needs: the choices it offers (owners by
name, teams, the enums), a submitted form turned into proposed settings, and the preview of
that proposal — the replay of the last days under it and the YAML diff — before it is saved.

The form becomes *partial* settings data, the shape the admin API's proposed settings and
``leadsync replay --settings`` take (:class:`~leadsync.settings.ProposedIntegration`): read
by the same function, checked the same way, merged over the current settings the same way.

The "phones" section carries four top-level keys of an integration: ``region`` (the
country its national phone numbers are read in), ``unknown_counterpart`` (a call naming only
a number nobody has), ``ambiguous`` (several equally good answers: queue or skip) and
``own_numbers`` (the company's own numbers: a call to one is an internal call).

The ``vendor:`` options are not written into the page: :func:`vendor_options` reads them
from the kind's options model (``sources/options.py``), each with the control its type takes
and its ``Field`` description, so an option added to a model is on the page as it is.
"""

from __future__ import annotations

import enum
import types
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, Field
from sqlalchemy.engine import Engine

from leadsync import workspace_config
from leadsync.errors import ConfigError
from leadsync.model import (
    CALL_OUTCOMES,
    MEETING_OUTCOMES,
    ActivityType,
    AssociationMode,
    AutoMatch,
    CompanyAssociation,
    DealAssociation,
    RecordType,
    Strategy,
    UnmappedPolicy,
)
from leadsync.ops import replay as replay_ops
from leadsync.ops.replay import ReplayResult
from leadsync.ops.settings_change import (
    fingerprint,
    managed_file,
    summarize,
    with_integration,
    yaml_diff,
    yaml_text,
)
from leadsync.ops.users import external_users
from leadsync.results import ResultModel
from leadsync.settings import (
    Ambiguity,
    AmbiguitySettings,
    CounterpartPolicy,
    DedupeRule,
    IntegrationSettings,
    proposed_from_data,
)
from leadsync.settings.base import format_path
from leadsync.sources import adapter_class
from leadsync.sources.options import NoOptions, VendorOptions
from leadsync.store import config as config_store
from leadsync.store import own_lines

#: The submitted form: every field's values, as a multi-valued form gives them.
Form = Mapping[str, Sequence[str]]
#: The sections a form may carry; each fieldset names its own in a hidden ``sections`` field,
#: so that an unticked box of a section on the form means false, not "not on the form".
SECTIONS = (
    "webhook",
    "vendor",
    "users",
    "ownership",
    "activities",
    "associations",
    "phones",
    "rollout",
)
#: The questions ``ambiguous:`` says what to do with (number, email, deal, owner).
AMBIGUOUS = tuple(AmbiguitySettings.model_fields)
OUTCOMES = {ActivityType.CALL.value: CALL_OUTCOMES, ActivityType.MEETING.value: MEETING_OUTCOMES}


@dataclass(frozen=True)
class OwnerChoice:
    """An owner a dropdown offers: by name; an inactive one only where a setting names it."""

    id: str
    name: str
    active: bool


class Control(enum.StrEnum):
    """The control a ``vendor:`` option's type takes on the page."""

    CHECKBOX = "checkbox"  # a bool
    NUMBER = "number"  # an int or a float
    TEXT = "text"  # text (ids, names)
    CHOICE = "choice"  # an enum: a select
    LINES = "lines"  # a list: a textarea, one item a line
    PAIRS = "pairs"  # a mapping: a textarea, one ``key: value`` a line
    GROUP = "group"  # a nested model: a heading; its fields follow as options of their own


@dataclass(frozen=True)
class VendorOption:
    """One ``vendor:`` option as the settings page shows it and reads it back: ``path``
    below ``vendor`` (a nested model's fields are options of their own, after its group),
    the ``control`` its type takes, its ``Field`` description, the ``current`` value of the
    settings the page shows and the ``default`` (``choices``: an enum's values, or of a
    mapping's values)."""

    path: tuple[str, ...]
    control: Control
    description: str
    current: Any
    default: Any
    choices: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """The key path as the file writes it below ``vendor`` (the form field's name after
        ``vendor.``; the label)."""
        return ".".join(self.path)

    @property
    def id(self) -> str:
        """The id of its control on the page."""
        return "vendor-" + "-".join(self.path)

    @property
    def text(self) -> str:
        """The current value as its control shows it (a checkbox: see :attr:`ticked`)."""
        return _text(self.current)

    @property
    def ticked(self) -> bool:
        """A checkbox's current state."""
        return self.current is True

    @property
    def default_text(self) -> str:
        """The default in words, for "back to the default"."""
        if self.default is None:
            return "not set"
        if self.control is Control.CHECKBOX:
            return "on" if self.default else "off"
        return _text(self.default).replace("\n", ", ") or "none"

    @property
    def is_set(self) -> bool:
        """It differs from the default: the page offers to put the default back."""
        return self.control is not Control.GROUP and self.current != self.default


def _text(value: Any) -> str:
    """A value as a control shows it: a list one item a line, a mapping ``key: value``."""
    if value is None:
        return ""
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, Mapping):
        return "\n".join(f"{_text(k)}: {_text(v)}" for k, v in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return "\n".join(_text(item) for item in value)
    return str(value)


def _bare(annotation: Any) -> Any:
    """A field's type without ``Annotated`` and ``| None``."""
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    if get_origin(annotation) in (Union, types.UnionType):
        given = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(given) == 1:
            return _bare(given[0])
    return annotation


def _scalar(annotation: Any) -> tuple[Control, tuple[str, ...]] | None:
    """The control of a one-value type, and an enum's values; None: not one value."""
    kind = _bare(annotation)
    if kind is bool:
        return Control.CHECKBOX, ()
    if kind in (int, float):
        return Control.NUMBER, ()
    if kind is str:
        return Control.TEXT, ()
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return Control.CHOICE, tuple(str(member.value) for member in kind)
    return None


def vendor_options(options: BaseModel, within: tuple[str, ...] = ()) -> list[VendorOption]:
    """Every option of ``options``' model (a kind's ``options_model``), in its order, with
    the control its type takes; a nested model is a group followed by its own fields. A
    type no control fits is a TypeError naming the option: a new option must get one here
    (``tests/test_console_vendor_options.py`` checks every kind's)."""
    found: list[VendorOption] = []
    for name, info in type(options).model_fields.items():
        path, current = (*within, name), getattr(options, name)
        default = info.get_default(call_default_factory=True)
        kind = _bare(info.annotation)
        args, described = get_args(kind), info.description or ""
        scalar = _scalar(kind)
        if scalar is not None:
            control, choices = scalar
        elif get_origin(kind) is dict and _scalar(args[0]) and (values := _scalar(args[1])):
            control, choices = Control.PAIRS, values[1]
        elif get_origin(kind) in (list, tuple, set, frozenset) and all(
            arg is Ellipsis or _scalar(arg) for arg in args
        ):
            control, choices = Control.LINES, ()
        elif isinstance(kind, type) and issubclass(kind, BaseModel):
            doc = (kind.__doc__ or "").strip()
            group = VendorOption(path, Control.GROUP, described or doc, current, default)
            found += [group, *vendor_options(current, path)]
            continue
        else:
            raise TypeError(f"vendor option {'.'.join(path)}: no control for {info.annotation}")
        found.append(VendorOption(path, control, described, current, default, choices))
    return found


@dataclass(frozen=True)
class SettingsForm:
    """The settings page of one integration: ``settings`` fill the form (the current ones,
    or a proposal being previewed); ``users`` say how each external user maps *today*."""

    integration: str
    settings: IntegrationSettings
    users: list[dict[str, Any]]
    owners: list[OwnerChoice]
    teams: list[str]
    dedupe: list[DedupeRule]
    managed_file: str | None
    strategies: tuple[str, ...] = tuple(Strategy)
    record_types: tuple[str, ...] = tuple(RecordType)
    activity_types: tuple[str, ...] = tuple(ActivityType)
    outcomes: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: OUTCOMES)
    policies: tuple[str, ...] = tuple(UnmappedPolicy)
    auto_matches: tuple[str, ...] = tuple(AutoMatch)
    association_modes: tuple[str, ...] = tuple(AssociationMode)
    primaries: tuple[str, ...] = (RecordType.CONTACT, RecordType.LEAD)
    company_choices: tuple[str, ...] = tuple(CompanyAssociation)
    deal_choices: tuple[str, ...] = tuple(DealAssociation)
    counterpart_policies: tuple[str, ...] = tuple(CounterpartPolicy)
    ambiguous_kinds: tuple[str, ...] = AMBIGUOUS
    ambiguities: tuple[str, ...] = tuple(Ambiguity)
    # The lines the tool named itself (learned: not settings; shown beside own_numbers).
    learned_lines: list[dict[str, Any]] = field(default_factory=list)

    def owner_label(self, owner_id: str) -> str:
        """An owner as the page names it: its name, with its id where another owner has the
        same name (two Dee Parks are told apart); its id alone when it is no owner here."""
        names = [o.name for o in self.owners if o.id == owner_id]
        if not names:
            return owner_id
        shared = sum(1 for o in self.owners if o.name == names[0]) > 1
        return f"{names[0]} — owner {owner_id}" if shared else names[0]

    @property
    def secret_required(self) -> bool:
        """Whether every webhook of the kind needs the secret (else some are checked otherwise:
        :attr:`signature_scheme` says how)."""
        return adapter_class(self.settings.kind).secret_required

    @property
    def signature_scheme(self) -> str:
        return adapter_class(self.settings.kind).signature_scheme

    @property
    def vendor_options(self) -> list[VendorOption]:
        """The ``vendor:`` options of the integration's kind (none: the kind takes none)."""
        return vendor_options(self.settings.vendor)


def settings_form(
    engine: Engine, name: str, proposed: IntegrationSettings | None = None
) -> SettingsForm:
    """The page of integration ``name`` (NotFoundError naming the configured ones), its form
    filled with ``proposed`` when given."""
    rules = workspace_config.load_rules(engine)
    current = workspace_config.integration_settings(rules, name)
    settings = proposed or current
    config = workspace_config.export_config(engine)
    with engine.connect() as connection:
        rows = config_store.read_owners(connection)
        teams = config_store.read_teams(connection)
        learned = own_lines.lines_of(connection, name)
    named = {*settings.users.map.values(), settings.users.unmapped.owner}
    owners = [
        OwnerChoice(
            r["id"],
            f"{r['first_name'] or ''} {r['last_name'] or ''}".strip() or r["email"],
            bool(r["active"]) and not r["archived"],
        )
        for r in rows
    ]
    return SettingsForm(
        integration=name,
        settings=settings,
        users=external_users(engine, rules, name),
        owners=[o for o in owners if o.active or o.id in named],
        teams=sorted(teams),
        dedupe=[rule for rule in config.dedupe if name in rule.integrations],
        managed_file=managed_file(engine),
        learned_lines=learned,
    )


def _one(form: Form, key: str) -> str | None:
    values = form.get(key)
    return values[-1].strip() if values else None


def _number(text: str | None) -> Any:
    """A number field: an int or a float as typed; empty is None (the default); anything
    else is passed on for the settings' check to refuse at its key path."""
    if not text:
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


#: Where the console's problems are said to come from.
CONSOLE = "<console>"
_T = TypeVar("_T")


@dataclass
class FormChange:
    """A submitted settings form, read (:func:`change_from_form`): the partial settings
    ``data`` it proposes, a mapping's good lines in it; the problems of the form's own text
    (``problems``: each bad line of a mapping, ``(its key path, line number, text)``); and
    the line each entry of a mapping was typed on (``entries``: the entry's key path as the
    settings' check says it -> the mapping's key path, the line number and the line)."""

    data: dict[str, Any] = field(default_factory=dict)
    problems: list[tuple[str, int, str]] = field(default_factory=list)
    entries: dict[str, tuple[str, int, str]] = field(default_factory=dict)

    def read(
        self,
        read: Callable[[dict[str, Any]], _T],
        check: Callable[[dict[str, Any]], object] | None = None,
    ) -> _T:
        """``read(data)`` (the settings' check, and what follows it). When the form's own
        text has problems, ``check(data)`` instead (the check alone; ``read`` by default), for
        the problems of the rest: a ConfigError names every problem at once, one at a
        mapping's entry by its line as the form's own are, a mapping's in line order."""
        try:
            if not self.problems:
                return read(self.data)
            (check or read)(self.data)
            found: list[str] = []
        except ConfigError as exc:
            found = exc.problems
        numbered = list(self.problems)
        others = []
        for problem in found:
            path, _, message = problem.removeprefix(f"{CONSOLE}: ").partition(": ")
            if (entry := self.entries.get(path)) is None:
                others.append(problem)
            else:
                where, number, line = entry
                numbered.append((where, number, _line_problem(where, number, line, message)))
        raise ConfigError(others + [text for *_, text in sorted(numbered, key=lambda p: p[:2])])


def _line_problem(where: str, number: int, line: str, why: str) -> str:
    shown = line.strip()[:80]
    return f"{CONSOLE}: {where}: line {number} ({shown!r}): {why}"


def _option_value(form: Form, option: VendorOption, prefix: str, change: FormChange) -> Any:
    """What the form says of one ``vendor:`` option: ``None`` puts its default back (an
    emptied field, or its "Clear" ticked: ``vendor.clear`` names it). A mapping's lines are
    the form's own text: each one without a colon, or whose key an earlier line gives (as
    the file refuses a duplicate key), is a problem of ``change`` at the option (``prefix``:
    the integration's key path), and the good lines are the mapping."""
    key = f"vendor.{option.name}"
    where = f"{prefix}vendor.{'.'.join(option.path)}"
    if option.name in form.get("vendor.clear", ()):
        return None
    text = _one(form, key)
    match option.control:
        case Control.CHECKBOX:
            if key in form:
                return True
            # Unticked is off: "not set" when that is the default, unless the page showed
            # the option set to false (``vendor.set_false``), which it then stays.
            if option.default is None and option.name not in form.get("vendor.set_false", ()):
                return None
            return False
        case Control.NUMBER:
            return _number(text)
        case Control.LINES:
            return [line.strip() for line in (text or "").splitlines() if line.strip()] or None
        case Control.PAIRS:
            pairs: dict[str, str] = {}
            first: dict[str, int] = {}
            allowed = "allowed: one key: value a line" + (
                f", the value one of {', '.join(option.choices)}" if option.choices else ""
            )
            for number, line in enumerate((text or "").splitlines(), 1):
                if not line.strip():
                    continue
                key_part, colon, value = line.partition(":")
                name = key_part.strip()
                if not colon or not name:
                    why = f"not key: value; {allowed}"
                elif name in first:
                    why = f"{name!r} is given on line {first[name]} too; allowed: each key once"
                else:
                    first[name] = number
                    pairs[name] = value.strip()
                    entry = prefix + format_path(("vendor", *option.path, name))
                    change.entries[entry] = (where, number, line)
                    continue
                change.problems.append((where, number, _line_problem(where, number, line, why)))
            # A mapping is merged key by key over the current one: a line taken out is null.
            gone = {_text(k): None for k in option.current or {} if _text(k) not in pairs}
            return gone | pairs if pairs else None
    return text or None


def _vendor_change(
    form: Form, options: VendorOptions, prefix: str, change: FormChange
) -> dict[str, Any]:
    """The ``vendor:`` block the form proposes for options of ``options``' model (its text's
    problems: ``change``'s); a ``vendor.X`` field the model lacks is passed on, for the
    settings to refuse as such."""
    data: dict[str, Any] = {}
    known = {"vendor.clear", "vendor.set_false"}
    for option in vendor_options(options):
        if option.control is Control.GROUP:
            continue
        known.add(f"vendor.{option.name}")
        block = data
        for part in option.path[:-1]:
            block = block.setdefault(part, {})
        block[option.path[-1]] = _option_value(form, option, prefix, change)
    for key in form:
        if key.startswith("vendor.") and key not in known:
            data[key.removeprefix("vendor.")] = _one(form, key)
    return data


def change_from_form(
    form: Form, vendor: VendorOptions | None = None, name: str | None = None
) -> FormChange:
    """The settings a submitted settings form proposes, as partial data (only the sections
    the form carries; ``null`` puts a key back to its default; a user set to "no explicit
    mapping" leaves the map). ``vendor``: the integration's options now, whose model says
    what the form's ``vendor.*`` fields are (and what an unticked box or a line taken out
    of a mapping changes). Pure: the settings' checks are the proposed-settings reader's
    (:meth:`FormChange.read`); only the form's own text (a mapping's lines) is read here,
    its problems at the key path of integration ``name``."""
    sections = set(form.get("sections", ()))
    change = FormChange()
    data = change.data
    if "webhook" in sections:
        data["secret_env"] = _one(form, "secret_env") or None
    if "vendor" in sections:
        prefix = f"integrations.{name}." if name else ""
        data["vendor"] = _vendor_change(form, vendor or NoOptions(), prefix, change)
    if "users" in sections:
        policy = _one(form, "users.unmapped.policy") or UnmappedPolicy.LEAVE.value
        unmapped: dict[str, Any] = {"policy": policy}
        target = {UnmappedPolicy.FALLBACK.value: "owner", UnmappedPolicy.ROUND_ROBIN.value: "team"}
        if policy in target:
            unmapped[target[policy]] = _one(form, f"users.unmapped.{target[policy]}") or None
        data["users"] = {
            "auto_match": _one(form, "users.auto_match"),
            "map": {
                key.removeprefix("users.map."): _one(form, key) or None
                for key in form
                if key.startswith("users.map.")
            },
            "unmapped": unmapped,
        }
    if "ownership" in sections:
        data["ownership"] = {
            "default": _one(form, "ownership.default"),
            **{t.value: _one(form, f"ownership.{t.value}") or None for t in RecordType},
            "protect_manual_days": _number(_one(form, "ownership.protect_manual_days")),
            "assign_on_activity": "ownership.assign_on_activity" in form,
        }
    if "activities" in sections:
        activities: dict[str, Any] = {}
        for kind in ActivityType:
            entry: dict[str, Any] = {"enabled": f"activities.{kind.value}.enabled" in form}
            if kind is ActivityType.CALL:
                entry["min_duration_s"] = _number(_one(form, "activities.call.min_duration_s"))
            if kind.value in OUTCOMES:
                entry["skip_outcomes"] = list(
                    form.get(f"activities.{kind.value}.skip_outcomes", ())
                )
            activities[kind.value] = entry
        data["activities"] = activities
    if "associations" in sections:
        data["associations"] = {
            key: _one(form, f"associations.{key}") for key in ("mode", "primary", "company", "deal")
        } | {"max_deals": _number(_one(form, "associations.max_deals"))}
    if "phones" in sections:
        # An emptied region is none (national numbers unreadable); an emptied hold_days its
        # default; the settings' check reads the rest (a region in any case, trimmed).
        data["region"] = _one(form, "region") or None
        data["unknown_counterpart"] = {
            "policy": _one(form, "unknown_counterpart.policy") or None,
            "hold_days": _number(_one(form, "unknown_counterpart.hold_days")),
        }
        data["ambiguous"] = {kind: _one(form, f"ambiguous.{kind}") or None for kind in AMBIGUOUS}
        # One number per line; blank lines are nothing (an empty field: none declared).
        lines = (_one(form, "own_numbers") or "").splitlines()
        data["own_numbers"] = [line.strip() for line in lines if line.strip()]
    if "rollout" in sections:
        data["rollout"] = {"percent": _number(_one(form, "rollout.percent"))}
    return change


class SettingsPreview(ResultModel):
    """A proposed change before it is saved: the replay of the inbox since ``since`` under
    the proposal, the YAML diff of the workspace file, and the fingerprint a save must
    carry (see :func:`~leadsync.ops.settings_change.fingerprint`)."""

    integration: str
    since: str
    summary: str = Field(description="Each changed key path: `path: old → new`.")
    yaml_diff: str
    proposed_yaml: str
    fingerprint: str
    managed_file: str | None
    replay: ReplayResult


@dataclass(frozen=True)
class Proposal:
    """Proposed settings of one integration, with the preview of them."""

    settings: IntegrationSettings
    preview: SettingsPreview


def preview_change(
    engine: Engine, name: str, data: Any, since: str, source: str = CONSOLE
) -> Proposal:
    """``data`` (partial or whole settings, as the admin API's proposed settings) read over
    the current settings of ``name``, replayed since ``since`` and diffed as YAML; nothing
    is written."""
    workspace_config.integration_settings(workspace_config.load_rules(engine), name)
    current = workspace_config.export_config(engine)
    proposal = proposed_from_data(data, source, name, current)
    before = yaml_text(current)
    after = yaml_text(with_integration(current, name, proposal.settings))
    preview = SettingsPreview(
        integration=name,
        since=since,
        summary=summarize(
            current.integrations[name].model_dump(mode="json"),
            proposal.settings.model_dump(mode="json"),
        ),
        yaml_diff=yaml_diff(before, after),
        proposed_yaml=after,
        fingerprint=fingerprint(before, after),
        managed_file=managed_file(engine),
        replay=replay_ops.replay(engine, name, proposal.settings, since),
    )
    return Proposal(proposal.settings, preview)
