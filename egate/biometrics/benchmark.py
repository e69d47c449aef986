"""Measuring the verification path against naive face_recognition, in one run.

The naive path is what a newcomer writes:
``face_recognition.face_encodings(face_recognition.load_image_file(path))``,
full-resolution HOG detection upsampled once, then the descriptor.  egate's
path decodes, detects on a scaled copy, aligns at full resolution, applies
the quality gates and computes the same descriptor.  Both run on the same
images, interleaved round by round so that both see the same machine load;
medians count.  The decisions of both paths on every pair of single-face
images are compared at the threshold.

When egate's descriptor runs on ONNX Runtime or numpy, dlib's own encoder is
timed on the same chips in the same run (it is not part of egate's time): the
report gives both per-chip times, their ratio, the largest difference between
the two descriptors and whether they decide every pair alike at the typical
and the strict threshold.  On ONNX Runtime, the numpy runtime is timed on the
same chips too (the descriptor before and after, in one run).

The CPU time of scoring a capture window is measured by
``egate.biometrics.benchmarkcapture``.

Throughput is measured through the matching core with 1..N worker
processes, and the core's service times can be exported as a calibration
file for the capacity model.
"""

from __future__ import annotations

import itertools
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from egate.biometrics.face import Descriptor, FaceAnalyzer, FaceFinding
from egate.biometrics.image import RgbImage, read_image_file
from egate.biometrics.matching import MatchingCore
from egate.biometrics.quality import measure
from egate.biometrics.verifier import STRICT_THRESHOLD, TYPICAL_THRESHOLD, VerifierSettings

CALIBRATION_FORMAT = "egate-matching-calibration/1"
# Standard video frame heights: an image of one of these with a 16:9 shape is a camera frame.
_FRAME_HEIGHTS = {240: "240p", 360: "360p", 480: "480p", 720: "720p", 1080: "1080p"}


def size_class(width: int, height: int) -> str:
    """``1080p`` and the like for camera frames, ``photo`` for everything else."""
    label = _FRAME_HEIGHTS.get(height)
    return label if label is not None and abs(width / height - 16 / 9) < 0.05 else "photo"


def percentile(values: Sequence[float], share: float) -> float:
    """The ``share`` quantile (0-1) by linear interpolation."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = share * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass
class ImageRun:
    """One image's measurements on both paths."""

    path: Path
    width: int
    height: int
    naive_seconds: list[float] = field(default_factory=list)
    fast_seconds: list[float] = field(default_factory=list)
    # Processor time of each path: what a loaded machine stretches less than wall time.
    naive_cpu: list[float] = field(default_factory=list)
    fast_cpu: list[float] = field(default_factory=list)
    stages: dict[str, list[float]] = field(default_factory=dict)
    naive_descriptor: Descriptor | None = None
    fast_descriptor: Descriptor | None = None
    naive_faces: int = 0
    fast_faces: int = 0
    # dlib's own encoder on the same chip, when egate's descriptor does not run on dlib.
    reference_seconds: list[float] = field(default_factory=list)
    reference_descriptor: Descriptor | None = None
    # The numpy runtime on the same chip, when egate's descriptor runs on ONNX Runtime.
    numpy_seconds: list[float] = field(default_factory=list)
    # egate's whole path on one thread, when egate's own runs on more.
    single_seconds: list[float] = field(default_factory=list)
    single_cpu: list[float] = field(default_factory=list)

    @property
    def size_class(self) -> str:
        """Camera frame size or ``photo``."""
        return size_class(self.width, self.height)


def _naive_path() -> Callable[[Path], list[Descriptor]] | None:
    from PIL import ImageFile

    try:
        import face_recognition
    except (ImportError, SystemExit):
        # face_recognition 1.3.0 calls quit() when its models are missing.
        return None
    finally:
        # face_recognition's import sets this for the whole process, and Pillow
        # then decodes a truncated photo as if whole (padded with grey).  egate
        # refuses truncated photos; the benchmark only times photos egate reads.
        ImageFile.LOAD_TRUNCATED_IMAGES = False

    def encode(path: Path) -> list[Descriptor]:
        image = face_recognition.load_image_file(str(path))
        return [np.asarray(code) for code in face_recognition.face_encodings(image)]

    return encode


