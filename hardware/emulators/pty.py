"""A pseudo-terminal that stands in for a serial port, with unplug and replug.

``os.openpty`` gives two ends: the *slave*, a real tty device (``/dev/pts/N``)
that a driver opens exactly as it opens ``/dev/ttyUSB0``, and the *master*,
whose file descriptor an emulator reads and writes to play the device. The
slave is put in raw mode so no CR/LF translation or echo touches the bytes.

``hang_up`` closes the master: the driver's reads and writes then fail as
they do when a USB adapter is pulled out, and whatever the driver had not
read yet is gone. ``plug_back`` opens a new pseudo-terminal; its device path
differs from the old one, so a driver that should find it again is given
``link``, a symbolic link kept pointing at the current slave (and removed
while unplugged, like the device node of a USB adapter).
``egate devices emulate --link PATH`` works this way.

With ``watch_flushes`` the master runs in packet mode, which tells when the
driver flushes its input; pyserial does that as the last step of opening a
port, so an emulator knows when bytes it sends will no longer be thrown
away. ``read`` then hides the packet framing.

Linux only: ``peer_open`` relies on the master reporting a hang-up while no
process has the slave open, ``unread`` on asking the slave how much it holds.
"""

from __future__ import annotations

import errno
import fcntl
import os
import secrets
import select
import struct
import termios
import threading
import time
import tty
from pathlib import Path

# Longest a blocked read or write waits before looking again (e.g. for a hang-up).
_SLICE_S = 0.05
_INT = struct.Struct("i")


