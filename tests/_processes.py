"""Stopping the throw-away servers the tests start in their own process groups."""

from __future__ import annotations

import os
import signal
import subprocess


def stop_group(proc: subprocess.Popen, grace: float = 20.0) -> None:  # type: ignore[type-arg]
    """Stop ``proc`` and its children (started with ``start_new_session=True``): TERM, then KILL."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
