"""The command line's messages as a new user reads them: counts whose noun agrees with the
number, the database named as it was typed, mistakes the user can fix said as such (exit 2),
and a table that wraps at word boundaries at 80 columns."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from rich.console import Console
from typer.testing import CliRunner

from leadsync.cli import app, render
from leadsync.progress import WorkProgress
from leadsync.results import counted
from leadsync.store.database import redact, resolve_url
from leadsync.workspace import Workspace
from tests.conftest import PG_ENV, scratch_postgres
from tests.helpers import EXAMPLE_YAML, KIM_CONTACT, settings, workspace_config
from tests.live import configure
from tests.test_review_faces import ask_owner, queue_questions

CONTACT = KIM_CONTACT
CALL = {
    "id": "e2",
    "occurred_at": "2026-11-01T09:10:00Z",
    "type": "activity",
    "activity": "call",
    "external_id": "c-1",
    "owner": "u-1",
    "properties": {"direction": "outbound", "duration_s": 95, "outcome": "connected"},
    "associations": [{"object": "contact", "external_id": "p-1"}],
}


class Cli:
    def __init__(self, db: str) -> None:
        self.db, self.runner = db, CliRunner()

    def __call__(self, *args: str, code: int = 0, input: str | None = None) -> Any:
        result = self.runner.invoke(app, ["--db", self.db, *args], input=input)
        assert result.exit_code == code, result.stdout + result.stderr
        return result


# ------------------------------------------------------------------- counts in words


@pytest.mark.parametrize(
    ("n", "noun", "plural", "text"),
    [
        (0, "alert", None, "0 alerts"),
        (1, "alert", None, "1 alert"),
        (2, "alert", None, "2 alerts"),
        (1, "activity", "activities", "1 activity"),
        (3, "activity", "activities", "3 activities"),
        (1, "dead letter", None, "1 dead letter"),
        (12_000, "line", None, "12,000 lines"),
    ],
)
def test_a_count_says_its_noun_in_the_number_it_has(
    n: int, noun: str, plural: str | None, text: str
) -> None:
    assert counted(n, noun, plural) == text


def test_the_commands_say_one_of_a_thing_in_the_singular(db_url: str, tmp_path: Path) -> None:
    (tmp_path / "leadsync.yaml").write_text(EXAMPLE_YAML)
    (tmp_path / "contact.jsonl").write_text(json.dumps(CONTACT) + "\n")
    (tmp_path / "call.jsonl").write_text(json.dumps(CALL) + "\n")
    cli = Cli(db_url)
    cli("apply", str(tmp_path / "leadsync.yaml"))

    ingested = cli("ingest", "dialer", str(tmp_path / "contact.jsonl")).stdout
    assert "dialer: 1 line, 1 accepted, 0 duplicates, 0 dead letters\n" in ingested
    assert "applied 1 event: 1 record created; owners 1 set," in ingested
    replayed = cli("replay", "dialer", "--settings", str(tmp_path / "leadsync.yaml")).stdout
    assert "replayed 1 inbox event (1 of them dialer's) (0 unreadable); 1 record compared" in (
        replayed
    )
    previewed = cli("preview", "dialer", str(tmp_path / "call.jsonl")).stdout
    assert "preview of 1 event (nothing written): 0 records created;" in previewed
    cli("ingest", "dialer", str(tmp_path / "call.jsonl"))
    [found] = json.loads(cli("records", "find", "--email", "kim@globex.test", "--json").stdout)
    shown = cli("records", "show", "contact", str(found["id"])).stdout
    assert "owner history (1 decision," in shown and "timeline (1 activity)" in shown

    # JSON lines with a bad line: its dead letter (a stream of no JSON at all is refused).
    cli("ingest", "dialer", "-", input=f"not json\n{json.dumps(CONTACT)}\n", code=2)
    report = cli("report", "--since", "3650d", code=1).stdout
    assert re.search(r": 1 alert\n", report), report
    assert (
        "dismissed 1 dead letter ("
        in cli("dead-letters", "dismiss", "--all", "--reason", "a typo").stdout
    )
    assert re.search(r": 0 alerts\n", cli("report", "--since", "3650d").stdout)

    cli("test-lead", "dialer", "--rep", "u-1")
    removed = cli("test-lead", "--cleanup").stdout
    assert removed == "removed 1 test record and 1 test activity\n"
    assert cli("inbox", "process").stdout == "applied 0 pending events\n"
    assert cli("worker", "--once").stdout == "applied 0 events\n"


def test_worker_once_says_the_dead_letters_it_made(db_url: str, tmp_path: Path) -> None:
    """``worker --once`` says each row it dead-lettered, as ``inbox process`` does, instead of
    only "applied 0 events"."""
    from leadsync.pipeline.inbox import InboxItem, write_items

    (tmp_path / "leadsync.yaml").write_text(EXAMPLE_YAML)
    cli = Cli(db_url)
    cli("apply", str(tmp_path / "leadsync.yaml"))
    with Workspace(db_url) as ws, ws.engine.begin() as connection:
        item = InboxItem("e-1", None, json.dumps(CONTACT))
        write_items(connection, "gone", [item], "2026-11-01T09:00:00.000Z", "webhook", "pending")
    ran = cli("worker", "--once", "--no-push")
    assert ran.stdout == "applied 0 events\n"
    assert re.fullmatch(
        r"dead letter: webhook \(inbox #\d+\): integration 'gone' is no longer configured\n",
        ran.stderr,
    ), ran.stderr


def test_apply_says_what_removing_an_integration_leaves_behind(db_url: str, tmp_path: Path) -> None:
    """A file that renames ``dialer`` to ``dialer-eu`` removes one integration and adds
    another: the dry run and the apply warn that dialer's records stay, its pending events
    will not be applied, and that dialer-eu does not take over its ids (it said only
    "integrations added / removed"). One that held nothing is removed without a word."""
    from leadsync.pipeline.inbox import InboxItem, write_items

    (tmp_path / "leadsync.yaml").write_text(EXAMPLE_YAML)
    cli = Cli(db_url)
    cli("apply", str(tmp_path / "leadsync.yaml"))
    cli("ingest", "dialer", "-", input=json.dumps(CONTACT) + "\n")
    with Workspace(db_url) as ws, ws.engine.begin() as connection:
        later = {**CONTACT, "id": "e-9", "external_id": "p-9"}
        items = [InboxItem("e-9", None, json.dumps(later))]
        write_items(connection, "dialer", items, "2026-11-01T09:00:00.000Z", "webhook", "pending")
    renamed = tmp_path / "renamed.yaml"
    renamed.write_text(EXAMPLE_YAML.replace("  dialer:\n", "  dialer-eu:\n"))
    warned = (
        "warning: integration dialer is removed: the 1 record its ids name stay and its 1 "
        "event not yet applied will not be (a dead letter each); dialer-eu, added with the "
        "same kind, does not take over its ids: its events make new records for them "
        "(integrations are known by their name; to rename it, keep dialer's name)"
    )
    planned = cli("apply", str(renamed), "--dry-run")
    assert warned in " ".join(planned.stderr.split()), planned.stderr
    as_json = json.loads(cli("apply", str(renamed), "--dry-run", "--json").stdout)
    assert [" ".join(w.split()) for w in as_json["warnings"]] == [warned.removeprefix("warning: ")]
    applied = cli("apply", str(renamed))
    assert warned in " ".join(applied.stderr.split()) and "dialer-eu" in applied.stdout
    back = cli("apply", str(tmp_path / "leadsync.yaml"))  # dialer-eu held nothing
    assert "warning" not in back.stderr, back.stderr


def test_the_counterparts_line_says_one_in_the_singular(
    capsys: pytest.CaptureFixture[str],
) -> None:
    found = {"matched_by_number": 1, "held": 1, "attached_later": 1, "queued_for_review": 1,
             "internal": 0}  # fmt: skip
    render.counterparts(found)
    assert capsys.readouterr().out == (
        "counterparts: 1 matched by number, 1 held for an unknown number, 1 held one "
        "attached, 1 question for the review queue\n"
    )
    render.counterparts({**found, "internal": 1})  # said only when there are some
    assert capsys.readouterr().out.endswith("for the review queue, 1 internal call\n")


def test_progress_of_one_event_says_event() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=200)
    ticks = iter([0.0, 1.0, 2.0])
    with WorkProgress(console, "replay", 1, interval_s=0, clock=lambda: next(ticks)) as work:
        work.update(1)
    assert out.getvalue().splitlines() == [
        "replay: 1 of 1 event (100 %)",
        "replay: done: 1 event in 2 s",
    ]


# -------------------------------------------------------------- the database as typed


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The current folder, with no LEADSYNC_DB: only what a test names counts."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LEADSYNC_DB", raising=False)
    return tmp_path


def test_init_names_the_database_as_typed(folder: Path) -> None:
    runner = CliRunner()
    for typed in ("scratch1.db", f"sqlite:///{folder / 'scratch2.db'}"):
        result = runner.invoke(app, ["--db", typed, "init"])
        assert result.exit_code == 0, result.stderr
        assert result.stdout == f"workspace {typed}: schema created or upgraded\n"
    from_env = runner.invoke(app, ["init"], env={"LEADSYNC_DB": "scratch1.db"})
    assert (
        from_env.stdout == "workspace scratch1.db (from LEADSYNC_DB): schema already up to date\n"
    )


def test_init_names_a_postgresql_database_as_typed(postgres_url: str) -> None:
    typed = postgres_url.replace("postgresql+psycopg://", "postgresql://", 1)
    result = CliRunner().invoke(app, ["--db", typed, "init"])
    assert result.exit_code == 0, result.stderr
    shown = sa.engine.make_url(postgres_url).render_as_string(hide_password=True)
    shown = shown.replace("postgresql+psycopg://", "postgresql://", 1)
    assert result.stdout == f"workspace {shown}: schema already up to date\n"


def test_a_url_made_safe_to_print_shows_no_driver_and_no_password() -> None:
    assert redact(resolve_url("postgresql://kim:hunter2@h:5432/db")) == (
        "postgresql://kim:***@h:5432/db"
    )
    assert redact(resolve_url("postgres://kim@h/db")) == "postgresql://kim@h/db"
    assert redact(resolve_url("x.db")) == "sqlite:///x.db"


# --------------------------------------------------- what the user can fix: exit 2


def test_the_demo_into_a_folder_that_does_not_exist_names_the_folder(folder: Path) -> None:
    target = folder / "no" / "such" / "x.db"
    result = CliRunner().invoke(app, ["demo", "--file", str(target)])
    assert result.exit_code == 2, result.stdout + result.stderr
    assert result.stderr.startswith(
        f"error: --file {target}: the folder {target.parent} does not exist; create it first"
    )
    assert "sqlite:" not in result.stderr and "unreachable" not in result.stderr
    assert not (folder / "no").exists()


def test_a_postgresql_database_that_does_not_exist_is_the_users_to_fix(postgres_url: str) -> None:
    # The fixture: the server is there (or the test is skipped, as every PostgreSQL test).
    admin = os.environ[PG_ENV]
    server = sa.engine.make_url(resolve_url(admin))
    name = f"leadsync_no_such_{uuid.uuid4().hex[:8]}"
    typed = server.set(drivername="postgresql", database=name).render_as_string(hide_password=False)
    runner = CliRunner()
    for command in (["owners", "list"], ["init"]):
        result = runner.invoke(app, ["--db", typed, *command])
        assert result.exit_code == 2, result.stderr
        message = " ".join(result.stderr.split())
        assert "unreachable" not in message
        assert f"{name} does not exist on the PostgreSQL server at {server.host}:" in message
        assert "then run leadsync init, which creates the tables but not the database" in message
        assert f"createdb -h {server.host}" in message and message.count(name) >= 2
    engine = sa.create_engine(resolve_url(admin))
    with engine.connect() as connection:
        exists = connection.exec_driver_sql(
            "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
        ).first()
    engine.dispose()
    assert exists is None  # init made nothing


def test_a_role_the_server_does_not_have_is_the_users_to_fix(postgres_url: str) -> None:
    """The server answered and refused for good (FATAL): exit 2, not "unreachable" (exit 1,
    which a cron job would retry forever)."""
    server = sa.engine.make_url(resolve_url(os.environ[PG_ENV]))
    role = f"no_such_role_{uuid.uuid4().hex[:6]}"
    typed = server.set(drivername="postgresql", username=role, password=None).render_as_string()
    result = CliRunner().invoke(app, ["--db", typed, "owners", "list"])
    assert result.exit_code == 2, result.stderr
    message = " ".join(result.stderr.split())
    assert f'the server refused the connection: role "{role}" does not exist' in message
    assert "unreachable" not in message and "Traceback" not in message


@pytest.mark.parametrize(
    ("query", "said", "allowed"),
    [
        (
            "sslmode=bogus",
            'invalid sslmode value: "bogus"',
            "allowed sslmode values: disable, allow, prefer, require, verify-ca, verify-full",
        ),
        ("connect_timeout=abc", "bad value for connect_timeout: 'abc'", "allowed: "),
        (
            "bogusopt=1",
            'invalid connection option "bogusopt"',
            "allowed: libpq's connection options",
        ),
    ],
)
def test_a_url_option_the_driver_refuses_is_named_without_a_traceback(
    query: str, said: str, allowed: str
) -> None:
    """Refused before any connection, whatever the server: exit 2, the password hidden."""
    typed = f"postgresql://kim:s3cret-pw@127.0.0.1:1/leadsync?{query}"
    result = CliRunner().invoke(app, ["--db", typed, "owners", "list"])
    assert result.exit_code == 2, result.stderr
    assert result.stderr.startswith("error: database postgresql://kim:***@127.0.0.1:1/")
    message = " ".join(result.stderr.split())
    assert said in message and allowed in message
    assert "s3cret-pw" not in result.stderr and "Traceback" not in result.stderr


def test_a_password_holding_an_unencoded_at_sign_is_refused_without_showing_it() -> None:
    """The driver read a password's rest as the host and named it: "failed to resolve host
    'Secret99@db.internal'" (exit 1, as if a retry could help; found by a probe)."""
    typed = "postgresql://app:Sup3r@Secret99@db.internal:5432/postgres"
    result = CliRunner().invoke(app, ["--db", typed, "owners", "list"])
    assert result.exit_code == 2, result.stderr
    assert " ".join(result.stderr.split()) == (
        "error: database postgresql://app:***@db.internal:5432/postgres: its password holds "
        "'@' (a URL's first '@' ends the password); allowed: "
        "postgresql://USER:PASSWORD@HOST:PORT/DBNAME with '@', ':' and '/' in the user or the "
        "password written %40, %3A and %2F"
    )
    assert "Sup3r" not in result.stderr and "Secret99" not in result.stderr


