"""1:1 face verification: the live face against the reference from the chip photo.

The decision rule.  Both faces become 128-d descriptors of dlib's face
model; their Euclidean distance says how alike they are.  The faces
**match when the distance is at most the threshold**.  dlib's model was tuned
so that 0.6 separates people well (99.38% on LFW); 0.5 is strict (fewer
impostors accepted, more genuine travellers refused).  ``egate biometrics
eval`` measures what a threshold means on your own photos in FMR and FNMR.

A verification has one of three decisions:

* ``match``: one good face, close enough to the reference;
* ``no_match``: one good face, too far from the reference (``BIOMETRIC_MISMATCH``);
* ``failure_to_acquire``: no comparison was possible: no face
  (``FACE_NOT_FOUND``), several faces (``MULTIPLE_FACES``, a tailgating
  signal), a face that fails a quality gate (``LOW_QUALITY``), or a reference
  photo that gives no template (``REFERENCE_…``).

Templates and images live in memory for one transaction; nothing here writes
them, and a template prints as redacted.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from egate.biometrics.decision import Decision
from egate.biometrics.face import (
    Clock,
    Descriptor,
    DescriptorRuntime,
    DetectionSettings,
    FaceAnalyzer,
    FaceModels,
)
from egate.biometrics.image import RgbImage
from egate.biometrics.quality import QualitySettings, measure, shortfall

TYPICAL_THRESHOLD = 0.6
STRICT_THRESHOLD = 0.5


class VerifierSettings(BaseModel):
    """Threshold, quality gates and detection size of a verifier."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    threshold: float = Field(
        default=TYPICAL_THRESHOLD,
        gt=0,
        lt=2,
        description=(
            "Largest descriptor distance that still counts as a match (0.6 typical, 0.5 strict)."
        ),
    )
    quality: QualitySettings = Field(default_factory=QualitySettings)
    detection_long_side: int = Field(
        default=512,
        ge=160,
        le=4096,
        description=(
            "Long side of the copy the face detector searches first; when it finds "
            "nothing, it searches a 512 px copy (if larger), then that copy upsampled."
        ),
    )
    descriptor: DescriptorRuntime = Field(
        default="onnx",
        description=(
            "Runtime of the face descriptor: 'onnx' (dlib's network and weights on ONNX "
            "Runtime, fastest; numpy when onnxruntime is missing), 'numpy' (the same on "
            "numpy/OpenBLAS) or 'dlib' (dlib's own encoder, slowest)."
        ),
    )
    threads: int | None = Field(
        default=None,
        ge=1,
        le=2,
        description=(
            "Threads one verification uses: 2 searches the face detector's image pyramid "
            "in two parts at once and runs the descriptor on two threads (less time per "
            "photo, a little more processor time); 1 keeps it on one. Unset: 2 when the "
            "verifier has two cores to itself (a matching core shares the cores among its "
            "workers), else 1."
        ),
    )

    def threads_for(self, verifiers: int = 1) -> int:
        """Threads each of ``verifiers`` verifiers sharing this machine's cores uses."""
        if self.threads is not None:
            return self.threads
        return max(1, min(2, available_cores() // max(1, verifiers)))


def available_cores() -> int:
    """Processor cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class Template:
    """The reference descriptor made from the chip photo, for one transaction."""

    __slots__ = ("_descriptor",)

    def __init__(self, descriptor: Descriptor) -> None:
        self._descriptor = descriptor

    def __repr__(self) -> str:
        return "Template(<biometric data redacted>)"

    def distance(self, other: Descriptor) -> float:
        """Euclidean distance to another descriptor."""
        return float(np.linalg.norm(self._descriptor - other))

    def distance_to(self, other: Template) -> float:
        """Euclidean distance to another template (for evaluations)."""
        return other.distance(self._descriptor)


@dataclass(frozen=True, slots=True)
class Verification:
    """What one verification decided, why, and what each stage cost (seconds)."""

    decision: Decision
    distance: float | None
    threshold: float
    reason: str | None
    detail: str | None = None
    faces: int = 0
    timings: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The verification as a JSON object (``egate biometrics verify --json``)."""
        return {
            "decision": self.decision.value,
            "distance": self.distance,
            "threshold": self.threshold,
            "reason": self.reason,
            "detail": self.detail,
            "faces": self.faces,
            "timings": self.timings,
        }


@dataclass(frozen=True, slots=True)
class Enrollment:
    """A template from the reference photo, or why none could be made."""

    template: Template | None
    reason: str | None
    detail: str | None
    timings: dict[str, float]


class FaceVerifier:
    """Makes templates from reference photos and verifies live faces against them.

    matplotlib's portrait of Grace Hopper as the chip photo, checked against
    a mirror image of it, a grey picture with nobody in it, and two of her::

        >>> import numpy as np
        >>> from egate.biometrics.face import FaceModels
        >>> from egate.biometrics.image import read_image_file
        >>> from egate.samples import grace_hopper
        >>> verifier = FaceVerifier.with_models(FaceModels())  # threshold 0.6
        >>> portrait = read_image_file(grace_hopper())
        >>> template = verifier.enroll(portrait).template
        >>> template
        Template(<biometric data redacted>)
        >>> mirrored = verifier.verify(template, portrait[:, ::-1].copy())
        >>> mirrored.decision.value, mirrored.distance < 0.6
        ('match', True)
        >>> grey = np.full((240, 320, 3), 128, dtype=np.uint8)
        >>> nobody = verifier.verify(template, grey)
        >>> nobody.decision.value, nobody.reason
        ('failure_to_acquire', 'FACE_NOT_FOUND')
        >>> verifier.verify(template, np.hstack([portrait, portrait])).reason
        'MULTIPLE_FACES'
    """

    def __init__(
        self,
        analyzer: FaceAnalyzer,
        settings: VerifierSettings | None = None,
        clock: Clock = time.perf_counter,
    ) -> None:
        self.settings = settings or VerifierSettings()
        self._analyzer = analyzer
        self._clock = clock

    @property
    def analyzer(self) -> FaceAnalyzer:
        """The face analyzer this verifier uses (shared models)."""
        return self._analyzer

    @classmethod
    def with_models(
        cls, models: FaceModels, settings: VerifierSettings | None = None
    ) -> FaceVerifier:
        """A verifier on loaded ``FaceModels`` with the detection size of ``settings``."""
        settings = settings or VerifierSettings()
        detection = DetectionSettings(
            detection_long_side=settings.detection_long_side,
            descriptor=settings.descriptor,
            threads=settings.threads_for(),
        )
        return cls(FaceAnalyzer(models, detection), settings)

    def _acquire(
        self, image: RgbImage, prefix: str
    ) -> tuple[Descriptor | None, str | None, str | None, int, dict[str, float]]:
        """Find one good face and describe it, or say why not (reason codes get ``prefix``)."""
        finding = self._analyzer.find(image)
        timings = dict(finding.timings)
        faces = len(finding.boxes)
        if finding.chip is None:
            return None, f"{prefix}FACE_NOT_FOUND", "no face in the image", faces, timings
        if faces > 1:
            return None, f"{prefix}MULTIPLE_FACES", f"{faces} faces in the image", faces, timings
        started = self._clock()
        problem = shortfall(measure(finding.chip, finding.boxes[0].height), self.settings.quality)
        timings["quality"] = self._clock() - started
        if problem is not None:
            return None, f"{prefix}LOW_QUALITY", problem, faces, timings
        started = self._clock()
        descriptor = self._analyzer.describe(finding.chip)
        timings["descriptor"] = self._clock() - started
        return descriptor, None, None, faces, timings

    def enroll(self, reference: RgbImage) -> Enrollment:
        """The template of the reference (chip) photo, made once per transaction."""
        descriptor, reason, detail, _, timings = self._acquire(reference, "REFERENCE_")
        template = None if descriptor is None else Template(descriptor)
        return Enrollment(template, reason, detail, timings)

    def verify(self, template: Template, live: RgbImage) -> Verification:
        """Compare the live face with the template."""
        threshold = self.settings.threshold
        descriptor, reason, detail, faces, timings = self._acquire(live, "")
        if descriptor is None:
            return Verification(
                Decision.FAILURE_TO_ACQUIRE, None, threshold, reason, detail, faces, timings
            )
        started = self._clock()
        distance = template.distance(descriptor)
        timings["compare"] = self._clock() - started
        if distance <= threshold:
            return Verification(Decision.MATCH, distance, threshold, None, None, faces, timings)
        return Verification(
            Decision.NO_MATCH,
            distance,
            threshold,
            "BIOMETRIC_MISMATCH",
            f"distance {distance:.3f} above the threshold {threshold}",
            faces,
            timings,
        )

    def verify_photos(self, reference: RgbImage, live: RgbImage) -> Verification:
        """Enrol the reference, then verify the live face; timings of both, reference first."""
        enrollment = self.enroll(reference)
        reference_timings = {f"reference_{k}": v for k, v in enrollment.timings.items()}
        if enrollment.template is None:
            return Verification(
                Decision.FAILURE_TO_ACQUIRE,
                None,
                self.settings.threshold,
                enrollment.reason,
                enrollment.detail,
                0,
                reference_timings,
            )
        result = self.verify(enrollment.template, live)
        return Verification(
            result.decision,
            result.distance,
            result.threshold,
            result.reason,
            result.detail,
            result.faces,
            {**reference_timings, **result.timings},
        )