class PseudoTerminal:
    """A pseudo-terminal pair: the slave's ``port`` for the driver, the master for an emulator.

    Reads and writes of the master should go through ``read`` and ``write``,
    which are safe against a concurrent ``hang_up`` from another thread.
    """

    def __init__(self, link: Path | None = None, *, watch_flushes: bool = False) -> None:
        self._link = link
        self._watch_flushes = watch_flushes
        self._lock = threading.Lock()
        self._master: int | None = None
        self._path: str | None = None
        # Bumped at every hang-up: a read or write that started before it
        # must not touch a descriptor number the system has since reused.
        self._generation = 0
        self._flushed = False
        # Data read from the master while looking for flush notices.
        self._inbox = bytearray()

    def __enter__(self) -> PseudoTerminal:
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def link(self) -> Path | None:
        return self._link

    @property
    def path(self) -> str:
        """The slave device of the current pseudo-terminal, e.g. ``/dev/pts/3``."""
        if self._path is None:
            raise OSError(errno.ENODEV, "the pseudo-terminal is unplugged")
        return self._path

    @property
    def port(self) -> str:
        """What a driver should open: the link when there is one, else the slave's path."""
        return str(self._link) if self._link is not None else self.path

    @property
    def plugged(self) -> bool:
        return self._master is not None

    @property
    def master(self) -> int | None:
        """The master's descriptor, None while unplugged; it changes at every replug.

        It is non-blocking, and in packet mode with ``watch_flushes``. Across
        threads prefer ``read`` and ``write``, which never touch a descriptor
        that a concurrent ``hang_up`` closed.
        """
        return self._master

    def open(self) -> None:
        """Create the pseudo-terminal (and point the link at it)."""
        with self._lock:
            if self._master is not None:
                raise RuntimeError("the pseudo-terminal is already open")
            if self._link is not None and self._link.exists() and not self._link.is_symlink():
                raise FileExistsError(f"{self._link} exists and is not a symbolic link")
            master, slave = os.openpty()
            try:
                tty.setraw(slave)
                path = os.ttyname(slave)
                os.set_blocking(master, False)
                if self._watch_flushes:
                    fcntl.ioctl(master, termios.TIOCPKT, _INT.pack(1))
            except BaseException:
                os.close(master)
                raise
            finally:
                # Holding the slave open ourselves would hide whether a driver has it.
                os.close(slave)
            self._master, self._path = master, path
            self._flushed = False
            self._inbox.clear()
            if self._link is not None:
                self._point_link(path)

    def _point_link(self, target: str) -> None:
        assert self._link is not None
        temporary = self._link.with_name(f".{self._link.name}.{secrets.token_hex(6)}.tmp")
        os.symlink(target, temporary)
        try:
            os.replace(temporary, self._link)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise

    def _remove_link(self, target: str | None) -> None:
        link = self._link
        if link is None or target is None:
            return
        try:
            if link.is_symlink() and os.readlink(link) == target:
                link.unlink()
        except OSError:
            pass  # someone else's link now: leave it

    def hang_up(self) -> None:
        """Unplug: close the master (the driver's I/O fails) and remove the link."""
        with self._lock:
            master, self._master = self._master, None
            path, self._path = self._path, None
            self._generation += 1
            if master is not None:
                os.close(master)
            self._remove_link(path)

    def plug_back(self) -> None:
        """Replug: a new pseudo-terminal, with the link pointing at it."""
        self.open()

    def close(self) -> None:
        """Hang up for good (a no-op when already unplugged)."""
        self.hang_up()

    def peer_open(self) -> bool:
        """Whether some process has the slave open (a driver is listening)."""
        with self._lock:
            if self._master is None:
                return False
            poller = select.poll()
            poller.register(self._master, select.POLLOUT)
            return not any(event & select.POLLHUP for _, event in poller.poll(0))

    def take_flush(self) -> bool:
        """Whether the driver flushed its input since the last call (needs ``watch_flushes``)."""
        with self._lock:
            if self._master is not None and self._watch_flushes:
                self._drain_packets(self._master)
            flushed, self._flushed = self._flushed, False
            return flushed

    def unread(self) -> int:
        """Bytes sent to the driver that it has not read yet (0 when unplugged).

        The kernel hands bytes from the master to the slave a moment after
        they are written: right after a write this may still say 0.
        """
        with self._lock:
            if self._path is None:
                return 0
            # The count lives with the slave; a second descriptor on it is
            # enough to ask (and closing it is harmless while the driver has its own).
            descriptor = os.open(self._path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
            try:
                answer = fcntl.ioctl(descriptor, termios.FIONREAD, _INT.pack(0))
            finally:
                os.close(descriptor)
            count: int = _INT.unpack(answer)[0]
            return count

    def write(self, data: bytes, timeout_s: float = 1.0) -> None:
        """Send ``data`` to the driver.

        ``OSError`` when unplugged, or when the driver takes nothing for ``timeout_s``.
        """
        view = memoryview(data)
        deadline = time.monotonic() + timeout_s
        while view:
            with self._lock:
                if self._master is None:
                    raise OSError(errno.ENODEV, "the pseudo-terminal is unplugged")
                master, generation = self._master, self._generation
                try:
                    view = view[os.write(master, view) :]
                    continue
                except BlockingIOError:
                    pass
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise OSError(errno.ETIMEDOUT, "the driver is not reading")
            self._wait(master, generation, for_write=True, timeout_s=min(remaining, _SLICE_S))

    def read(self, max_bytes: int = 4096, timeout_s: float = 0.0) -> bytes:
        """What the driver wrote, at most ``max_bytes``, waiting up to ``timeout_s`` for it.

        b"" when nothing came (or no driver has the port open); ``OSError``
        when unplugged.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            nobody = False
            with self._lock:
                if self._master is None:
                    raise OSError(errno.ENODEV, "the pseudo-terminal is unplugged")
                master, generation = self._master, self._generation
                if self._watch_flushes:
                    nobody = not self._drain_packets(master)
                else:
                    try:
                        self._inbox += os.read(master, max_bytes)
                    except BlockingIOError:
                        pass
                    except OSError as error:
                        # EIO: no process has the slave open, so nothing can come.
                        if error.errno != errno.EIO:
                            raise
                        nobody = True
                if self._inbox:
                    data = bytes(self._inbox[:max_bytes])
                    del self._inbox[:max_bytes]
                    return data
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return b""
            if nobody:
                # The master reads as ready while nobody is there: do not spin.
                time.sleep(min(remaining, _SLICE_S / 10))
            else:
                self._wait(master, generation, for_write=False, timeout_s=min(remaining, _SLICE_S))

    def _drain_packets(self, master: int) -> bool:
        """Read every pending packet (lock held): data to the inbox, flush notices noted.

        False when no process has the slave open.
        """
        while True:
            try:
                packet = os.read(master, 4097)
            except BlockingIOError:
                return True
            except OSError as error:
                if error.errno != errno.EIO:
                    raise
                return False
            if not packet:
                return True
            if packet[0] == termios.TIOCPKT_DATA:
                self._inbox += packet[1:]
            elif packet[0] & termios.TIOCPKT_FLUSHREAD:
                self._flushed = True

    def _wait(self, master: int, generation: int, *, for_write: bool, timeout_s: float) -> None:
        """Wait until ``master`` is ready, outside the lock so ``hang_up`` is never held up."""
        if generation != self._generation:
            return
        try:
            if for_write:
                select.select([], [master], [], timeout_s)
            else:
                select.select([master], [], [], timeout_s)
        except (OSError, ValueError):
            # Closed by a hang-up meanwhile: the caller looks again under the lock.
            time.sleep(min(timeout_s, 0.001))
