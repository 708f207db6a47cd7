"""The ``leadsync`` command: a thin face over :class:`leadsync.workspace.Workspace`.

Every read has ``--json``; errors a user can fix print one clear message and exit with 2.

- :mod:`~leadsync.cli.app`: the Typer app, its groups, ``--db``, the one error handler, ``main``
- :mod:`~leadsync.cli.render`: the one renderer (JSON, lines, tables, values in plain words)
- a module per command group: :mod:`~leadsync.cli.config` (init, apply, export),
  :mod:`~leadsync.cli.ingest` (ingest, inbox, outbox), :mod:`~leadsync.cli.rollout`
  (preview, replay, rollout), :mod:`~leadsync.cli.monitor` (report, undo, test-lead),
  :mod:`~leadsync.cli.serve` (serve, worker, demo), :mod:`~leadsync.cli.records` (records,
  decisions, owners), :mod:`~leadsync.cli.activities`, :mod:`~leadsync.cli.users`,
  :mod:`~leadsync.cli.lines` (the company's own lines),
  :mod:`~leadsync.cli.dead_letters`, :mod:`~leadsync.cli.review` (the review queue),
  :mod:`~leadsync.cli.hubspot` (owners pull, hubspot, push)

Importing a group's module attaches its commands to the app; ``leadsync --help`` lists the
top-level commands in the order of the imports below.
"""

from __future__ import annotations

# The order of these imports is the order of the commands in `leadsync --help`.
# isort: off
from leadsync.cli import config  # init, apply, export
from leadsync.cli import ingest  # ingest, inbox, outbox
from leadsync.cli import rollout  # preview, replay, rollout
from leadsync.cli import monitor  # report, undo, test-lead
from leadsync.cli import serve  # serve, worker, demo
from leadsync.cli import records  # records, decisions, owners list
from leadsync.cli import activities
from leadsync.cli import users
from leadsync.cli import lines  # lines list
from leadsync.cli import dead_letters
from leadsync.cli import review  # review list, show, resolve
from leadsync.cli import hubspot  # owners pull, hubspot, push

# isort: on
from leadsync.cli.app import app, flow_help, main

flow_help(app)

__all__ = [
    "activities",
    "app",
    "config",
    "dead_letters",
    "hubspot",
    "ingest",
    "lines",
    "main",
    "monitor",
    "records",
    "review",
    "rollout",
    "serve",
    "users",
]
