"""The transaction in progress: the traveller's personal data and the work done on it.

What a traveller brings (the MRZ, the chip's data groups, the face images
and templates) lives in one ``Transaction`` object, in memory only, and is
dropped when the transaction ends; audit records, logs and metrics get
outcomes, reason codes, durations and the salted document hash only.

``TransactionWork`` does the slow part off the service's loop: the chip
read, and the decoding of the chip photo, in a thread of its own; the
enrolment of that photo and the verification of a captured face in the
matching core.  The service collects what has finished at each step
(``collect``), and what it learns goes to the controller as events.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from egate.biometrics.decision import Decision
from egate.biometrics.image import ImageError, RgbImage, decode_chip_photo
from egate.biometrics.matching import MatchingCore, MatchingCoreBusy, WorkerDied
from egate.biometrics.verifier import Enrollment, Template, Verification
from egate.documents.chippolicy import ChipCheck, ChipPolicy, ChipPolicySettings, ChipVerdicts
from egate.documents.mrz import MrzResult
from egate.documents.verdict import Verdict
from egate.gate import events as e
from egate.gate.transaction import StepClock
from hardware import chip as hwchip
from hardware.camera import Frame
from station.gatedevices import GateDevices
from station.owntime import OwnTime

if TYPE_CHECKING:
    from egate.biometrics.capture import CaptureResult, CaptureSettings

# The chip read and its photo: the decoded image, why it is unusable, or None without a chip.
ChipResult = tuple[hwchip.ChipRead, RgbImage | str | None]


@dataclass(slots=True)
class Transaction:
    """The personal and biometric data of the transaction in progress: memory only."""

    id: str
    mrz: MrzResult
    document_key: str | None
    # The chip read and its photo, decoded in the chip thread (or why it would not decode).
    chip: Future[ChipResult] | None = None
    enrollment: Future[Enrollment] | None = None
    template: Template | None = None
    reference_failure: str | None = None
    capture_wanted: bool = False
    # The controller's capture request being served, and the one the verification answers.
    request: str = ""
    verifying: str = ""
    frame: RgbImage | None = None
    # The capture window being taken (frames of one size), and when the next frame is due.
    frames: list[RgbImage] = field(default_factory=list)
    next_frame_at: float = 0.0
    verification: Future[Verification] | Future[CaptureResult] | None = None
    result: Verification | None = None

    def __repr__(self) -> str:
        return f"Transaction({self.id}, <personal data redacted>)"


class TransactionWork:
    """The transaction in progress and its background work: see the module docstring.

    ``feed`` hands an event to the controller, ``alarm`` raises one (reason,
    detail), ``grab`` takes a frame from the camera (None when it has none);
    ``deadline_s`` is how soon matching work must start.
    """

    def __init__(
        self,
        devices: GateDevices,
        matching: MatchingCore,
        steps: StepClock,
        own_time: OwnTime,
        *,
        feed: Callable[[e.Event, float], None],
        alarm: Callable[[str, str], None],
        grab: Callable[[float], Frame | None],
        deadline_s: float,
        log: logging.Logger,
        chip_policy: Callable[[], ChipPolicy] = lambda: ChipPolicy(ChipPolicySettings()),
        audit: Callable[[dict[str, object]], None] = lambda record: None,
        count_chip: Callable[[tuple[ChipCheck, ...]], None] = lambda failed: None,
    ) -> None:
        self.matching = matching
        self.current: Transaction | None = None
        self._devices = devices
        self._steps = steps
        self._own_time = own_time
        self._feed = feed
        self._alarm = alarm
        self._grab = grab
        self._deadline_s = deadline_s
        self._log = log
        self._chip_policy = chip_policy
        self._audit = audit
        self._count_chip = count_chip
        self._presented: Transaction | None = None
        self._chip_pool = ThreadPoolExecutor(1, thread_name_prefix="egate-chip")

    @contextmanager
    def presenting(self, mrz: MrzResult, document_key: str | None) -> Iterator[None]:
        """A document just presented: the controller opens its transaction and asks for
        its chip in one go, so its data must be in place before the commands run."""
        self._presented = Transaction("", mrz, document_key)
        try:
            yield
        finally:
            self._presented = None

    def read_chip(self, transaction: str | None, now: float) -> None:
        """The controller's ``ReadChip``: the presented document becomes ``transaction``'s."""
        presented = self._presented
        if presented is None or transaction is None:
            return  # only a document just presented opens a transaction
        presented.id = transaction
        self.current = tx = presented
        reader = self._devices.chip
        try:
            key = hwchip.mrz_information(tx.mrz)
        except (ValueError, IndexError, KeyError):
            key = None
        if reader is None or key is None:
            # No chip reader, or an MRZ that yields no access key.
            status = e.ChipStatus.ABSENT if reader is None else e.ChipStatus.ACCESS_DENIED
            done: Future[ChipResult] = Future()
            done.set_result((hwchip.ChipRead(status), None))
            tx.chip = done
            return
        tx.chip = self._chip_pool.submit(_read_chip, reader, key)

    def capture(self, request: str, now: float) -> None:
        """The controller's ``CaptureFace``: a frame for ``request``, verified when it can be."""
        if self.current is not None:
            self.current.capture_wanted = True
            self.current.request = request
            self.current.frames = []  # a new request takes a window of its own
            self.current.result = None
            self.collect(now)

    def verdict(self, request: str) -> e.FaceVerified | None:
        """The controller's ``VerifyFace``: the verdict of the verification for ``request``."""
        tx = self.current
        if tx is None or tx.result is None or tx.verifying != request:
            return None
        result = tx.result
        return e.FaceVerified(result.decision, result.reason, result.distance, request=request)

    def end(self) -> None:
        """The transaction is over: the traveller's data goes with it."""
        self.current = None

    def close(self) -> None:
        """Release the chip thread (the matching core belongs to the caller)."""
        self._chip_pool.shutdown(wait=True, cancel_futures=True)
        self.current = None

    # -- background work -------------------------------------------------------

    def collect(self, now: float) -> None:
        """Take in whatever background work has finished, and start what it allows."""
        tx = self.current
        if tx is None:
            return
        if tx.chip is not None and tx.chip.done():
            self._on_chip(tx, tx.chip, now)
        if tx.enrollment is not None and tx.enrollment.done():
            self._on_enrolled(tx, tx.enrollment)
        if tx.capture_wanted and (tx.template is not None or tx.reference_failure):
            self._capture(tx, now)
        if tx.verification is not None and tx.verification.done():
            self._on_verified(tx, tx.verification, now)

    def _on_chip(self, tx: Transaction, future: Future[ChipResult], now: float) -> None:
        tx.chip = None
        try:
            read, photo = future.result()
        except Exception as error:  # a driver bug must not take the gate down
            self._log.warning("chip reader failed: %s", type(error).__name__)
            read, photo = hwchip.ChipRead(e.ChipStatus.UNREADABLE), None
        status = read.status
        matches = read.dg1_mrz is None or _same_mrz(read.dg1_mrz, tx.mrz.lines)
        check = e.DocumentCheck(Verdict.ACCEPT)
        if status is e.ChipStatus.OK:
            verdicts = read.inspection.verdicts() if read.inspection is not None else ChipVerdicts()
            policy = self._chip_policy()
            check = e.DocumentCheck.from_decision(policy.judge(verdicts))
            self._record_chip(tx, read, verdicts, policy)
            with self._own_time.own():  # handing the chip photo over is the service's own work
                if verdicts.proves(2):
                    self._enrol(tx, photo, now)
                else:
                    # The face is compared only with a photo proven to be the issuer's.
                    tx.reference_failure = "REFERENCE_UNVERIFIED"
        self._feed(e.ChipRead(status, matches, check), now)

    def _record_chip(
        self, tx: Transaction, read: hwchip.ChipRead, verdicts: ChipVerdicts, policy: ChipPolicy
    ) -> None:
        """The chip's verdicts in the audit trail and the metrics: codes, state, fingerprint."""
        failed = policy.required_failures(verdicts)
        self._count_chip(failed)
        inspection = read.inspection
        self._audit(
            {
                "kind": "chip",
                "transaction": tx.id,
                "access": None if inspection is None else inspection.access,
                "inspected": verdicts.inspected,
                "failed": [check.value for check in failed],
                "hash_mismatch": list(verdicts.mismatched_data_groups),
                "active_authentication": verdicts.active_authentication.value,
                "chip_authentication": verdicts.chip_authentication.value,
                "issuing_state": verdicts.issuing_state,
                "ds_fingerprint": verdicts.ds_fingerprint,
                "read_s": round(read.read_seconds, 3),
            }
        )

    def _enrol(self, tx: Transaction, photo: RgbImage | str | None, now: float) -> None:
        if photo is None or isinstance(photo, str):
            tx.reference_failure = photo or "REFERENCE_ABSENT"
            return
        try:
            tx.enrollment = self.matching.submit_enroll(photo, now + self._deadline_s)
        except MatchingCoreBusy:
            tx.reference_failure = "REFERENCE_NOT_ENROLLED"
            self._alarm("MATCHING_CORE_BUSY", "")

    def _on_enrolled(self, tx: Transaction, future: Future[Enrollment]) -> None:
        tx.enrollment = None
        try:
            enrollment = future.result()
        except Exception as error:  # deadline passed, worker died, core closed
            self._log.warning("enrolment failed: %s", type(error).__name__)
            tx.reference_failure = "REFERENCE_NOT_ENROLLED"
            return
        if enrollment.template is None:
            tx.reference_failure = enrollment.reason or "REFERENCE_FACE_NOT_FOUND"
        else:
            tx.template = enrollment.template

    def _capture(self, tx: Transaction, now: float) -> None:
        if tx.reference_failure is not None:
            tx.capture_wanted = False
            failure = e.FaceVerified(
                Decision.FAILURE_TO_ACQUIRE, tx.reference_failure, request=tx.request
            )
            self._feed(failure, now)
            return
        assert tx.template is not None
        window = self.matching.capture
        deadline = now + self._deadline_s
        try:
            if window is not None:
                if not self._take_frames(tx, window, now):
                    return  # the window is not complete yet
                tx.verification = self.matching.submit_capture(tx.template, tx.frames, deadline)
            else:
                if tx.frame is None:
                    with self._own_time.device():  # camera time is device time, not ours
                        frame = self._grab(now)
                    if frame is None:
                        return  # the camera's health decides; the capture timer guards the wait
                    tx.frame = frame.image
                tx.verification = self.matching.submit_verify(tx.template, tx.frame, deadline)
        except MatchingCoreBusy:
            return  # try again next step; the capture timer bounds the wait
        tx.capture_wanted = False
        tx.verifying = tx.request

    def _take_frames(self, tx: Transaction, window: CaptureSettings, now: float) -> bool:
        """Take the capture window's next frame when it is due; whether the window is whole."""
        if len(tx.frames) >= window.frames:
            return True
        if now < tx.next_frame_at:
            return False
        with self._own_time.device():  # camera time is device time, not the service's own
            frame = self._grab(now)
        if frame is None:
            return False  # the camera's health decides; the capture timer guards the wait
        if tx.frames and frame.image.shape != tx.frames[0].shape:
            tx.frames.clear()  # the camera changed its frame size: start the window again
        tx.frames.append(frame.image)
        tx.next_frame_at = now + window.interval_s
        return len(tx.frames) >= window.frames

    def _on_verified(
        self,
        tx: Transaction,
        future: Future[Verification] | Future[CaptureResult],
        now: float,
    ) -> None:
        tx.verification = None
        try:
            outcome = future.result()
        except WorkerDied:
            tx.capture_wanted = True  # the same frames once more, on a fresh worker
            return
        except Exception as error:  # deadline passed: the controller's timer refers
            self._log.warning("verification failed: %s", type(error).__name__)
            return
        tx.frame = None
        tx.frames = []  # the window's pictures go as soon as they are judged
        if isinstance(outcome, Verification):
            result = outcome
        else:  # a capture window's
            self._audit(_capture_record(tx, outcome))
            if outcome.guidance is not None:
                # Told before the failure reaches the controller, so the traveller
                # hears what to change before the next capture starts.
                self._feed(e.CaptureGuided(outcome.guidance, tx.verifying), now)
            result = outcome.verification
        tx.result = result
        self._steps.note_match(result.distance)
        timings = result.timings
        self._steps.note_matching(timings.get("descriptor", 0.0) + timings.get("compare", 0.0))
        self._feed(e.FaceCaptured(result.faces, tx.verifying), now)