def measure_paths(
    analyzer: FaceAnalyzer,
    images: Sequence[Path],
    rounds: int,
    clock: Callable[[], float] = time.perf_counter,
    on_step: Callable[[], None] = lambda: None,
    cpu_clock: Callable[[], float] = time.process_time,
    single: FaceAnalyzer | None = None,
) -> tuple[list[ImageRun], bool]:
    """Time both paths on every image, ``rounds`` times; returns the runs and whether naive ran.

    Unless the descriptor runs on dlib, dlib's encoder is also timed on each
    chip (outside egate's time), and on ONNX Runtime the numpy runtime too.
    ``single``: an analyzer on one thread, whose whole path is timed too
    (when ``analyzer`` runs on more).  Processor time counts every thread.
    Raises ``ImageError`` when an image cannot be read.
    """
    reference = analyzer.descriptor_runtime != "dlib"
    numpy_too = analyzer.descriptor_runtime == "onnx"
    naive = _naive_path()
    for path in images:
        # An image egate cannot read stops the benchmark before it starts
        # (``ImageError``), not the naive path with Pillow's own exception.
        read_image_file(path)
    runs: dict[Path, ImageRun] = {}
    for _ in range(rounds):
        for path in images:
            if naive is not None:
                started, cpu = clock(), cpu_clock()
                codes = naive(path)
                naive_time, naive_cpu = clock() - started, cpu_clock() - cpu
            cpu = cpu_clock()
            started = clock()
            pixels = read_image_file(path)
            decode = clock() - started
            stages, finding, descriptor = timed_verification(analyzer, pixels, clock)
            stages = {"decode": decode, **stages}
            fast_cpu = cpu_clock() - cpu
            run = runs.setdefault(path, ImageRun(path, pixels.shape[1], pixels.shape[0]))
            if reference and finding.chip is not None:
                started = clock()
                run.reference_descriptor = analyzer.describe_with_dlib(finding.chip)
                run.reference_seconds.append(clock() - started)
            if numpy_too and finding.chip is not None:
                started = clock()
                if analyzer.describe_with_numpy(finding.chip) is not None:
                    run.numpy_seconds.append(clock() - started)
            run.fast_seconds.append(sum(stages.values()))
            run.fast_cpu.append(fast_cpu)
            if single is not None:
                seconds, cpu = _whole_path(single, path, clock, cpu_clock)
                run.single_seconds.append(seconds)
                run.single_cpu.append(cpu)
            for stage, seconds in stages.items():
                run.stages.setdefault(stage, []).append(seconds)
            run.fast_faces, run.fast_descriptor = len(finding.boxes), descriptor
            if naive is not None:
                run.naive_seconds.append(naive_time)
                run.naive_cpu.append(naive_cpu)
                run.naive_faces = len(codes)
                run.naive_descriptor = codes[0] if len(codes) == 1 else None
            on_step()
    return list(runs.values()), naive is not None


def timed_verification(
    analyzer: FaceAnalyzer, pixels: RgbImage, clock: Callable[[], float]
) -> tuple[dict[str, float], FaceFinding, Descriptor | None]:
    """egate's path on decoded ``pixels``: seconds per stage, what was found, the descriptor.

    The stages are the analyzer's own (downscale, detect, align) and, when a
    face was found, ``quality`` and ``descriptor`` timed on ``clock``.
    """
    finding = analyzer.find(pixels)
    stages = dict(finding.timings)
    if finding.chip is None:
        return stages, finding, None
    started = clock()
    measure(finding.chip, finding.boxes[0].height)
    stages["quality"] = clock() - started
    started = clock()
    descriptor = analyzer.describe(finding.chip)
    stages["descriptor"] = clock() - started
    return stages, finding, descriptor


def _whole_path(
    analyzer: FaceAnalyzer,
    path: Path,
    clock: Callable[[], float],
    cpu_clock: Callable[[], float],
) -> tuple[float, float]:
    """Wall and processor seconds of decoding, finding, measuring and describing one photo."""
    started, cpu = clock(), cpu_clock()
    timed_verification(analyzer, read_image_file(path), clock)
    return clock() - started, cpu_clock() - cpu


def decision_agreement(runs: Sequence[ImageRun], threshold: float) -> tuple[int, list[str]]:
    """Pairs of single-face images compared on both paths, and those whose decisions differ."""
    single = [
        run
        for run in runs
        if run.naive_descriptor is not None
        and run.fast_descriptor is not None
        and run.fast_faces == run.naive_faces == 1
    ]
    compared = 0
    differ = []
    for first, second in itertools.combinations(single, 2):
        assert first.naive_descriptor is not None and second.naive_descriptor is not None
        assert first.fast_descriptor is not None and second.fast_descriptor is not None
        naive = float(np.linalg.norm(first.naive_descriptor - second.naive_descriptor))
        fast = float(np.linalg.norm(first.fast_descriptor - second.fast_descriptor))
        compared += 1
        if (naive <= threshold) != (fast <= threshold):
            differ.append(
                f"{first.path.name} / {second.path.name}: naive {naive:.3f}, egate {fast:.3f}"
            )
    return compared, differ