def test_a_port_that_is_not_a_number_is_said_so(folder: Path) -> None:
    result = CliRunner().invoke(app, ["--db", "postgresql://kim@h:port5/db", "owners", "list"])
    assert result.exit_code == 2, result.stderr
    assert "is not a URL (its port is not a number)" in result.stderr


def test_a_server_that_does_not_answer_stays_transient(folder: Path) -> None:
    typed = "postgresql://kim@127.0.0.1:1/leadsync"
    result = CliRunner().invoke(app, ["--db", typed, "owners", "list"])
    assert result.exit_code == 1, result.stderr
    assert f"database {typed} unreachable" in result.stderr


# ------------------------------------------------------------- tables at 80 columns


def words_of(output: str) -> set[str]:
    """The words a table shows: what lies between blanks and the box's borders."""
    return set(re.findall(r"[^\s│┃]+", output))


@pytest.mark.parametrize("status", ["open", "all"])
def test_review_list_never_cuts_a_word_at_80_columns(db_url: str, status: str) -> None:
    with Workspace(db_url) as ws:
        configure(ws)
        queue_questions(ws)
        ask_owner(ws)
        items = ws.review_items().items
    result = CliRunner().invoke(
        app, ["--db", db_url, "review", "list", "--status", status], env={"COLUMNS": "80"}
    )
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    shown = words_of(result.stdout)
    shown |= {word.removesuffix(":") for word in shown}  # "question: …" below its row's line
    headings = {"id", "kind", "integration", "question", "candidates", "created"}
    assert headings | ({"status"} if status == "all" else set()) <= shown
    for item in items:
        assert {item.kind, item.integration, item.status} <= shown
        assert set(item.question.split()) <= shown, (item.question, result.stdout)


