"""egate's verification path before and after issue 18's speed work, stage by stage, in one run.

Usage: ``python benchmarks/verification_stages.py [--images DIR] [--rounds N]``

* before: the JPEG decoded by Pillow, faces detected on an RGB copy, the
  descriptor on numpy/OpenBLAS (egate until issue 18);
* after: the JPEG decoded by OpenCV's libjpeg (the same pixels), faces
  detected on a grey copy, the descriptor on ONNX Runtime, one thread;
* 2 threads: the same, with the detector's pyramid searched in two parts at
  once and the descriptor on two threads (what a lone verifier takes on a
  machine of two cores or more).

All search a 512 px copy first and take the chip from the full picture.
Each photo goes through every path in turn, ``--rounds`` times, so all see
the same machine load; per stage, the median over rounds of each photo,
averaged over the photos, as wall time and as processor time of the whole
process (which a shared machine stretches less).  The last lines compare the
before and after descriptors: the largest distance between them for one
photo, and whether they decide every pair of photos alike at 0.6 and 0.5.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from egate.biometrics import image as image_module
from egate.biometrics.benchmark import timed_verification
from egate.biometrics.face import Descriptor, DetectionSettings, FaceAnalyzer, FaceModels
from egate.biometrics.image import find_images, read_image_file
from egate.samples import installed_samples

PATHS = {
    "before": DetectionSettings(descriptor="numpy", grey_detection=False),
    "after": DetectionSettings(),
    "2 threads": DetectionSettings(threads=2),
}
STAGES = ("decode", "downscale", "detect", "align", "quality", "descriptor")


def run_once(
    analyzer: FaceAnalyzer, path: Path, opencv_jpeg: bool, clock: Callable[[], float]
) -> tuple[dict[str, float], Descriptor | None]:
    """One photo through one path: seconds per stage on ``clock``, and the descriptor."""
    modes = image_module._OPENCV_JPEG_MODES
    if not opencv_jpeg:
        # No JPEG colour model goes to OpenCV: Pillow decodes them all, as before.
        image_module._OPENCV_JPEG_MODES = frozenset()
    try:
        started = clock()
        pixels = read_image_file(path)
        stages = {"decode": clock() - started}
    finally:
        image_module._OPENCV_JPEG_MODES = modes
    timed, _, descriptor = timed_verification(analyzer, pixels, clock)
    return stages | timed, descriptor


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--images", type=Path, help="folder of photos (default: the samples)")
    parser.add_argument("--rounds", type=int, default=5, help="times each photo goes through")
    args = parser.parse_args(argv)
    if args.images is not None:
        images = find_images(args.images)
    else:
        fetched = installed_samples()
        if fetched is None:
            parser.error("no images: pass --images DIR, or run `egate samples fetch` first")
        images = fetched.images()
    models = FaceModels()
    # Processor time of the whole process: the two-thread path's helpers count.
    clocks = {"wall": time.perf_counter, "cpu": time.process_time}
    analyzers = {
        (name, clock_name): FaceAnalyzer(models, settings, clock)
        for name, settings in PATHS.items()
        for clock_name, clock in clocks.items()
    }
    # samples[path name][clock][stage][photo] -> seconds, one per round
    samples: dict[str, dict[str, dict[str, list[list[float]]]]] = {
        name: {c: {s: [[] for _ in images] for s in STAGES} for c in clocks} for name in PATHS
    }
    descriptors: dict[str, list[Descriptor | None]] = {name: [None] * len(images) for name in PATHS}
    for (name, clock_name), analyzer in analyzers.items():  # warm up: first-call costs
        run_once(analyzer, images[0], name != "before", clocks[clock_name])
    for _ in range(args.rounds):
        for index, path in enumerate(images):
            for (name, clock_name), analyzer in analyzers.items():
                stages, descriptor = run_once(analyzer, path, name != "before", clocks[clock_name])
                descriptors[name][index] = descriptor
                for stage in STAGES:
                    samples[name][clock_name][stage][index].append(stages.get(stage, 0.0))

    def mean_ms(name: str, clock_name: str, stage: str) -> float:
        per_photo = samples[name][clock_name][stage]
        return 1000 * statistics.fmean(statistics.median(values) for values in per_photo)

    print(f"{len(images)} photos, {args.rounds} rounds; ms per photo (mean of medians)")
    headings = [name for name in PATHS] + [f"CPU {name}" for name in PATHS]
    print(f"{'stage':12}" + "".join(f"{heading:>14}" for heading in headings))
    for stage in (*STAGES, "total"):
        summed = STAGES if stage == "total" else (stage,)
        row = [sum(mean_ms(name, c, s) for s in summed) for c in clocks for name in PATHS]
        print(f"{stage:12}" + "".join(f"{value:14.1f}" for value in row))
    pairs = [
        (before, after)
        for before, after in zip(descriptors["before"], descriptors["after"], strict=True)
        if before is not None and after is not None
    ]
    largest = max((float(np.linalg.norm(b - a)) for b, a in pairs), default=0.0)
    total = len(pairs) * (len(pairs) - 1) // 2
    print(f"largest distance between a photo's before and after descriptors: {largest:.4f}")
    for threshold in (0.6, 0.5):
        differ = sum(
            (float(np.linalg.norm(b1 - b2)) <= threshold)
            != (float(np.linalg.norm(a1 - a2)) <= threshold)
            for (b1, a1), (b2, a2) in itertools.combinations(pairs, 2)
        )
        print(f"pairs decided differently at {threshold}: {differ} of {total}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
