"""The face decisions of a replay, and which of them came near the verifier's threshold.

A passenger has a face decision when the gate compared their face: a match
distance in their result, or a ``verify`` line in the transcript.  A
genuine traveller whose distance is above ``genuine_above``, or an impostor
(a look-alike) whose distance is below ``impostor_below``, came close to
being decided the other way, or was: the trainee should know how thin the
margin was.  Passengers are named by their scenario id only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from station.training.scenario import Expectation, Expected, NearThreshold, PassengerKind
from station.training.transcript import Line, ReplayRun, Step

__all__ = [
    "Face",
    "FaceDecision",
    "Margin",
    "NearThreshold",
    "face_decisions",
    "face_of",
    "margin_of",
    "near_threshold_notes",
]

# The reason a correct gate gives for a face that is not the holder's.
_MISMATCH_REASON = "BIOMETRIC_MISMATCH"


class Face(StrEnum):
    """Whose face the camera saw, as the scenario means it."""

    GENUINE = "genuine"  # the holder's: kind genuine, or expected accepted
    IMPOSTOR = "impostor"  # someone else's: kind impostor, or expected BIOMETRIC_MISMATCH
    OTHER = "other"  # not said (an ineligible traveller, a document fraud, ...)


class Margin(StrEnum):
    """Where a distance fell against the threshold and the near-threshold limits."""

    CLEAR = "clear"  # well on the right side
    NEAR = "near"  # on the right side, within the limit
    CROSSED = "crossed"  # on the wrong side: a genuine over, an impostor at or under


@dataclass(frozen=True, slots=True)
class FaceDecision:
    """One passenger's face comparison, the last one the gate made for them."""

    passenger: str
    gate: str | None
    at: float | None  # scenario seconds of the verify line, when there is one
    decision: str | None  # the verify line's decision: match, mismatch, ...
    distance: float | None
    threshold: float
    face: Face
    margin: Margin

    @property
    def warned(self) -> bool:
        """Whether the report points this decision out."""
        return self.margin is not Margin.CLEAR

    @property
    def flag(self) -> str:
        """The warning beside a distance already shown: ``0.041 over 0.6``; empty when clear."""
        if not self.warned or self.distance is None:
            return ""
        if self.margin is Margin.NEAR:
            gap = abs(self.distance - self.threshold)
            side = "under" if self.face is Face.GENUINE else "over"
            return f"near the threshold: {gap:.3f} {side} {self.threshold:g}"
        if self.face is Face.GENUINE:
            return f"over the threshold {self.threshold:g}"
        return f"matched, at or under the threshold {self.threshold:g}"

    @property
    def warning(self) -> str:
        """The warning with the distance: ``near the threshold: 0.641, 0.041 over 0.6``."""
        if not self.warned or self.distance is None:
            return ""
        if self.margin is Margin.NEAR:
            return self.flag.replace(": ", f": {self.distance:.3f}, ", 1)
        return f"{self.flag}: {self.distance:.3f}"


def face_of(kind: PassengerKind, expected: Expectation) -> Face:
    """Whose face a scenario passenger of ``kind`` expecting ``expected`` shows the camera."""
    # A look-alike expected to pass is still someone else's face: impostor first.
    if kind is PassengerKind.IMPOSTOR or _MISMATCH_REASON in expected.reasons:
        return Face.IMPOSTOR
    if kind is PassengerKind.GENUINE or expected.outcome is Expected.ACCEPTED:
        return Face.GENUINE
    return Face.OTHER


def margin_of(
    face: Face, distance: float | None, threshold: float, limits: NearThreshold
) -> Margin:
    """Where ``distance`` fell for that ``face``: clear, near the threshold, or across it."""
    if distance is None or face is Face.OTHER:
        return Margin.CLEAR
    # The verifier matches at a distance up to and including the threshold.
    if face is Face.GENUINE:
        if distance > threshold:
            return Margin.CROSSED
        return Margin.NEAR if distance > limits.genuine_above else Margin.CLEAR
    if distance <= threshold:
        return Margin.CROSSED
    return Margin.NEAR if distance < limits.impostor_below else Margin.CLEAR


def _number(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def face_decisions(run: ReplayRun, limits: NearThreshold | None = None) -> list[FaceDecision]:
    """Every passenger's last face decision, in the order of the results."""
    limits = limits or NearThreshold()
    threshold = run.scenario.matching.verifier.threshold
    verified: dict[str, list[Line]] = {}
    for line in run.lines:
        if line.step == Step.VERIFY and line.passenger is not None:
            verified.setdefault(line.passenger, []).append(line)
    found: list[FaceDecision] = []
    for result in run.results:
        lines = verified.get(result.id, [])
        distance = result.match_distance
        if distance is None:
            found_at = [_number(line.detail.get("distance")) for line in lines]
            distances = [d for d in found_at if d is not None]
            distance = distances[-1] if distances else None
        if distance is None and not lines:
            continue
        last = lines[-1] if lines else None
        decision = None if last is None else last.detail.get("decision")
        face = face_of(result.kind, result.expected)
        found.append(
            FaceDecision(
                passenger=result.id,
                gate=result.gate if last is None else last.gate,
                at=None if last is None else last.at,
                decision=decision if isinstance(decision, str) else None,
                distance=distance,
                threshold=threshold,
                face=face,
                margin=margin_of(face, distance, threshold, limits),
            )
        )
    return found


def near_threshold_notes(decisions: Sequence[FaceDecision], limits: NearThreshold) -> list[str]:
    """One summary sentence per group of warned decisions, e.g.

    ``1 look-alike came within 0.1 of the threshold 0.6: P12 at 0.641``.
    """
    notes = []
    for face, one, many in (
        (Face.IMPOSTOR, "look-alike", "look-alikes"),
        (Face.GENUINE, "genuine traveller", "genuine travellers"),
    ):
        for margin in (Margin.CROSSED, Margin.NEAR):
            group = [d for d in decisions if d.face is face and d.margin is margin]
            if not group:
                continue
            threshold = group[0].threshold
            if margin is Margin.NEAR:
                limit = limits.impostor_below if face is Face.IMPOSTOR else limits.genuine_above
                # Rounded: 0.7 - 0.6 is 0.09999999999999998 in binary.
                what = f"came within {round(abs(limit - threshold), 6):g} of"
            elif face is Face.IMPOSTOR:
                what = "matched, at or under"
            else:
                what = "went over"
            who = ", ".join(f"{d.passenger} at {d.distance:.3f}" for d in group)
            noun = one if len(group) == 1 else many
            notes.append(f"{len(group)} {noun} {what} the threshold {threshold:g}: {who}")
    return notes
