"""SIGHUP for ``egate run``: read the stop list and the trust store again without a restart.

Authorities publish new lists of lost and stolen documents often, and states
new CSCAs and CRLs; a gate must take them without dropping the traveller
inside.  On SIGHUP (``systemctl reload egate``) the policy's stop list file,
and the chip reader's trust store when the gate file names one (``chip:
{trust: DIR}``), are read in a thread of their own, so a long list or a large
master list never stalls the service loop; the loop then puts what loaded in
force between two rounds.  Each is judged alone: a file that cannot be read
keeps the old list, or the old trust store, in force.  Either way one
``service`` audit record (``"event": "reload"``) and one line say what
happened: the stop list's part, then the trust store's, joined by ``; ``.
A part that failed is also logged as a warning, one line each.

The signal handler only counts requests: it runs between two bytecodes of
the main thread and must take no lock.  Requests that arrive during a load
are served by one more load once it is done.

The chip thread may be reading while a new trust store is put in force: the
reader's ``trust`` is one attribute, rebound at once (a single store under
the GIL), and each read takes it once at its start, so every read is judged
by one store whole, the old or the new.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from types import FrameType
from typing import TYPE_CHECKING

from egate.audit import AuditTrail
from egate.documents.policy import DocumentPolicy
from egate.documents.stoplist import StopList, StopListError
from egate.gate.transaction import iso_time
from egate.notify import Notifier

if TYPE_CHECKING:
    from egate.documents.pki.truststore import TrustStore
    from station.gatedevices import ChipTrust

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


class _TrustLoadError(Exception):
    """The trust store could not be read: its one-line reason."""


class Reload:
    """Reloads the stop list and the chip's trust store when asked: ``poll()`` from the loop.

    ``trust`` is the chip reader's trust store (``GateDevices.chip_trust``),
    None when the gate file names none: then only the stop list is reloaded.
    """

    def __init__(
        self,
        policy: DocumentPolicy,
        requests: HangupRequests,
        audit: AuditTrail,
        gate_id: str,
        notifier: Notifier,
        wall_clock: Callable[[], float] = time.time,
        *,
        trust: ChipTrust | None = None,
    ) -> None:
        self._policy = policy
        self._requests = requests
        self._audit = audit
        self._gate_id = gate_id
        self._notifier = notifier
        self._wall = wall_clock
        self._trust = trust
        self._served = 0
        self._loading: threading.Thread | None = None
        self._result: StopList | StopListError | None = None
        self._trust_result: TrustStore | _TrustLoadError | None = None

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
            what = "the stop list" + (" and the trust store" if self._trust else "")
            self._notifier.reloading(f"reloading {what}")
            self._loading = threading.Thread(target=self._load, name="egate-reload", daemon=True)
            self._loading.start()
        return None

    def _load(self) -> None:
        """Read the list and the trust store (in the reload thread); the loop picks them up."""
        try:
            self._result = self._policy.read_stop_list()
        except StopListError as error:
            self._result = error
        except Exception as error:  # a bug here must not end the gate: keep the old list
            self._result = StopListError(f"unexpected {type(error).__name__}: {error}")
        if self._trust is not None:
            # Imported here: the PKI code loads only for a gate whose chip reader has a store.
            from egate.documents.pki.errors import PkiError

            try:
                self._trust_result = self._trust.load()
            except PkiError as error:
                self._trust_result = _TrustLoadError(str(error))
            except Exception as error:  # as above: keep the old store
                self._trust_result = _TrustLoadError(f"unexpected {type(error).__name__}: {error}")

    def _finish(self) -> str:
        """Put what loaded in force, keep the old where it did not; audit and log one line."""
        details = [self._finish_stop_list()]
        if self._trust is not None:
            if details[0] == _NO_STOP_LIST:
                details = []  # the trust store is what there was to reload
            details.append(self._finish_trust(self._trust))
        detail = "; ".join(" ".join(part.split()) for part in details)
        self._audit.write(
            {
                "kind": "service",
                "time": iso_time(self._wall()),
                "gate_id": self._gate_id,
                "event": "reload",
                "detail": detail,
            }
        )
        self._notifier.ready(detail)
        return detail

    def _finish_stop_list(self) -> str:
        result, self._result = self._result, None
        current = self._policy.stop_list
        if isinstance(result, StopListError):
            kept = "no stop list" if current is None else _documents(len(current))
            detail = f"stop list not reloaded, the previous one stays in force ({kept}): {result}"
            _log.warning("%s", detail)
        elif result is None:
            detail = _NO_STOP_LIST
            if self._trust is None:
                _log.warning("%s", detail)
        else:
            self._policy.use_stop_list(result)
            detail = f"stop list reloaded: {_documents(len(result))} from {result.source}"
            _log.info("%s", detail)
        return detail

    def _finish_trust(self, trust: ChipTrust) -> str:
        result, self._trust_result = self._trust_result, None
        if isinstance(result, _TrustLoadError) or result is None:
            current = trust.store
            kept = "no trust store" if current is None else _store(current)
            detail = f"trust store not reloaded, the previous one stays in force ({kept}): {result}"
            _log.warning("%s", detail)
            return detail
        trust.use(result)
        detail = f"trust store reloaded: {_store(result)} from {trust.path}"
        _log.info("%s", detail)
        return detail


# The name before the trust store joined the reload.
StopListReload = Reload

_NO_STOP_LIST = "no stop list configured: nothing to reload"


def _store(store: TrustStore) -> str:
    countries = len(store.countries())
    return (
        f"{len(store.certificates)} CSCA certificate{'s' * (len(store.certificates) != 1)} "
        f"of {countries} countr{'ies' if countries != 1 else 'y'}, "
        f"{len(store.crls)} CRL{'s' * (len(store.crls) != 1)}"
    )


def _documents(count: int) -> str:
    return f"{count} document{'s' * (count != 1)}"
