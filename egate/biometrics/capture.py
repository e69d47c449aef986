"""Face capture over a window of frames: the best frame verified, the traveller guided, a
print or a screen caught.

A gate does not judge one snapshot.  While the traveller stands at the
camera it takes ``frames`` pictures ``interval_s`` apart (the capture
window), and the matching core's worker then:

1. scores every frame cheaply (``egate.biometrics.capturewindow``: the face
   found on a reduced copy, tracked from frame to frame, its ISO/IEC
   29794-5-style quality measured from the 68 landmarks);
2. with ``liveness: passive``, asks the presentation-attack detector
   (``egate.biometrics.pad``) whether the face moved as a live head does
   across the window; an attack ends the capture with ``PRESENTATION_ATTACK``
   and no comparison at all, and a match from a window with too few faces to
   judge becomes a failure to acquire (``LIVENESS_NOT_JUDGED``): capture again;
3. verifies the best-scoring frames against the chip photo's template, best
   first, and keeps the first that gives a decision (a match or a mismatch)
   or else the best frame's failure to acquire;
4. says what the traveller should change (``guidance``) when no frame was
   good enough, so the gate can tell them before it captures again.

Frames, landmarks and templates stay in the worker's memory for the job; the
result carries decisions, scores and codes only.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from egate.biometrics.capturewindow import CaptureScorer, WindowScore
from egate.biometrics.decision import Decision
from egate.biometrics.face import Clock, FaceModels
from egate.biometrics.guidance import CaptureGuidance
from egate.biometrics.image import RgbImage
from egate.biometrics.pad import (
    PRESENTATION_ATTACK,
    Liveness,
    LivenessSettings,
    PadDecision,
    PadResult,
    PassiveLivenessDetector,
)
from egate.biometrics.verifier import FaceVerifier, Template, Verification

# A match whose window had too few faces to judge liveness: capture again.
LIVENESS_NOT_JUDGED = "LIVENESS_NOT_JUDGED"


class CaptureSettings(BaseModel):
    """The capture window and the liveness check of a gate."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    frames: int = Field(default=1, ge=1, le=30, description="Frames taken in one capture window.")
    interval_s: float = Field(
        default=0.1, ge=0.0, le=2.0, description="Time between the window's frames, in seconds."
    )
    verify_best: int = Field(
        default=2,
        ge=1,
        le=30,
        description="Best-scoring frames verified, best first, until one gives a decision.",
    )
    liveness: Liveness = Field(
        default="off",
        description=(
            "Presentation-attack check over the window: 'off', or 'passive' (the face must "
            "move as a live head does; needs a window of several frames)."
        ),
    )
    pad: LivenessSettings = Field(default_factory=LivenessSettings)

    @model_validator(mode="after")
    def _window_for_liveness(self) -> CaptureSettings:
        if self.liveness == "passive" and self.frames < 3:
            raise ValueError(
                f"liveness: passive needs a capture window of at least 3 frames (frames: "
                f"{self.frames})"
            )
        return self


@dataclass(frozen=True, slots=True)
class CaptureResult:
    """What one capture window gave: the verification, the guidance, the liveness verdict."""

    verification: Verification
    guidance: CaptureGuidance | None
    # The liveness check's verdict, None when it was off or had too few faces to judge.
    liveness: PadResult | None
    frames: int
    # Frames with exactly one face, and the best frame's combined quality (0-100).
    usable_frames: int
    best_quality: float | None
    # Whether a liveness check ran over the window (judged or not).
    liveness_checked: bool = False

    @property
    def liveness_verdict(self) -> str:
        """``off``, ``not_judged`` (too few faces), ``bona_fide`` or ``attack``."""
        if self.liveness is not None:
            return self.liveness.decision.value
        return "not_judged" if self.liveness_checked else "off"

    def to_json(self) -> dict[str, Any]:
        """Codes and scores only: no pixels, landmarks or template."""
        return {
            "verification": self.verification.to_json(),
            "guidance": None if self.guidance is None else self.guidance.value,
            "liveness": self.liveness_verdict,
            "liveness_score": None if self.liveness is None else self.liveness.score,
            "frames": self.frames,
            "usable_frames": self.usable_frames,
            "best_quality": self.best_quality,
        }


