"""A change form kept through a sign-in: when an admin's session ended (it expired, the
token or password it used changed, it was signed out in another tab) while they were
filling a form, the form they send is not lost with the refusal. Its fields are kept, for
:data:`DRAFT_SECONDS`, in the workspace database (:mod:`leadsync.store.console_state`, under
the SHA-256 of a random id the browser holds in an HttpOnly, SameSite=Strict cookie,
:data:`DRAFT_COOKIE`), so whichever ``serve`` process the sign-in reaches finds it; the
sign-in page says so, and once the same
admin has signed in they land on the page the form was on with it filled as they sent it
and a note saying it was not saved: they review it and submit again. Nothing is ever done
with a kept form but showing it.

What is kept, and for whom:

- Only a form a page restores (its POST handler marked :func:`keeps_draft`), sent by a
  page of this console: ``Sec-Fetch-Site: same-origin`` or an ``Origin`` that is the
  service's own — another site cannot plant a form for an admin to submit unread.
- Never the session's form token, nor a field that holds or may hold a secret: one named
  like a secret (:data:`NEVER_KEPT`), and the name of a secret's variable unless it is
  plainly a name (:func:`~leadsync.settings.base.plainly_a_name`) — the page says which
  field was not kept.
- It is bound to the browser by the unguessable id, and to the credential the ended session
  had signed in with (read from its cookie when the browser still has it: its signature is
  checked, not its age). Signing in hands it to the new session only if that is an admin
  session of the same credential (any admin credential when the browser had no session
  cookie left); any other sign-in drops it, as does signing out. A kept form is shown once.
- At most :data:`MAX_DRAFTS` of at most :data:`MAX_DRAFT_CHARS` characters each: the oldest
  goes first (the table stays bounded whoever posts).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

from fastapi import Request, Response

from leadsync.settings.base import plainly_a_name

from .auth import CSRF_FIELD, Session, Via

DRAFT_COOKIE = "leadsync_draft"
#: How long a kept form waits for its admin to sign in.
DRAFT_SECONDS = 900
MAX_DRAFTS = 100
MAX_DRAFT_CHARS = 256_000
#: Fields never kept: the form token, and any whose name says it holds a secret.
NEVER_KEPT = (CSRF_FIELD, "secret", "token", "password", "api_key")
#: Fields holding the name of a secret's variable: kept only when plainly a name.
NAMES_OF_SECRETS = {"secret_env": "Environment variable holding its webhook secret"}

Fields = dict[str, list[str]]
Handler = TypeVar("Handler", bound=Callable[..., Any])


def keeps_draft(handler: Handler) -> Handler:
    """Marks a POST handler whose form its page fills again after a sign-in (the page's
    GET handler calls :meth:`~leadsync.web.console.Page.kept_draft`)."""
    handler.keeps_draft = True  # type: ignore[attr-defined]
    return handler


@dataclass(frozen=True)
class Draft:
    """A form kept through a sign-in: ``path``, the page it was on; ``action``, where it was
    posted; ``fields`` as sent, less ``dropped`` (labels of fields not kept: they may hold
    a secret); ``via``, the credential of the session that ended (None: not known);
    ``sid``, the session it was handed to at sign-in."""

    path: str
    action: str
    fields: Fields
    dropped: tuple[str, ...]
    expires: float
    via: Via | None
    sid: str | None = None

    def value(self, name: str, default: str = "") -> str:
        return (self.fields.get(name) or [default])[-1]


def _secretish(name: str) -> bool:
    lowered = name.lower()
    return any(lowered == word or lowered.endswith(("_" + word, "." + word)) for word in NEVER_KEPT)


def kept_fields(form: Mapping[str, list[str]]) -> tuple[Fields, tuple[str, ...]]:
    """The fields of ``form`` a draft may hold, and the labels of those it may not (named
    like a secret's variable but not plainly a name). The form token and fields named like
    a secret are left out without a word (they are never typed into a change form)."""
    kept: Fields = {}
    dropped: list[str] = []
    for name, values in form.items():
        if _secretish(name):
            continue
        if name in NAMES_OF_SECRETS and not all(plainly_a_name(v) or not v for v in values):
            dropped.append(NAMES_OF_SECRETS[name])
            continue
        kept[name] = list(values)
    return kept, tuple(dropped)


def same_origin(request: Request, public_url: str | None) -> bool:
    """The request was sent by a page of this service (the browser's word for it)."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site == "same-origin"
    origin = request.headers.get("origin")
    own = {f"{request.url.scheme}://{request.url.netloc}"}
    if public_url:
        parts = urlsplit(public_url)
        own.add(f"{parts.scheme}://{parts.netloc}")
    return origin is not None and origin.rstrip("/") in own


class Stored(Protocol):
    """Where kept forms are (:class:`~leadsync.store.console_state.SharedConsole`)."""

    def keep_draft(
        self, draft_id: str, draft: Mapping[str, Any], now: float, most: int
    ) -> None: ...
    def draft(self, draft_id: str, now: float) -> dict[str, Any] | None: ...
    def hand_draft(self, draft_id: str, sid: str) -> bool: ...
    def drop_draft(self, draft_id: str) -> bool: ...


def _draft(row: Mapping[str, Any]) -> Draft:
    return Draft(
        row["path"],
        row["action"],
        {name: list(values) for name, values in row["fields"].items()},
        tuple(row["dropped"]),
        row["expires"],
        row["via"],
        row["sid"],
    )


@dataclass
class DraftKeeper:
    """The kept forms of the workspace, by id (:data:`DRAFT_COOKIE`), by the keys' clock."""

    clock: Callable[[], float]
    stored: Stored

    def _live(self, draft_id: str | None) -> Draft | None:
        """The draft of ``draft_id`` while not expired."""
        if not draft_id:
            return None
        row = self.stored.draft(draft_id, self.clock())
        return _draft(row) if row is not None else None

    def keep(
        self, path: str, action: str, form: Mapping[str, list[str]], via: Via | None
    ) -> str | None:
        """Keeps what may be kept of ``form`` (posted to ``action`` from the page ``path``);
        its id, or None when nothing is kept (too long, or a viewer's)."""
        fields, dropped = kept_fields(form)
        if via == "viewer" or sum(len(v) for vs in fields.values() for v in vs) > MAX_DRAFT_CHARS:
            return None
        draft_id = secrets.token_urlsafe(24)
        now = self.clock()
        row = {
            "path": path,
            "action": action,
            "fields": fields,
            "dropped": list(dropped),
            "expires": now + DRAFT_SECONDS,
            "via": via,
            "sid": None,
        }
        self.stored.keep_draft(draft_id, row, now, MAX_DRAFTS)
        return draft_id

    def waiting(self, draft_id: str | None) -> Draft | None:
        """The draft waiting for a sign-in in this browser (for the sign-in page to say)."""
        draft = self._live(draft_id)
        return draft if draft is not None and draft.sid is None else None

    def hand_to(self, draft_id: str | None, session: Session) -> Draft | None:
        """At sign-in: the waiting draft, now the new ``session``'s, when it is an admin
        session of the credential the draft's was (any, when that is not known); else the
        draft is dropped and None."""
        draft = self._live(draft_id)
        if draft is None or draft.sid is not None or draft_id is None:
            return None
        if not session.can_change or draft.via not in (None, session.via):
            self.stored.drop_draft(draft_id)
            return None
        if not self.stored.hand_draft(draft_id, session.sid):
            return None  # another sign-in of this browser took it meanwhile
        return replace(draft, sid=session.sid)

    def take(self, draft_id: str | None, session: Session, path: str) -> Draft | None:
        """The draft ``session`` was handed for the page ``path``, once (it is removed)."""
        draft = self._live(draft_id)
        if draft is None or draft.sid != session.sid or draft.path != path or not draft_id:
            return None
        return draft if self.stored.drop_draft(draft_id) else None

    def drop(self, draft_id: str | None) -> None:
        if draft_id:
            self.stored.drop_draft(draft_id)


def set_cookie(response: Response, draft_id: str, secure: bool) -> None:
    response.set_cookie(
        DRAFT_COOKIE,
        draft_id,
        max_age=DRAFT_SECONDS,
        path="/",
        httponly=True,
        samesite="strict",
        secure=secure,
    )


def delete_cookie(response: Response, secure: bool) -> None:
    response.delete_cookie(DRAFT_COOKIE, path="/", httponly=True, samesite="strict", secure=secure)