def runtime_agreement(
    runs: Sequence[ImageRun], thresholds: Sequence[float] = (TYPICAL_THRESHOLD, STRICT_THRESHOLD)
) -> tuple[float | None, int, list[str]]:
    """The numpy descriptor against dlib's on the same chips.

    Returns the largest difference of a component (any chip), the number of
    pairs of single-face images compared, and those decided differently at
    one of ``thresholds``.  None and 0 when dlib's encoder was not run.
    """
    described = [
        (run, run.fast_descriptor, run.reference_descriptor)
        for run in runs
        if run.fast_descriptor is not None and run.reference_descriptor is not None
    ]
    if not described:
        return None, 0, []
    largest = max(float(np.max(np.abs(fast - ref))) for _, fast, ref in described)
    both = [entry for entry in described if entry[0].fast_faces == 1]
    compared = 0
    differ = []
    for (first, fast_1, ref_1), (second, fast_2, ref_2) in itertools.combinations(both, 2):
        ours = float(np.linalg.norm(fast_1 - fast_2))
        dlibs = float(np.linalg.norm(ref_1 - ref_2))
        compared += 1
        for threshold in thresholds:
            if (ours <= threshold) != (dlibs <= threshold):
                differ.append(
                    f"{first.path.name} / {second.path.name} at {threshold}: "
                    f"numpy {ours:.6f}, dlib {dlibs:.6f}"
                )
    return largest, compared, differ


def throughput(
    settings: VerifierSettings,
    frames: Sequence[RgbImage],
    reference: RgbImage,
    workers: int,
    jobs: int,
    clock: Callable[[], float] = time.perf_counter,
) -> tuple[float, list[float]]:
    """Verifications per second through a core of ``workers`` processes, and its service times."""
    with MatchingCore(settings, workers=workers, queue_limit=jobs) as core:
        core.wait_ready()
        enrollment = core.submit_enroll(reference, time.monotonic() + 600).result()
        template = enrollment.template
        if template is None:
            raise ValueError(f"the reference image gives no template ({enrollment.reason})")
        # Warm each worker once so that the measured run sees steady state.
        warm = [
            core.submit_verify(template, frames[0], time.monotonic() + 600) for _ in range(workers)
        ]
        for future in warm:
            future.result()
        baseline = len(core.service_times())
        started = clock()
        futures = [
            core.submit_verify(template, frames[index % len(frames)], time.monotonic() + 600)
            for index in range(jobs)
        ]
        for future in futures:
            future.result()
        elapsed = clock() - started
        return jobs / elapsed, core.service_times()[baseline:]


def calibration(
    service_times: Sequence[float],
    workers: int,
    rates: dict[int, float],
    source: str,
    created: datetime,
    descriptor: str = "numpy",
) -> dict[str, Any]:
    """The matching core's service-time distribution, as ``egate simulate`` reads it."""
    import dlib

    return {
        "format": CALIBRATION_FORMAT,
        "created": created.isoformat(timespec="seconds"),
        "source": source,
        "machine": {
            "processor": platform.processor() or platform.machine(),
            "python": platform.python_version(),
            "dlib": str(getattr(dlib, "__version__", "unknown")),
            "numpy": np.__version__,
            "descriptor": descriptor,
        },
        "workers": workers,
        "verifications_per_second": {str(count): round(rate, 3) for count, rate in rates.items()},
        "service_time_seconds": {
            "distribution": "empirical",
            "samples": [round(value, 6) for value in service_times],
            "mean": round(statistics.fmean(service_times), 6),
            "p50": round(percentile(service_times, 0.5), 6),
            "p95": round(percentile(service_times, 0.95), 6),
        },
    }


def _mean(total: float | None, count: int) -> float | None:
    return None if total is None else total / count


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    return None if numerator is None or not denominator else numerator / denominator


def median(values: Sequence[float]) -> float:
    """The median, NaN for no values."""
    return statistics.median(values) if values else float("nan")