class CaptureVerifier:
    """Verifies a capture window against a template: see the module docstring."""

    def __init__(
        self,
        verifier: FaceVerifier,
        models: FaceModels,
        settings: CaptureSettings,
        clock: Clock = time.perf_counter,
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._verifier = verifier
        self._scorer = CaptureScorer(models)
        self._liveness = (
            PassiveLivenessDetector(models, settings.pad)
            if settings.liveness == "passive"
            else None
        )

    def verify_window(self, template: Template, frames: Sequence[RgbImage]) -> CaptureResult:
        """Score, check liveness, verify the best frames; see the module docstring."""
        if not frames:
            raise ValueError("a capture window needs at least one frame")
        if len(frames) == 1 and self._liveness is None:
            return self._verify_single(template, frames[0])
        clock = self._clock
        started = clock()
        window = self._scorer.score(frames)
        stages = {"window_score": clock() - started}
        qualities = [s.quality.score for s in window.frames if s.faces == 1 and s.quality]
        best_quality = max(qualities, default=None)
        liveness = None
        if self._liveness is not None:
            # The detector finds its own landmarks, every frame's box searched at one
            # scale: the scorer's tracked boxes vary in size from frame to frame, and
            # the landmark jitter that brings reads as the non-rigid motion of a live
            # face (measured: prints accepted with the scorer's landmarks, caught with
            # the detector's; about 60 ms of CPU for 10 frames at 640 x 480).
            started = clock()
            liveness = self._liveness.check(frames)
            stages["liveness"] = clock() - started
            if liveness.frames_used < self.settings.pad.min_frames:
                liveness = None  # too few faces to judge: no verdict either way
            elif liveness.decision is PadDecision.ATTACK:
                attack = Verification(
                    Decision.NO_MATCH,
                    None,
                    self._verifier.settings.threshold,
                    PRESENTATION_ATTACK,
                    liveness.detail or liveness.reason,
                    1,
                    stages,
                )
                return CaptureResult(
                    attack, None, liveness, len(frames), len(qualities), best_quality, True
                )
        verification = self._verify_best(template, frames, window)
        # The window's own stages beside the verification's (one job's time, whole).
        verification = replace(verification, timings={**stages, **verification.timings})
        if (
            self._liveness is not None
            and liveness is None
            and verification.decision is Decision.MATCH
        ):
            # A match opens the exit only for a face shown to be live: capture again.
            verification = Verification(
                Decision.FAILURE_TO_ACQUIRE,
                None,
                verification.threshold,
                LIVENESS_NOT_JUDGED,
                f"{len(qualities)} of {len(frames)} frames showed one face; "
                f"{self.settings.pad.min_frames} needed to judge liveness",
                verification.faces,
                verification.timings,
            )
        guidance = None
        if verification.decision is Decision.FAILURE_TO_ACQUIRE:
            guidance = window.guidance or CaptureGuidance.LOOK_AT_CAMERA
        return CaptureResult(
            verification,
            guidance,
            liveness,
            len(frames),
            len(qualities),
            best_quality,
            self._liveness is not None,
        )

    def _verify_single(self, template: Template, frame: RgbImage) -> CaptureResult:
        """A one-frame window without liveness: nothing to choose between, so the frame is
        verified at once, and scored only when it gives no face to compare, for the guidance
        (scoring first would search the frame for faces twice on every capture)."""
        verification = self._verifier.verify(template, frame)
        if verification.decision is not Decision.FAILURE_TO_ACQUIRE:
            return CaptureResult(verification, None, None, 1, int(verification.faces == 1), None)
        started = self._clock()
        window = self._scorer.score([frame])
        stages = {"window_score": self._clock() - started}
        score = window.frames[0]
        quality = score.quality.score if score.usable and score.quality else None
        verification = replace(verification, timings={**stages, **verification.timings})
        guidance = window.guidance or CaptureGuidance.LOOK_AT_CAMERA
        return CaptureResult(verification, guidance, None, 1, int(quality is not None), quality)

    def _verify_best(
        self, template: Template, frames: Sequence[RgbImage], window: WindowScore
    ) -> Verification:
        """The best frames verified in turn until one decides; else the best one's failure."""
        # A frame with several faces is judged as such (a tailgater must be seen),
        # whatever the other frames show.  The scorer tracks one face from frame
        # to frame, so someone stepping in later is looked for on the whole of the
        # window's last frame, the one nearest to the exit opening.
        crowded = [score.index for score in window.frames if score.faces > 1]
        last = window.frames[-1]
        if not crowded and last.tracked and self._scorer.score_frame(frames[-1]).faces > 1:
            crowded = [last.index]
        ranked = crowded[:1] or window.best(self.settings.verify_best) or [_fallback(window)]
        first: Verification | None = None
        for index in ranked:
            result = self._verifier.verify(template, frames[index])
            if result.decision is not Decision.FAILURE_TO_ACQUIRE:
                return result
            first = first or result
        assert first is not None
        return first


def _fallback(window: WindowScore) -> int:
    """The frame to verify when none is usable: one with a face, else the last; the
    verifier's full check then says why (no face, too dark, too small...)."""
    for score in window.frames:
        if score.faces == 1:
            return score.index
    return window.frames[-1].index
