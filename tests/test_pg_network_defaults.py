"""A PostgreSQL server that goes silent (its host down, a network cut) is an outage within
seconds, not after the kernel's quarter hour: libpq's timeouts and keepalives are set unless
the URL sets its own, and a server that accepts the connection but never answers ends the
attempt at its ``connect_timeout``."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from leadsync.store.database import NETWORK_DEFAULTS, create_db_engine


def test_the_network_timeouts_are_set_unless_the_url_sets_its_own() -> None:
    engine = create_db_engine("postgresql://postgres@127.0.0.1:5432/test?connect_timeout=3")
    try:
        seen: dict[str, object] = {}

        @sa.event.listens_for(engine, "do_connect")
        def record(
            dialect: object, conn_rec: object, cargs: object, cparams: dict[str, object]
        ) -> None:
            seen.update(cparams)
            raise ConnectionRefusedError("recorded, not connected")

        with pytest.raises(ConnectionRefusedError), engine.connect():
            pass
    finally:
        engine.dispose()
    assert seen["connect_timeout"] == "3"  # the URL's
    for name, value in NETWORK_DEFAULTS.items():
        if name != "connect_timeout":
            assert seen[name] == value, name


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP server that accepts connections and never says a word."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for connection in held:
        connection.close()
    listener.close()


def test_a_server_that_never_answers_ends_the_attempt_at_its_timeout(silent_server: int) -> None:
    engine = create_db_engine(
        f"postgresql://postgres@127.0.0.1:{silent_server}/test?connect_timeout=2"
    )
    try:
        with pytest.raises(sa.exc.OperationalError, match="timeout"), engine.connect():
            pass
    finally:
        engine.dispose()