def bench_report(
    runs: Sequence[ImageRun],
    naive_ran: bool,
    compared: int,
    differ: Sequence[str],
    rates: dict[int, float],
    descriptor: str = "onnx",
    capture: dict[str, Any] | None = None,
    threads: int = 1,
) -> dict[str, Any]:
    """Everything ``egate biometrics bench`` shows, as plain data (seconds, ratios).

    ``descriptor`` names the runtime egate's descriptor ran on; unless "dlib",
    ``descriptor_reference`` compares it with dlib's encoder timed alongside
    (and ``descriptor_numpy`` gives the numpy runtime's time on the same chips).
    ``capture``: what ``benchmarkcapture.capture_window_cost`` measured, or None.
    ``threads``: the threads egate's path ran on (its one-thread figures, when
    measured, are in ``by_size``).
    """
    images = []
    groups: dict[str, list[ImageRun]] = {}
    for run in runs:
        groups.setdefault(run.size_class, []).append(run)
        naive, fast = median(run.naive_seconds), median(run.fast_seconds)
        images.append(
            {
                "image": str(run.path),
                "size": f"{run.width}x{run.height}",
                "class": run.size_class,
                "naive_seconds": round(naive, 6) if naive_ran else None,
                "egate_seconds": round(fast, 6),
                "speedup": round(naive / fast, 3) if naive_ran else None,
                "faces": {"naive": run.naive_faces if naive_ran else None, "egate": run.fast_faces},
            }
        )
    by_size = {}
    for label, members in sorted(groups.items()):
        naive_total = sum(median(run.naive_seconds) for run in members) if naive_ran else None
        fast_total = sum(median(run.fast_seconds) for run in members)
        naive_cpu = sum(median(run.naive_cpu) for run in members) if naive_ran else None
        fast_cpu = sum(median(run.fast_cpu) for run in members)
        timed_single = all(run.single_seconds for run in members)
        single_total = sum(median(run.single_seconds) for run in members) if timed_single else None
        single_cpu = sum(median(run.single_cpu) for run in members) if timed_single else None
        by_size[label] = {
            "images": len(members),
            "naive_mean_seconds": _mean(naive_total, len(members)),
            "egate_mean_seconds": fast_total / len(members),
            # Ratio of mean times: what a gate that sees these images gains.
            "speedup": _ratio(naive_total, fast_total),
            "naive_mean_cpu_seconds": _mean(naive_cpu, len(members)),
            "egate_mean_cpu_seconds": fast_cpu / len(members),
            "cpu_speedup": _ratio(naive_cpu, fast_cpu),
            # egate on one thread, when its own path ran on more (None otherwise).
            "single_thread_mean_seconds": _mean(single_total, len(members)),
            "single_thread_speedup": _ratio(naive_total, single_total),
            "single_thread_mean_cpu_seconds": _mean(single_cpu, len(members)),
            "single_thread_cpu_speedup": _ratio(naive_cpu, single_cpu),
        }
    stage_samples: dict[str, list[float]] = {}
    for run in runs:
        for stage, values in run.stages.items():
            stage_samples.setdefault(stage, []).extend(values)
    total = sum(sum(run.fast_seconds) for run in runs)
    descriptor_total = sum(sum(run.stages.get("descriptor", [])) for run in runs)
    reference_samples = [value for run in runs for value in run.reference_seconds]
    reference = None
    if reference_samples:
        largest, pairs, runtime_differ = runtime_agreement(runs)
        ours = percentile(stage_samples.get("descriptor", []), 0.5)
        theirs = percentile(reference_samples, 0.5)
        reference = {
            "runtime": "dlib",
            "p50": theirs,
            "p95": percentile(reference_samples, 0.95),
            # Median dlib time over median egate time, chip for chip the same images.
            "speedup": theirs / ours if ours > 0 else None,
            "max_abs_difference": largest,
            "thresholds": [TYPICAL_THRESHOLD, STRICT_THRESHOLD],
            "pairs_compared": pairs,
            "differing": runtime_differ,
        }
    numpy_samples = [value for run in runs for value in run.numpy_seconds]
    numpy_runtime = None
    if numpy_samples:
        ours = percentile(stage_samples.get("descriptor", []), 0.5)
        numpy_p50 = percentile(numpy_samples, 0.5)
        numpy_runtime = {
            "p50": numpy_p50,
            "p95": percentile(numpy_samples, 0.95),
            "speedup": numpy_p50 / ours if ours > 0 else None,
        }
    return {
        "images": images,
        "by_size": by_size,
        "stages": {
            stage: {"p50": percentile(values, 0.5), "p95": percentile(values, 0.95)}
            for stage, values in stage_samples.items()
        },
        "descriptor_share": descriptor_total / total if total else None,
        "descriptor_runtime": descriptor,
        "threads": threads,
        "descriptor_reference": reference,
        "descriptor_numpy": numpy_runtime,
        "capture_window": capture,
        "naive_measured": naive_ran,
        "decisions": {"pairs_compared": compared, "differing": list(differ)},
        "verifications_per_second": {str(count): rate for count, rate in rates.items()},
    }
