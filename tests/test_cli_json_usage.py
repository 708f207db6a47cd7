"""With JSON logs asked for (``--log-format json`` or ``LEADSYNC_LOG_FORMAT=json``), a usage
error of the command line is one JSON log line too — every line of stderr parses — with the
command and what was wrong, exit 2 as before."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

LEADSYNC = [str(Path(sys.executable).with_name("leadsync"))]


@pytest.mark.parametrize(
    ("args", "env", "said"),
    [
        (["serve", "--port", "notaport", "--log-format", "json"], {}, "leadsync serve: Invalid value for '--port'"),
        (["worker", "--log-level", "loud"], {"LEADSYNC_LOG_FORMAT": "json"}, "leadsync worker: Invalid value for '--log-level'"),
        (["nosuchcommand"], {"LEADSYNC_LOG_FORMAT": "json"}, "No such command 'nosuchcommand'"),
    ],
)  # fmt: skip
def test_a_usage_error_is_a_json_line(
    tmp_path: object, args: list[str], env: dict[str, str], said: str
) -> None:
    done = subprocess.run(
        [*LEADSYNC, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    assert [line["level"] for line in lines] == ["error"]
    assert said in lines[0]["message"]


def test_text_logs_keep_the_usual_usage_error() -> None:
    done = subprocess.run(
        [*LEADSYNC, "serve", "--port", "notaport"],
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "LEADSYNC_LOG_FORMAT"},
        timeout=60,
        check=False,
    )
    assert done.returncode == 2 and "Usage: leadsync serve" in done.stderr
