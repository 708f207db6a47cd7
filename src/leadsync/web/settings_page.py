"""An integration's settings page: one section per concern, the change previewed (the replay
of the last 30 days and the YAML diff) before it is saved, promote/abort of a staged rollout.

The form becomes proposed settings by :func:`~leadsync.ops.settings_form.change_from_form`,
read like the admin API's proposed settings; saving is :meth:`Workspace.replace_integration`
(the API's PUT), with the preview's fingerprint, so what is saved is what was previewed, and
the session is recorded in the audit log (its role and a digest of its id, never a secret).

A preview or save from a page opened before another change to the same settings was saved
(the form carries the settings it was filled from) is refused (409): the page again saying
what the other change was, the admin's own edits kept in the form over the settings as they
are now (:mod:`leadsync.ops.settings_rebase`), for a second preview and save made knowingly.

A preview or save the settings' check refuses shows the page again as it was sent, each
problem beside its field in the form's own words (:func:`field_errors`) and summarised at
the top (focused, linking to the fields), and no preview: one made before would be of
other settings than those on the page. ``static/settings.js`` puts a preview away as soon
as the form is edited after it, for the same reason.

The "Vendor options" section is generated from the kind's options model
(:func:`~leadsync.ops.settings_form.vendor_options`): a problem at ``vendor.X`` is shown
beside option X's control, one inside a list naming its entry, and every bad line of a
mapping typed as ``key: value`` lines by its number
(:meth:`~leadsync.ops.settings_form.FormChange.read`).

"Phone numbers and questions" (section ``phones``) sets three top-level keys of the
integration — ``region``, ``unknown_counterpart``, ``ambiguous`` — through the same form,
preview and save; a problem at any of them is shown beside its control, or at the section.

A staged rollout's section says what its proposed settings change against the current ones
(:func:`~leadsync.ops.rollout.difference`). Promote and abort are confirmed: the button asks
for the page with ``?confirm=promote`` (or ``abort``), which shows the keys it changes and
the YAML diff (:func:`~leadsync.ops.rollout.plan`); only that confirmation posts
(:mod:`.rollout_page`). Managed by file, the page says how to do either in the file.

A preview or save sent after the admin's session ended is kept through the sign-in
(:mod:`.drafts`): signed in again, the page shows the form as sent, unsaved — read over the
current settings as a stale tab's is when they changed meanwhile.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel

from leadsync.errors import ConfigError, WorkspaceError
from leadsync.model import RecordType
from leadsync.ops import rollout as rollout_ops
from leadsync.ops.rollout import Action
from leadsync.ops.settings_change import Actor, rollout_in_file, summary_of
from leadsync.ops.settings_form import (
    AMBIGUOUS,
    CONSOLE,
    Control,
    SettingsForm,
    change_from_form,
)
from leadsync.ops.settings_form import Form as FormFields
from leadsync.ops.settings_rebase import loaded_digest, loaded_text, rebase
from leadsync.settings import integration as models
from leadsync.settings import integration_to_dict
from leadsync.settings.base import Bounds, format_path
from leadsync.values import since_ts

from .audit_page import changes
from .console import Changing, Page, Viewing, is_htmx, page_router, plural
from .drafts import Draft, keeps_draft

router = page_router()

#: How far back the preview replays the inbox.
REPLAYED = "30d"


async def form_fields(request: Request) -> FormFields:
    """Every field of the submitted form with all its values (ticked boxes repeat a name)."""
    form = await request.form()
    return {key: [v for v in form.getlist(key) if isinstance(v, str)] for key in form}


Fields = Annotated[FormFields, Depends(form_fields)]

#: The form's labels by the id of their control; the page prints them from here, so an error
#: names a field exactly as the form does.
LABELS = {
    "secret-env": "Environment variable holding its webhook secret",
    "auto-match": "Auto-match by email",
    "unmapped-policy": "When a user maps to no owner",
    "unmapped-owner": "Fallback owner",
    "unmapped-team": "Round-robin team",
    "strategy-default": "Strategy for every record type",
    "protect-days": "Protect an owner a person set in the CRM for (days)",
    "assign-on-activity": "Assign on activity: an activity by a mapped rep gives an ownerless "
    "record that rep as owner",
    "min-duration": "Skip calls shorter than (seconds)",
    "assoc-mode": "Mode",
    "assoc-primary": "Person record",
    "assoc-company": "Company",
    "assoc-deal": "Deals",
    "assoc-max-deals": "At most this many deals",
    "region": "Country of this tool's national phone numbers",
    "counterpart-policy": "A call naming only a number no contact or lead has",
    "hold-days": "Days a held call waits before the review queue",
    "own-numbers": "The company's own numbers (one per line)",
    "ambiguous-number": "A number several contacts or leads have",
    "ambiguous-email": "An email several contacts have",
    "ambiguous-deal": "Several equally recent open deals where one is wanted",
    "ambiguous-owner": "A rep's email several active owners have",
    "rollout-percent": "Share of records on the proposed settings (%)",
}
#: The control of each key path below ``integrations.NAME`` that has one of its own.
CONTROLS: dict[tuple[str, ...], str] = {
    ("secret_env",): "secret-env",
    ("users", "auto_match"): "auto-match",
    ("users", "unmapped", "policy"): "unmapped-policy",
    ("users", "unmapped", "owner"): "unmapped-owner",
    ("users", "unmapped", "team"): "unmapped-team",
    ("ownership", "default"): "strategy-default",
    ("ownership", "protect_manual_days"): "protect-days",
    ("ownership", "assign_on_activity"): "assign-on-activity",
    ("activities", "call", "min_duration_s"): "min-duration",
    ("associations", "mode"): "assoc-mode",
    ("associations", "primary"): "assoc-primary",
    ("associations", "company"): "assoc-company",
    ("associations", "deal"): "assoc-deal",
    ("associations", "max_deals"): "assoc-max-deals",
    ("region",): "region",
    ("unknown_counterpart", "policy"): "counterpart-policy",
    ("unknown_counterpart", "hold_days"): "hold-days",
    ("own_numbers",): "own-numbers",
    **{("ambiguous", kind): f"ambiguous-{kind}" for kind in AMBIGUOUS},
    ("rollout", "percent"): "rollout-percent",
}
#: Each section's fieldset (its id is the section's) by its legend, for a problem in a
#: section that has no control of its own on the page.
SECTION_TITLES = {
    "webhook": "Webhook secret",
    "vendor": "Vendor options",
    "users": "User mapping",
    "ownership": "Ownership",
    "activities": "Activities",
    "associations": "Associations",
    "phones": "Phone numbers and questions",
    "rollout": "Staged rollout",
}
#: The section of each top-level key that is not a section of its own.
SECTION_OF = {
    "region": "phones",
    "unknown_counterpart": "phones",
    "ambiguous": "phones",
    "own_numbers": "phones",
}
#: The unmapped policies as the form offers them.
POLICY_WORDS = {
    "leave": "Leave the record's owner as it is (flagged)",
    "fallback": "Give the record to a fallback owner",
    "round_robin": "Give records in turn to a team (round robin)",
}
#: What a call naming only an unknown number does, as the form offers it.
COUNTERPART_WORDS = {
    "hold": "Hold it unattached until a contact or lead gets the number",
    "create": "Create a contact with the number and nothing else",
    "skip": "Skip it: not created, counted with its reason",
}
#: What a question with several equally good answers becomes, as the form offers it.
AMBIGUITY_WORDS = {
    "queue": "Ask: a question in the review queue",
    "skip": "Skip: left unanswered, with its reason",
}
_NUMBERS: dict[str, type[BaseModel]] = {
    "hold_days": models.UnknownCounterpartSettings,
    "protect_manual_days": models.OwnershipSettings,
    "max_deals": models.AssociationSettings,
    "min_duration_s": models.ActivityTypeSettings,
}
#: What an emptied number field means: the setting's default (None: no minimum); and what
#: each number allows, from its model (the field's min, max and words).
DEFAULTS = {name: model.model_fields[name].default for name, model in _NUMBERS.items()}
_NUMBERS_TOO: dict[str, type[BaseModel]] = {**_NUMBERS, "percent": models.RolloutSettings}
BOUNDS = {name: Bounds.of(model, name) for name, model in _NUMBERS_TOO.items()}
#: The settings' messages (:mod:`leadsync.settings.errors`) in the form's words; the value
#: is left out: the field beside the message shows it as typed. What is allowed (the
#: message's ``; allowed: …``) follows a number's bounds and a choice (:data:`ALLOWED_TOO`).
WORDS = (
    (r"must be at least (?P<n>\S+); got .*", "must be {n} or more"),
    (r"must be more than (?P<n>\S+); got .*", "must be more than {n}"),
    (r"must be at most (?P<n>\S+); got .*", "must be {n} or less"),
    (r"must be less than (?P<n>\S+); got .*", "must be less than {n}"),
    (r"expected a whole number; got .*", "must be a whole number"),
    (r"expected a (?:finite )?number; got .*", "must be a number"),
    (r"expected true or false; got .*", "must be ticked or not"),
    (
        r"required when policy is (?P<policy>\w+)(?:; allowed: .*)?",
        "needed with “{policy}”: choose one",
    ),
    (r"required", "must be given"),
    (
        r"unknown owner '(?P<v>.*)'; .*",
        "owner {v} is not (or no longer) one of the workspace's owners: choose another",
    ),
    (
        r"unknown team '(?P<v>.*)'; .*",
        "team {v} is not (or no longer) one of the workspace's teams: choose another",
    ),
    (
        r"team '(?P<v>.*)' has no members to take turns",
        "the team {v} has no members to take turns: choose another",
    ),
    (r"'(?P<v>.*)' is not allowed", "“{v}” is not one of the choices"),
)
ALLOWED = re.compile(r"; allowed: (?P<allowed>.*)$")
#: The form's words that the message's allowed values follow (the others say what to do).
ALLOWED_TOO = ("or more", "more than", "or less", "less than", "not one of the choices")
#: One part of a key path as :func:`leadsync.settings.base.format_path` writes it.
PART = re.compile(r'(?P<key>[A-Za-z0-9_-]+)|\[(?P<index>\d+)\]|\["(?P<quoted>(?:[^"\\]|\\.)*)"\]')


@dataclass(frozen=True)
class FieldError:
    """One problem of a refused form: ``field`` is the id it is shown beside (a control, or
    a section's fieldset), ``target`` the id the summary links to (a control to focus)."""

    field: str
    target: str
    label: str
    message: str


@dataclass(frozen=True)
class Sent:
    """The form as it was sent, to fill the page again after a refusal (``fields`` None:
    the page shows the settings)."""

    fields: FormFields | None = None

    def value(self, name: str, current: Any) -> Any:
        """A select's or a number's value: as sent, else ``current``."""
        if self.fields is None or name not in self.fields or not self.fields[name]:
            return current
        return self.fields[name][-1]

    def ticked(self, name: str, current: bool, value: str = "true") -> bool:
        """A checkbox: ticked as sent when its section was sent (unticked is not sent)."""
        if self.fields is None or name.split(".")[0] not in self.fields.get("sections", ()):
            return current
        return value in self.fields.get(name, ())


def _key_path(text: str) -> tuple[tuple[str | int, ...], str] | None:
    """``(key path, message)`` of a problem's text after its source (``a.b[0]: what``)."""
    parts: list[str | int] = []
    at = 0
    while found := PART.match(text, at):
        if found["key"] is not None:
            parts.append(found["key"])
        elif found["index"] is not None:
            parts.append(int(found["index"]))
        else:
            parts.append(re.sub(r"\\(.)", r"\1", found["quoted"]))
        at = found.end()
        if text.startswith(": ", at):
            return tuple(parts), text[at + 2 :]
        at += text.startswith(".", at)
    return None


def _in_words(message: str) -> str:
    allowed = ALLOWED.search(message)
    said = message[: allowed.start()] if allowed else message
    for pattern, words in WORDS:
        if found := re.fullmatch(pattern, said) or re.fullmatch(pattern, message):
            named = found.groupdict()
            if "policy" in named:
                named["policy"] = POLICY_WORDS.get(named["policy"], named["policy"])
            text = words.format(**named)
            if allowed and any(part in words for part in ALLOWED_TOO):
                text += f" (allowed: {allowed['allowed']})"
            return text
    return message


def _control(form: SettingsForm, path: Sequence[str | int]) -> tuple[str, str, str]:
    """``(field, target, label)`` of the control a key path below the integration names."""
    key = tuple(p for p in path if isinstance(p, str))
    if key in CONTROLS:
        control = CONTROLS[key]
        return control, control, LABELS[control]
    users = [str(user["id"]) for user in form.users]
    match key:
        case ("users", "map", user) if user in users:
            control = f"map-{users.index(user) + 1}"
            return control, control, f"Owner for {user}"
        case ("ownership", record_type) if record_type in tuple(RecordType):
            return (
                f"strategy-{record_type}",
                f"strategy-{record_type}",
                (f"Strategy for {plural(record_type)}"),
            )
        case ("activities", kind, "enabled"):
            return f"activity-{kind}", f"activity-{kind}", f"Log {plural(kind)}"
        case ("activities", kind, "skip_outcomes") if kind in form.outcomes:
            first = form.outcomes[kind][0]
            return f"skip-{kind}", f"skip-{kind}-{first}", f"Skip {plural(kind)} with the outcome"
    section = SECTION_OF.get(key[0], key[0]) if key else ""
    if section in SECTION_TITLES:
        return section, section, SECTION_TITLES[section]
    return "settings-form", "settings-form", "The settings"


def _vendor_error(form: SettingsForm, path: Sequence[str | int], message: str) -> FieldError | None:
    """A problem at ``vendor.PATH`` beside its option's control (None: no option of the
    page's kind; its section shows it): in the form's words, or naming the entry of a list
    or a mapping it is about."""
    for option in form.vendor_options:
        size = len(option.path)
        if option.control is not Control.GROUP and tuple(path[:size]) == option.path:
            entry = format_path(tuple(path[size:]))
            words = f"for {entry}: {message}" if entry else _in_words(message)
            return FieldError(option.id, option.id, option.name, words)
    return None


def field_errors(form: SettingsForm, error: ConfigError) -> list[FieldError]:
    """Each problem of ``error`` at the control of its key path, in the form's words; one
    that names no control of the page, at its section (or the form) as written. In the
    page's order: by section, a problem of the whole form first."""
    ranked: list[tuple[int, FieldError]] = []
    sections = list(SECTION_TITLES)
    for problem in error.problems:
        text = problem.split(": ", 1)[1] if problem.startswith("<") else problem
        parsed = _key_path(text)
        if parsed is None or parsed[0][:2] != ("integrations", form.integration):
            ranked.append((-1, FieldError("settings-form", "settings-form", "The settings", text)))
            continue
        path, message = parsed
        top = path[2] if len(path) > 2 else None
        section = SECTION_OF.get(top, top) if isinstance(top, str) else None
        rank = sections.index(section) if section in sections else -1
        if path[2:3] == ("vendor",) and (option := _vendor_error(form, path[3:], message)):
            ranked.append((rank, option))
            continue
        field, target, label = _control(form, path[2:])
        ranked.append((rank, FieldError(field, target, label, _in_words(message))))
    return [each for _, each in sorted(ranked, key=lambda pair: pair[0])]


def _version(fields: FormFields) -> dict[str, str]:
    """The settings the submitted form was filled from, as the page carries them again:
    their digest (``loaded``; "" from a page without one) and themselves (``carried``)."""
    return {
        "loaded": (fields.get("loaded") or [""])[-1],
        "carried": (fields.get("loaded_settings") or [""])[-1],
    }


def _changed_meanwhile(
    page: Page, name: str, fields: FormFields, what: str, status: int = 409
) -> Response | None:
    """When the form was filled from other settings than the current ones (another change
    was saved meanwhile): the page again (409), nothing ``what``, saying what the other
    change was, the form holding the admin's edits over the current settings
    (:func:`~leadsync.ops.settings_rebase.rebase`) and filled from them, so that a second
    preview and save puts the edits over the new settings knowingly. Edits that cannot be
    read so: the form as sent, with its problems."""
    version = _version(fields)
    if not version["loaded"] or version["loaded"] == loaded_digest(
        page.workspace.integration(name)
    ):
        return None
    rebased = rebase(page.workspace.engine, name, fields, version["carried"])
    form = page.workspace.settings_form(name, rebased.settings)
    context: dict[str, Any] = {"changed_meanwhile": what, "rebased": rebased}
    if rebased.settings is None:
        errors = field_errors(form, rebased.error) if rebased.error is not None else []
        context.update(sent=Sent(_shown_fields(fields, errors)), field_errors=errors, refused=what)
    owner_names = page.workspace.owner_names()
    response = _page(page, form, status, owner_names=owner_names, layout="base.html", **context)
    return _whole_page(response) if is_htmx(page.request) else response


def _shown_fields(fields: FormFields, errors: list[FieldError]) -> FormFields:
    """The form as sent, to show again: without the secret variable's field when that is
    refused (it is often the secret itself: never written back into the page)."""
    if any(e.field == CONTROLS[("secret_env",)] for e in errors):
        return {k: v for k, v in fields.items() if k != "secret_env"}
    return fields


def _page(page: Page, form: SettingsForm, status: int = 200, **context: Any) -> HTMLResponse:
    """The settings page of ``form`` (the context a caller leaves out: no preview, no
    refusal, the form's own settings; ``loaded`` and ``carried``: the digest of the settings
    the page was filled from and themselves, by default the workspace's now)."""
    if "loaded" not in context:
        current = page.workspace.integration(form.integration)
        context.update(loaded=loaded_digest(current), carried=loaded_text(current))
    context.setdefault("changed_meanwhile", None)
    context.setdefault("rebased", None)
    context.setdefault("refusal", None)
    context.setdefault("preview", None)
    context.setdefault("done", None)
    context.setdefault("sent", Sent())
    context.setdefault("field_errors", [])
    context.setdefault("confirm", None)
    rollout_changes = summary_of(rollout_ops.difference(form.settings))
    file = form.managed_file
    in_file = (
        {a: rollout_in_file(form.integration, a, file) for a in rollout_ops.ACTIONS}
        if file is not None
        else None
    )
    errors: dict[str, list[str]] = {}
    for each in context["field_errors"]:
        errors.setdefault(each.field, []).append(f"{each.message[:1].upper()}{each.message[1:]}.")
    return page.render(
        "integration_settings.html",
        status,
        form=form,
        errors=errors,
        labels=LABELS,
        policy_words=POLICY_WORDS,
        counterpart_words=COUNTERPART_WORDS,
        ambiguity_words=AMBIGUITY_WORDS,
        defaults=DEFAULTS,
        bounds=BOUNDS,
        changes=changes,
        owner_names=context.pop("owner_names", {}),
        rollout_changes=rollout_changes,
        rollout_in_file=in_file,
        **context,
    )


def _whole_page(response: HTMLResponse) -> HTMLResponse:
    """For htmx (its form targets the preview): the response replaces the page's content."""
    response.headers.update(
        {"HX-Retarget": "#main", "HX-Reswap": "outerHTML", "HX-Reselect": "#main"}
    )
    return response


def _refused(page: Page, name: str, fields: FormFields, error: ConfigError, what: str) -> Response:
    """The page as sent with each problem beside its field (422); nothing was ``what``."""
    form = page.workspace.settings_form(name)
    errors = field_errors(form, error)
    response = _page(
        page,
        form,
        error.http_status,
        sent=Sent(_shown_fields(fields, errors)),
        field_errors=errors,
        refused=what,
        layout="base.html",
        **_version(fields),
    )
    return _whole_page(response) if is_htmx(page.request) else response


def actor(page: Page) -> Actor:
    """The session as the audit log names it: role, credential kind, a digest of its id."""
    digest = hashlib.sha256(page.session.sid.encode()).hexdigest()[:8]
    return Actor(page.session.role, f"{page.session.who} · session {digest}")


def _settings_url(name: str, done: str | None = None) -> str:
    return f"/integrations/{quote(name, safe='')}/settings" + (f"?done={done}" if done else "")


def _redirect(page: Page, url: str) -> Response:
    """After a change, the page again: a redirect, or for htmx (the save button submits the
    htmx form) a whole-page navigation instead of a swap."""
    if is_htmx(page.request):
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


@router.get("/integrations/{name}/settings")
def settings_page(
    page: Viewing, name: str, done: str | None = None, confirm: Action | None = None
) -> Response:
    """``confirm``: what promoting or aborting the rollout changes, with the button that does
    it (unless there is no rollout, or the workspace is managed by file)."""
    ws = page.workspace
    if (draft := page.kept_draft()) is not None:
        return _restored(page, name, draft)
    webhook_url = f"{page.console.base_url(page.request)}/webhooks/{quote(name, safe='')}"
    form = ws.settings_form(name)
    plan = None
    if confirm is not None and form.settings.rollout is not None and not form.managed_file:
        plan = rollout_ops.plan(ws.engine, name, confirm)
    return _page(
        page,
        form,
        done=done,
        webhook_url=webhook_url,
        confirm=plan,
        owner_names=ws.owner_names(),
    )


def _restored(page: Page, name: str, draft: Draft) -> Response:
    """The form kept through a sign-in, nothing done with it: as sent over the settings it
    was filled from when they are still the current ones, else read over the current ones
    as a stale tab's is. A variable name not kept (it may be the secret) is the one the form
    was filled from: not an edit."""
    fields = dict(draft.fields)
    if "secret_env" not in fields:
        try:
            filled = json.loads(_version(fields)["carried"])
        except ValueError:  # a page that did not carry them: the current ones
            filled = integration_to_dict(page.workspace.integration(name))
        fields["secret_env"] = [str(filled.get("secret_env") or "")]
    what = "previewed" if draft.action.endswith("/preview") else "saved"
    if (stale := _changed_meanwhile(page, name, fields, what, status=200)) is not None:
        return stale
    form = page.workspace.settings_form(name)
    owners = page.workspace.owner_names()
    return _page(page, form, 200, sent=Sent(fields), owner_names=owners, **_version(fields))


@router.post("/integrations/{name}/settings/preview")
@keeps_draft
def preview_change(page: Changing, name: str, fields: Fields) -> Response:
    """Nothing is written: the replay runs in scratch databases. An htmx request gets the
    preview alone (the form stays as edited) — the whole page after a refusal, whose errors
    must go; a plain post, the page with the form as sent. Settings the check refuses: the
    page as sent with the problems (422), no preview."""
    ws = page.workspace
    if (stale := _changed_meanwhile(page, name, fields, "previewed")) is not None:
        return stale
    try:
        proposal = change_from_form(fields, ws.integration(name).vendor, name).read(
            lambda data: ws.preview_settings_change(name, data, since_ts(REPLAYED)),
            lambda data: ws.proposed_settings_from_data(name, data, CONSOLE),
        )
    except ConfigError as exc:
        return _refused(page, name, fields, exc, "previewed")
    preview, owner_names = proposal.preview, ws.owner_names()
    if is_htmx(page.request) and "shown_errors" not in fields:
        return page.render(
            "integration_preview.html", preview=preview, owner_names=owner_names, changes=changes
        )
    form = ws.settings_form(name, proposal.settings)
    shown = {"preview": preview, "owner_names": owner_names, "layout": "base.html"}
    response = _page(page, form, 200, **shown, **_version(fields))
    return _whole_page(response) if is_htmx(page.request) else response


@router.post("/integrations/{name}/settings")
@keeps_draft
def save_change(
    page: Changing,
    name: str,
    fields: Fields,
    previewed: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """The same save as the admin API's PUT; refused (409) when the workspace is managed by
    file or the change is not the one previewed, and in words when none was (a Save pressed
    while its preview was still being made)."""
    ws = page.workspace
    if (stale := _changed_meanwhile(page, name, fields, "saved")) is not None:
        return stale
    if not previewed:
        unseen = ConfigError([f"{CONSOLE}: preview the change first, then save what it shows"])
        return _refused(page, name, fields, unseen, "saved")
    try:
        proposal = change_from_form(fields, ws.integration(name).vendor, name).read(
            lambda data: ws.proposed_settings_from_data(name, data, CONSOLE)
        )
    except ConfigError as exc:
        return _refused(page, name, fields, exc, "saved")
    data = integration_to_dict(proposal.settings)
    try:
        ws.replace_integration(name, data, by=actor(page), previewed=previewed)
    except WorkspaceError as exc:
        # Saved meanwhile since the check above, not the change previewed, or managed by
        # file since: the page as sent, saying why (409), nothing saved.
        if (stale := _changed_meanwhile(page, name, fields, "saved")) is not None:
            return stale
        form = ws.settings_form(name)
        response = _page(
            page,
            form,
            exc.http_status,
            sent=Sent(fields),
            refusal=str(exc),
            layout="base.html",
            **_version(fields),
        )
        return _whole_page(response) if is_htmx(page.request) else response
    return _redirect(page, _settings_url(name, "saved"))
