"""What the benches read of local processes: CPU time from /proc (Linux), a free port.

Imported by the scripts beside it (the script's directory is on ``sys.path``)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")  # clock ticks per second, /proc's unit of CPU time


def proc_stat(pid: int) -> tuple[str, float] | None:
    """A process's state letter and user + system CPU seconds, its threads included (None
    once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return fields[0], (int(fields[11]) + int(fields[12])) / TICK


def process_cpu(pid: int) -> float | None:
    """User + system CPU seconds of a process (None once it is gone)."""
    stat = proc_stat(pid)
    return None if stat is None else stat[1]


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process that must be running."""
    cpu = process_cpu(pid)
    if cpu is None:
        raise ProcessLookupError(f"process {pid} is gone: its CPU time cannot be read")
    return cpu


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
