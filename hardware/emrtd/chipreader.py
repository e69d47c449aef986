"""The gate's chip reader on the real chip stack: one inspection per document on the reader.

``InspectingChipReader`` implements ``hardware.chip.ChipReader`` for any
transport: a PC/SC contactless reader (``chip: {kind: pcsc}`` in the gate
file) or a virtual chip.  ``connect`` is called for every read and returns
the transport to the card now in the field (raising ``CardAbsent`` when
there is none); the inspection runs, the transport is closed, and the
``ChipRead`` carries the DG1 MRZ, the DG2 image and the whole inspection
with its verdicts.  A reader that fails outright (pcscd gone, the reader
unplugged) reads ``unreadable``: the gate refers the traveller and carries
on.  ``trust`` may be replaced while the reader is in use (``egate run``
does on SIGHUP): the next read judges by the new store.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import datetime

from egate.documents.pki.truststore import TrustStore
from egate.gate.events import ChipStatus
from hardware.chip import ChipRead
from hardware.emrtd.apdu import Transport
from hardware.emrtd.errors import CardAbsent, ChipError
from hardware.emrtd.filereader import SM_SHORT_CHUNK
from hardware.emrtd.inspection import AccessKey, inspect_chip

Connect = Callable[[], Transport]


class InspectingChipReader:
    """A ``ChipReader`` that inspects the chip in the field (see the module docstring)."""

    def __init__(
        self,
        connect: Connect,
        *,
        trust: TrustStore | None,
        now: Callable[[], datetime],
        random: Callable[[int], bytes] = os.urandom,
        clock: Callable[[], float] = time.monotonic,
        chunk: int = SM_SHORT_CHUNK,
    ) -> None:
        self._connect = connect
        self._trust = trust
        self._now = now
        self._random = random
        self._clock = clock
        self._chunk = chunk

    @property
    def trust(self) -> TrustStore | None:
        """The trust store passive authentication judges by (None: no signer is trusted)."""
        return self._trust

    @trust.setter
    def trust(self, store: TrustStore | None) -> None:
        # SIGHUP's reload sets it from the service loop while the chip thread may
        # be reading: rebinding an attribute is atomic, and a read takes the store
        # once, at its start, so every read judges by one store, the old or the new.
        self._trust = store

    def read(self, access_key: str) -> ChipRead:
        """Inspect the chip on the reader, opened with ``access_key`` (the MRZ information)."""
        started = self._clock()
        trust = self._trust
        try:
            transport = self._connect()
        except CardAbsent:
            return ChipRead(ChipStatus.ABSENT, read_seconds=self._clock() - started)
        except ChipError:
            return ChipRead(ChipStatus.UNREADABLE, read_seconds=self._clock() - started)
        try:
            inspection = inspect_chip(
                transport,
                AccessKey(access_key),
                random=self._random,
                clock=self._clock,
                chunk=self._chunk,
                trust=trust,
                at=self._now(),
            )
        finally:
            close = getattr(transport, "close", None)
            if callable(close):
                close()
        seconds = self._clock() - started
        if inspection.status is not ChipStatus.OK or inspection.dg1 is None:
            return ChipRead(inspection.status, read_seconds=seconds, inspection=inspection)
        image = inspection.face.image if inspection.face is not None else None
        return ChipRead(ChipStatus.OK, inspection.dg1.lines, image, seconds, inspection)
