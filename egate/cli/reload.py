"""SIGHUP for ``egate run``: read the stop list again without a restart.

Authorities publish new lists of lost and stolen documents often; a gate
must take them without dropping the traveller inside.  On SIGHUP (``systemctl
reload egate``) the policy's stop list file is read and hashed in a thread
of its own, so a long list never stalls the service loop; the loop then puts
the new list in force between two rounds.  A file that cannot be read keeps
the old list in force.  Either way one ``service`` audit record
(``"event": "reload"``) and one log line say what happened.

The signal handler only counts requests: it runs between two bytecodes of
the main thread and must take no lock.  Requests that arrive during a load
are served by one more load once it is done.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from types import FrameType

from egate.audit import AuditTrail
from egate.documents.policy import DocumentPolicy
from egate.documents.stoplist import StopList, StopListError
from egate.gate.transaction import iso_time
from egate.notify import Notifier

_log = logging.getLogger("egate.reload")


class HangupRequests:
    """Counts SIGHUPs; the loop compares the count with the requests it has served."""

    def __init__(self) -> None:
        self.count = 0

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.count += 1

    @contextlib.contextmanager
    def installed(self) -> Iterator[HangupRequests]:
        """SIGHUP counts here while the block runs; the previous handler comes back after."""
        previous = signal.signal(signal.SIGHUP, self._handle)
        try:
            yield self
        finally:
            signal.signal(signal.SIGHUP, previous)


class StopListReload:
    """Reloads the policy's stop list when asked: ``poll()`` from the service loop."""

    def __init__(
        self,
        policy: DocumentPolicy,
        requests: HangupRequests,
        audit: AuditTrail,
        gate_id: str,
        notifier: Notifier,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._policy = policy
        self._requests = requests
        self._audit = audit
        self._gate_id = gate_id
        self._notifier = notifier
        self._wall = wall_clock
        self._served = 0
        self._loading: threading.Thread | None = None
        self._result: StopList | StopListError | None = None

    @property
    def busy(self) -> bool:
        """A load is under way."""
        return self._loading is not None

    def poll(self) -> str | None:
        """Start a requested load, or put a finished one in force; what happened, if anything.

        Returns the line audited when a reload finished, else None.
        """
        loading = self._loading
        if loading is not None:
            if loading.is_alive():
                return None
            self._loading = None
            return self._finish()
        if self._requests.count != self._served:
            self._served = self._requests.count
            self._notifier.reloading("reloading the stop list")
            self._loading = threading.Thread(target=self._load, name="egate-reload", daemon=True)
            self._loading.start()
        return None

    def _load(self) -> None:
        """Read the list (in the reload thread); the loop picks the result up."""
        try:
            self._result = self._policy.read_stop_list()
        except StopListError as error:
            self._result = error
        except Exception as error:  # a bug here must not end the gate: keep the old list
            self._result = StopListError(f"unexpected {type(error).__name__}: {error}")

    def _finish(self) -> str:
        """Put the loaded list in force, or keep the old one; audit and log one line."""
        result, self._result = self._result, None
        current = self._policy.stop_list
        if isinstance(result, StopListError):
            kept = "no stop list" if current is None else _documents(len(current))
            detail = f"stop list not reloaded, the previous one stays in force ({kept}): {result}"
            _log.warning("%s", detail)
        elif result is None:
            detail = "no stop list configured: nothing to reload"
            _log.warning("%s", detail)
        else:
            self._policy.use_stop_list(result)
            detail = f"stop list reloaded: {_documents(len(result))} from {result.source}"
            _log.info("%s", detail)
        self._audit.write(
            {
                "kind": "service",
                "time": iso_time(self._wall()),
                "gate_id": self._gate_id,
                "event": "reload",
                "detail": " ".join(detail.split()),
            }
        )
        self._notifier.ready(detail)
        return detail


def _documents(count: int) -> str:
    return f"{count} document{'s' * (count != 1)}"