@pytest.mark.parametrize(
    ("args", "said"),
    [
        ([], "no open questions in the review queue\n"),
        (["--status", "all"], "no questions in the review queue\n"),
        (["--kind", "email"], "no questions match the filters given\n"),
    ],
)
def test_an_empty_review_list_says_so_in_words(db_url: str, args: list[str], said: str) -> None:
    """It printed an empty table whose heading stood on two lines (found by a probe)."""
    with Workspace(db_url) as ws:
        configure(ws)
    result = CliRunner().invoke(app, ["--db", db_url, "review", "list", *args])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(said) and "┏" not in result.stdout, result.stdout


def test_the_command_list_flows_each_docstring_at_80_columns() -> None:
    from typer.testing import CliRunner

    from leadsync.cli import app

    shown = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "80", "TERMINAL_WIDTH": "80"})
    assert shown.exit_code == 0
    lines = shown.stdout.splitlines()
    # A line break of the docstring no longer ends a line early: the sentence runs on.
    [apply] = [line for line in lines if "│ apply " in line]
    assert "(idempotent; all or nothing; recorded" in " ".join(
        lines[lines.index(apply) : lines.index(apply) + 2]
    )
    assert all(len(line) <= 80 for line in lines)


@pytest.mark.parametrize("command", [["serve"], ["hubspot", "fake"]])
def test_a_port_taken_is_exit_2_naming_the_option_before_anything_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    import socket

    monkeypatch.setenv("HUBSPOT_TOKEN", "t")
    db = f"sqlite:///{tmp_path / 'ws.db'}"
    assert CliRunner().invoke(app, ["--db", db, "init"]).exit_code == 0
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(app, ["--db", db, *command, "--port", str(port)])
    assert result.exit_code == 2, result.output
    assert f"--port {port}: cannot listen on 127.0.0.1: [Errno 98]" in result.output
    assert "STAND-IN" not in result.output  # it says where it runs only once it can