def _capture_record(tx: Transaction, capture: CaptureResult) -> dict[str, object]:
    """The audit record of one capture window: counts, scores and codes, no pictures."""
    liveness = capture.liveness
    return {
        "kind": "capture",
        "transaction": tx.id,
        "frames": capture.frames,
        "usable_frames": capture.usable_frames,
        "best_quality": None if capture.best_quality is None else round(capture.best_quality, 1),
        "guidance": None if capture.guidance is None else capture.guidance.value,
        "liveness": capture.liveness_verdict,
        "liveness_score": None if liveness is None else round(liveness.score, 3),
        "decision": capture.verification.decision.value,
        "reason": capture.verification.reason,
    }


def _read_chip(reader: hwchip.ChipReader, key: str) -> ChipResult:
    """Read the chip and decode its photo, in the chip thread: a chip photo built to cost
    seconds of decoding (or refused as too large) never holds up the service's loop.

    The photo is the decoded image, the reason it is unusable, or None without a chip.
    """
    read = reader.read(key)
    if read.status is not e.ChipStatus.OK:
        return read, None
    if read.dg2_image is None:
        return read, "REFERENCE_ABSENT"
    try:
        return read, decode_chip_photo(read.dg2_image, "chip DG2")
    except ImageError:
        return read, "REFERENCE_UNREADABLE"


def _same_mrz(dg1: tuple[str, ...], printed: tuple[str, ...]) -> bool:
    """Whether the chip's DG1 holds the printed MRZ (line breaks aside)."""
    return "".join(dg1).strip() == "".join(printed).strip()
