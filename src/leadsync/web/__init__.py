"""The web console: server-rendered pages (Jinja2) with htmx for partial updates, served by
``leadsync serve`` at ``/`` beside the webhooks and the admin API.

A face like the CLI and the API: it holds no logic. Conventions every page follows:

**A page is a module** of this package with ``router = page_router()`` (from :mod:`.console`:
an ``APIRouter`` whose routes answer in HTML and are left out of the OpenAPI document),
added to ``PAGES`` in :mod:`.app`. A handler is a few lines:
it takes a :class:`~leadsync.web.console.Page` through a dependency, calls ``Workspace``
(or an ``ops`` result that ``Workspace`` returns), and returns ``page.render("x.html",
name=value)``. No SQL, no rule, no threshold in a handler or a template: a number the page
needs and ``Workspace`` lacks becomes a ``Workspace`` method over ``ops``/``store`` first
(see :mod:`leadsync.ops.overview` for the front page's).

**Slow numbers come from the health snapshot.** The 7-day report and the per-day charts
take seconds on a large workspace, so no page computes them: ``Console.health_snapshot()``
is the service's newest (:mod:`leadsync.ops.snapshot`, taken in a thread), or None while
the first is taken — then the page renders ``snapshot_pending.html`` at once, which polls
(:mod:`.health_snapshot`). A page that shows it includes ``snapshot_status.html`` ("as of",
"Refresh now"). Without the service's thread, each view takes its own.

**Access.** Declare the handler's page as ``Viewing`` (any signed-in session; GET pages)
or ``Changing`` (an admin session and the session's CSRF token: every POST/PUT/DELETE that
changes something). ``Posting`` is CSRF without the admin role (sign-out only). Without a
session the browser goes to ``/login?next=…``; a viewer's change and a missing or wrong
CSRF token are 403 pages, and nothing changed. Never check ``session.role`` by hand.

**Errors.** Raise leadsync's errors (``NotFoundError`` …) or :class:`~.console.Refused`;
the route class renders ``error.html`` with their status and a link back (``Refused``'s
``back``, else the page a form's post came from). A change refused because what it changes
changed meanwhile (a 409: a letter dismissed in another tab) is
:func:`~.console.not_done`: what was not done, why, a link back to its page. For an htmx
request the error is swapped into ``#messages`` (``HX-Retarget``), whatever the request
targeted. A form whose
input is wrong renders its own page again with the error beside the field and what was
typed kept; a form that did its work redirects (303) to its page, with what it has to say
in a one-time message (:mod:`.flash`). A browser's 404/405 outside any page gets the error
page in the console's layout (:mod:`.html_errors`). Messages never
hold a secret: a malformed form's 400 names the fields, never their values. A wrong part of
the address is named with what it allows, never echoed: a path segment is 404, a query
parameter 400 — and so is one the page does not take (a GET page ignores no parameter).

**Templates** (``templates/``) start with ``{% extends layout %}``: ``layout`` is
``base.html`` (the whole page: skip link, navigation, sign-out) or ``fragment.html`` (only
``{% block content %}``, for an htmx request), so one template serves both. A fragment
swapped into part of a page is a template of its own (``test_lead_result.html``), included
by the full page. Every change form has ``{{ csrf_field() }}`` and its button is
``{{ change_button(label, can_change) }}`` (``macros.html``): disabled for a viewer, with
the reason beside it. htmx requests carry the token in ``X-CSRF-Token`` (set on ``<body>``).
Every control has a ``<label for>``; tables sit in ``.table-wrap`` (they scroll on a
phone); times go through the ``when`` filter. Pages must work without JavaScript (forms
post and redirect); htmx only saves a reload.

**Assets** (``static/``, at ``/static``) come from the package, never a CDN: htmx 2 and
uPlot (for charts) are vendored in ``static/vendor/`` with their licences (README.txt there
says which versions); ``console.css`` is ours.

**Sign-in and sessions**: :mod:`.auth` (admin token or console password → admin; viewer
token → viewer; signed, expiring, HttpOnly SameSite=Strict cookies, Secure over https). A
form sent after the session ended is kept through the sign-in (:mod:`.drafts`): a page that
fills its form again marks its POST handler ``@keeps_draft`` and, in its GET handler, fills
the form from ``page.kept_draft()`` (the layout then says it is not saved).

**Tests**: ``tests/test_console_*.py``; plain HTTP against a live server for the rules
(SQLite and PostgreSQL), Playwright in Debian's Chromium for what a person does
(``tests/browser.py``).
"""

from __future__ import annotations

from .app import add_console
from .console import ConsoleOptions

__all__ = ["ConsoleOptions", "add_console"]