@pytest.mark.parametrize(
    ("said", "fixable"),
    [
        ('FATAL:  role "kim" does not exist', True),
        ('FATAL:  password authentication failed for user "kim"', True),
        ('FATAL:  no pg_hba.conf entry for host "10.0.0.9", user "kim"', True),
        ("FATAL:  the database system is starting up", False),
        ("FATAL:  the database system is in recovery mode", False),
        ("FATAL:  the database system is not yet accepting connections", False),
        ("FATAL:  sorry, too many clients already", False),
        ("FATAL:  remaining connection slots are reserved for roles with privileges", False),
        ("FATAL:  terminating connection due to administrator command", False),
        ("Connection refused\n\tIs the server running on that host?", False),
    ],
)
def test_which_refusals_are_the_users_to_fix_and_which_pass(said: str, fixable: bool) -> None:
    """A refusal that does not pass by itself is exit 2; a server down, starting, full or
    restarting stays exit 1 (try again)."""
    from leadsync.store.refusals import refusal

    url = sa.engine.make_url("postgresql://kim@127.0.0.1/leadsync")
    error = sa.exc.OperationalError("connect", {}, Exception(f"connection failed: {said}"))
    assert (refusal(url, error) is not None) is fixable


def test_a_role_without_rights_on_the_workspace_is_told_so_not_given_url_forms() -> None:
    """The server refused a statement (permission denied: it names an SQLSTATE): exit 2 with
    its words, and no list of URL forms, which would point at the wrong thing."""
    role = f"ls_no_rights_{uuid.uuid4().hex[:6]}"
    with scratch_postgres("leadsync_rights") as url:
        admin = sa.create_engine(resolve_url(url), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.exec_driver_sql(f"CREATE ROLE {role} LOGIN")
        try:
            typed = sa.engine.make_url(resolve_url(url)).set(username=role, password=None)
            shown = typed.render_as_string()
            result = CliRunner().invoke(app, ["--db", shown, "owners", "list"])
            assert result.exit_code == 2, result.stderr
            message = " ".join(result.stderr.split())
            assert "permission denied for table alembic_version" in message
            assert "allowed: sqlite:///PATH" not in message and "Traceback" not in message
        finally:
            with admin.connect() as connection:
                connection.exec_driver_sql(f"DROP OWNED BY {role}")
                connection.exec_driver_sql(f"DROP ROLE {role}")
            admin.dispose()


SETPRIV = shutil.which("setpriv")
# Root passes every file's mode: the commands run without the capabilities that let it.
AS_A_USER = (
    [SETPRIV, *("--bounding-set", "-dac_override,-dac_read_search,-fowner")]
    + ["--inh-caps", "-dac_override,-dac_read_search,-fowner"]
    if os.geteuid() == 0 and SETPRIV
    else []
)


@pytest.mark.skipif(
    os.geteuid() == 0 and not SETPRIV,
    reason="run as root, file modes do not bind, and setpriv (util-linux) is not installed to "
    "drop the capabilities that pass them: the read-only file cannot be made",
)
def test_a_read_only_sqlite_file_or_folder_is_the_users_to_fix(tmp_path: Path) -> None:
    """Exit 2 saying what to fix, not "unreachable" (exit 1: a cron job retries it forever,
    and the words point at a network)."""
    folder = tmp_path / "ro"
    folder.mkdir()
    db = folder / "ws.db"
    assert CliRunner().invoke(app, ["--db", str(db), "init"]).exit_code == 0
    db.chmod(0o444)
    folder.chmod(0o555)
    leadsync = str(Path(sys.executable).parent / "leadsync")
    try:
        for target, command in ((db, ["owners", "list"]), (folder / "new.db", ["init"])):
            done = subprocess.run(
                [*AS_A_USER, leadsync, "--db", str(target), *command],
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert done.returncode == 2, done.stderr
            assert done.stderr.startswith(f"error: database {target}: SQLite cannot write it ("), (
                done.stderr
            )
            assert "the file or its folder is read-only to this user" in done.stderr
            assert "unreachable" not in done.stderr
    finally:
        folder.chmod(0o755)


@pytest.mark.skipif(
    os.geteuid() == 0 and not SETPRIV,
    reason="run as root, file modes do not bind, and setpriv (util-linux) is not installed to "
    "drop the capabilities that pass them: the read-only file cannot be made",
)
def test_a_read_only_sqlite_file_in_a_writable_folder_is_the_users_to_fix_when_written(
    tmp_path: Path,
) -> None:
    """It opens and reads; the first write said 'attempt to write a readonly database' in a
    traceback (exit 1), and the worker took it for an outage to wait out for ever."""
    db = tmp_path / "ws.db"
    with Workspace(f"sqlite:///{db}", create=True) as ws:
        ws.apply_config(workspace_config({"dialer": settings()}))
    db.chmod(0o444)
    events = tmp_path / "events.jsonl"
    events.write_text(json.dumps(KIM_CONTACT) + "\n")
    leadsync = str(Path(sys.executable).parent / "leadsync")
    done = subprocess.run(
        [*AS_A_USER, leadsync, "--db", str(db), "ingest", "dialer", str(events)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "SQLite cannot write it (attempt to write a readonly database)" in done.stderr
    assert "Traceback" not in done.stderr


def test_an_ingest_interrupted_says_how_far_it_read_and_how_to_go_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C mid-ingest exited 130 with nothing on stderr; then it did not say how many
    lines were stored (found by a probe)."""
    db = tmp_path / "ws.db"
    runner = CliRunner()
    assert runner.invoke(app, ["--db", str(db), "init"]).exit_code == 0
    events = tmp_path / "events.jsonl"
    events.write_text("".join(f'{{"id": "e{i}"}}\n' for i in range(1500)))

    def interrupted(self: Any, integration: str, lines: Any, **options: Any) -> None:
        read = iter(lines)
        for _n in range(1000):
            next(read)
        options["on_progress"](1000)  # a chunk stored and applied
        for _n in range(200):
            next(read)
        raise KeyboardInterrupt

    monkeypatch.setattr("leadsync.workspace.Workspace.ingest", interrupted)
    monkeypatch.setattr("leadsync.workspace.Workspace.integration", lambda self, name: None)
    result = runner.invoke(app, ["--db", str(db), "ingest", "dialer", str(events)])
    assert result.exit_code == 130
    said = " ".join(result.stderr.split())
    assert f"interrupted after reading 1,200 lines of {events}; the 1,000 before the chunk " in said
    assert "under way were stored and applied, and stay so: run the same command again" in said


def test_ingesting_a_file_again_reports_an_element_still_a_dead_letter(tmp_path: Path) -> None:
    """A line holding an array: its bad element is a dead letter the first time; run again,
    the line's elements are duplicates and the run passed as clean (exit 0, "0 dead
    letters") while the letter was still open. It is reported again, as a bad line is."""
    db = tmp_path / "ws.db"
    with Workspace(f"sqlite:///{db}", create=True) as ws:
        ws.apply_config(workspace_config({"dialer": settings()}))
    events = tmp_path / "arr.jsonl"
    bad = {**KIM_CONTACT, "id": "arr2", "type": "zzz"}
    events.write_text(json.dumps([{**KIM_CONTACT, "id": "arr1"}, bad]) + "\n")
    runner = CliRunner()
    command = ["--db", str(db), "ingest", "dialer", str(events)]
    first = runner.invoke(app, command)
    assert first.exit_code == 2 and "'zzz'" in first.stderr, first.stderr
    again = runner.invoke(app, command)
    assert again.exit_code == 2, again.output
    assert "'zzz'" in again.stderr and "arr.jsonl:1" in again.stderr
    with Workspace(f"sqlite:///{db}") as ws:
        assert len(ws.dead_letters()) == 1  # reported again, not kept twice
        ws.dismiss_dead_letters([ws.dead_letters()[0]["id"]], "seen")
    assert runner.invoke(app, command).exit_code == 0  # dismissed: nothing open to report


def test_a_line_accepted_is_not_reported_for_another_deliverys_letter(tmp_path: Path) -> None:
    """Another delivery of an event the inbox holds, refused for its own fields (a time
    before 1973), leaves a letter under the event's id: a file ingested again reported it at
    the good line's place, though that line was accepted (found by CI's fuzzing)."""
    with Workspace(f"sqlite:///{tmp_path / 'ws.db'}", create=True) as ws:
        ws.apply_config(workspace_config({"dialer": settings()}))
        good = json.dumps({**KIM_CONTACT, "id": "k1"})
        assert ws.ingest("dialer", [good], source="good.jsonl").accepted == 1
        bad = json.dumps({**KIM_CONTACT, "id": "k1", "occurred_at": "1900-01-01T00:00:00Z"})
        assert len(ws.ingest("dialer", [bad], source="bad.jsonl").dead_letters) == 1
        again = ws.ingest("dialer", [good], source="good.jsonl")
        assert (again.duplicates, list(again.dead_letters)) == (1, [])
        assert len(ws.dead_letters()) == 1  # still open: it is the other delivery's
        # The bad line ingested again is still reported.
        assert len(ws.ingest("dialer", [bad], source="bad.jsonl").dead_letters) == 1


@pytest.mark.parametrize(
    ("host", "said"),
    [
        ("999.1.1.1", "--host 999.1.1.1: not an address, nor a name this machine resolves ("),
        ("192.0.2.1", "--host 192.0.2.1: not an address of this machine ("),
    ],
)
def test_a_host_nothing_can_listen_on_is_named_not_the_port(
    tmp_path: Path, host: str, said: str
) -> None:
    """``serve --host 999.1.1.1 --port 58503`` said "--port 58503: cannot listen on …"
    (found by a probe): the host is what is wrong."""
    db = f"sqlite:///{tmp_path / 'ws.db'}"
    assert CliRunner().invoke(app, ["--db", db, "init"]).exit_code == 0
    result = CliRunner().invoke(app, ["--db", db, "serve", "--host", host, "--port", "58999"])
    assert result.exit_code == 2, result.output
    assert said in result.output and "allowed: " in result.output
    assert "--port" not in result.output


def test_apply_says_numbers_read_before_a_region_is_set_stay_as_they_were_read(
    db_url: str, tmp_path: Path
) -> None:
    """The report says to set region: for national numbers; setting it re-reads none of the
    numbers already stored, and said nothing of it: apply says so."""
    (tmp_path / "leadsync.yaml").write_text(EXAMPLE_YAML)
    cli = Cli(db_url)
    cli("apply", str(tmp_path / "leadsync.yaml"))
    contact = {**CONTACT, "properties": {**CONTACT["properties"], "phone": "(415) 555-0500"}}
    cli("ingest", "dialer", "-", input=json.dumps(contact) + "\n")
    regional = tmp_path / "regional.yaml"
    regional.write_text(
        EXAMPLE_YAML.replace("    kind: generic\n", "    kind: generic\n    region: US\n", 1)
    )
    applied = cli("apply", str(regional))
    assert (
        "warning: region changes for dialer (none → US): it reads the numbers events give from "
        "now on; the 1 phone number of contacts and leads stored that does not read as a "
        "number stays as read, and no call is matched by it"
    ) in " ".join(applied.stderr.split()), applied.stderr
    with Workspace(db_url) as ws, ws.engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT number, valid FROM record_phones")).all()
    assert [(r[0], bool(r[1])) for r in rows] == [("(415) 555-0500", False)]  # as it was read
    assert "region changes" not in cli("apply", str(regional)).stderr  # no change: no word
