"""A pcscd with vsmartcard's vpcd, for serving virtual chips: the running one, or one started here.

The PC/SC tests and the chip benchmark read virtual chips through the real
PC/SC stack.  ``running_pcscd`` uses a pcscd that already runs, or (as root)
starts ``pcscd --foreground`` and stops it afterwards, and waits until pcscd
lists vpcd's first reader.  When that cannot be had it raises
``PcscdUnavailable`` saying why (what is missing, or what pcscd said), for the
caller to skip, fail or report.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hardware.emrtd.errors import TransportError
from hardware.emrtd.pcsc import list_readers

# vpcd's first slot, the one listening on port 35963.
VPCD_READER = "Virtual PCD 00 00"
# How long pcscd may take to start, or to notice a card arrive (it polls).
SETTLE_SECONDS = 15.0


class PcscdUnavailable(Exception):
    """No pcscd with vpcd's reader can be had here; the message says why."""


def missing_parts() -> list[str]:
    """What of pyscard, pcscd and vpcd is not installed (with how to install it)."""
    missing = []
    if importlib.util.find_spec("smartcard") is None:
        missing.append("pyscard (pip install 'egate[pcsc]')")
    if shutil.which("pcscd") is None and not Path("/usr/sbin/pcscd").exists():
        missing.append("pcscd (apt-get install pcscd)")
    if not glob.glob("/etc/reader.conf.d/*vpcd*"):
        missing.append("vpcd (apt-get install vsmartcard-vpcd)")
    return missing


def readers() -> list[str] | None:
    """The readers pcscd lists, or None when no pcscd answers."""
    try:
        return list_readers()
    except TransportError:
        return None


@contextmanager
def running_pcscd(log: Path | None = None) -> Iterator[str]:
    """A pcscd listing vpcd's reader while the block runs; yields how it came to run.

    A pcscd started here writes to ``log`` (when given) and is stopped at the end.
    """
    missing = missing_parts()
    if missing:
        raise PcscdUnavailable("missing " + ", ".join(missing))
    started: subprocess.Popen[bytes] | None = None
    how = "the running pcscd"
    if readers() is None:
        if os.geteuid() != 0:
            raise PcscdUnavailable("pcscd is not running, and only root may start it")
        binary = shutil.which("pcscd") or "/usr/sbin/pcscd"
        output = log.open("wb") if log is not None else subprocess.DEVNULL
        try:
            started = subprocess.Popen(
                [binary, "--foreground"], stdout=output, stderr=subprocess.STDOUT
            )
        finally:
            if log is not None and not isinstance(output, int):
                output.close()
        how = f"pcscd started here (pid {started.pid})"
    try:
        deadline = time.monotonic() + SETTLE_SECONDS
        while VPCD_READER not in (readers() or []):
            if started is not None and started.poll() is not None:
                said = log.read_text(errors="replace")[-500:] if log is not None else ""
                raise PcscdUnavailable(f"pcscd exited with {started.returncode}: {said}".strip())
            if time.monotonic() > deadline:
                raise PcscdUnavailable(
                    f"pcscd lists no reader {VPCD_READER!r}: is vpcd configured?"
                )
            time.sleep(0.1)
        yield how
    finally:
        if started is not None:
            started.terminate()
            try:
                started.wait(10)
            except subprocess.TimeoutExpired:
                started.kill()
                started.wait()
