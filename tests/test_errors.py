"""Each error class declares its exit code and HTTP status once (leadsync.errors); the CLI's
one error handler and the API's one exception handler answer with what the class declares."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import typer
from fastapi import FastAPI
from typer.testing import CliRunner

from leadsync import errors
from leadsync.api.problems import PROBLEM_TYPE, add_problem_handlers
from leadsync.cli.app import handle_errors
from leadsync.cli.app import state as cli_state
from leadsync.errors import ConfigError, LeadsyncError

ERROR_CLASSES = sorted(
    (
        value
        for value in vars(errors).values()
        if isinstance(value, type) and issubclass(value, LeadsyncError)
    ),
    key=lambda cls: cls.__name__,
)

# What each class declares: the behaviour the faces had before it was declared on the class.
DECLARED = {
    "LeadsyncError": (1, 500, "Internal error"),
    "UserError": (2, 400, "Bad request"),
    "ConfigError": (2, 422, "Invalid settings"),
    "EventError": (2, 422, "Cannot be read"),
    "NotFoundError": (2, 404, "Not found"),
    "SignatureError": (2, 401, "Not authentic"),
    "WorkspaceError": (2, 409, "Conflict"),
    "WorkspaceUpgraded": (2, 409, "Conflict"),
    "TransientError": (1, 503, "Service unavailable"),
}


def an_error(cls: type[LeadsyncError]) -> LeadsyncError:
    if issubclass(cls, ConfigError):
        return cls(["a.yaml:3: owners.0.id: required", "a.yaml:9: teams.sdr: unknown owner"])
    return cls("integration 'dialer' [x]: what is wrong")


def test_every_class_is_listed() -> None:
    assert sorted(DECLARED) == [cls.__name__ for cls in ERROR_CLASSES]


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda cls: cls.__name__)
def test_the_class_declares_its_exit_code_status_and_title(cls: type[LeadsyncError]) -> None:
    assert (cls.exit_code, cls.http_status, cls.title) == DECLARED[cls.__name__]


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda cls: cls.__name__)
def test_the_cli_exits_with_the_code_of_the_class(
    cls: type[LeadsyncError], monkeypatch: pytest.MonkeyPatch
) -> None:
    # leadsync's own entry point resets --json for each command; this bare app does not,
    # and a test before it in the same process may have run one with --json.
    monkeypatch.setattr(cli_state, "as_json", False)
    error = an_error(cls)
    command = typer.Typer()

    @command.command()
    def fail() -> None:
        with handle_errors():
            raise error

    result = CliRunner().invoke(command, [])
    assert result.exit_code == cls.exit_code
    assert result.stdout == ""
    assert result.stderr.splitlines() == [f"error: {line}" for line in error.messages()]


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda cls: cls.__name__)
def test_the_api_answers_with_the_status_of_the_class(cls: type[LeadsyncError]) -> None:
    error = an_error(cls)
    app = FastAPI()
    add_problem_handlers(app)

    @app.get("/fail")
    def fail() -> None:
        raise error

    async def get() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get("/fail")

    response = asyncio.run(get())
    assert response.status_code == cls.http_status
    assert response.headers["content-type"] == PROBLEM_TYPE
    body = response.json()
    assert (body["status"], body["title"], body["instance"]) == (
        cls.http_status,
        cls.title,
        "/fail",
    )
    if isinstance(error, ConfigError):
        assert body["detail"] == f"2 problems; the first: {error.problems[0]}"
        assert body["problems"] == error.problems
    else:
        assert body["detail"] == str(error)
        assert "problems" not in body
