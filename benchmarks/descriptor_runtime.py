"""The face descriptor on ONNX Runtime and numpy against dlib's own encoder, and thread counts.

Usage: ``python benchmarks/descriptor_runtime.py [--images DIR] [--seconds S]``

Each scenario runs in fresh processes, since OpenBLAS reads its thread count
(``OPENBLAS_NUM_THREADS``) when it loads: one process alone, two at once (as
the matching core's two workers on a two-core machine), and one while another
process keeps a core busy (a machine that also does other work).  Each
process finds the faces of the photos (the sample photos by default), then
computes descriptors of their chips in turn for ``--seconds`` and reports its
time per chip; the table gives the median over the processes of a scenario
and the chips per second of all of them together, and the processor time
per chip (all of a process's threads; a loaded machine stretches it less).  It also prints the
largest difference between each runtime's descriptor and dlib's, any chip.
ONNX Runtime always runs on one thread (egate sets it so).

Nothing is written to disk: each process decodes the photos itself.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from egate.biometrics.face import DescriptorRuntime

SCENARIOS: tuple[tuple[str, str, str, int, bool], ...] = (
    # label, runtime, OPENBLAS_NUM_THREADS, processes at once, a busy core beside
    ("dlib", "dlib", "1", 1, False),
    ("onnx", "onnx", "1", 1, False),
    ("numpy, 1 BLAS thread", "numpy", "1", 1, False),
    ("numpy, 2 BLAS threads", "numpy", "2", 1, False),
    ("dlib, 2 processes", "dlib", "1", 2, False),
    ("onnx, 2 processes", "onnx", "1", 2, False),
    ("numpy, 1 thread, 2 processes", "numpy", "1", 2, False),
    ("numpy, 2 threads, 2 processes", "numpy", "2", 2, False),
    ("onnx, a busy core", "onnx", "1", 1, True),
    ("numpy, 1 thread, a busy core", "numpy", "1", 1, True),
    ("numpy, 2 threads, a busy core", "numpy", "2", 1, True),
)


def child(runtime: str, images: Sequence[Path], seconds: float) -> None:
    """One process of a scenario: print its time per chip (and the largest difference)."""
    import numpy as np

    from egate.biometrics.face import DetectionSettings, FaceAnalyzer, FaceModels
    from egate.biometrics.image import read_image_file

    chosen: DescriptorRuntime = "onnx" if runtime == "onnx" else "numpy"
    if runtime == "dlib":
        chosen = "dlib"
    analyzer = FaceAnalyzer(FaceModels(), DetectionSettings(descriptor=chosen))
    chips = [
        chip for path in images if (chip := analyzer.find(read_image_file(path)).chip) is not None
    ]
    if not chips:
        raise SystemExit("no face found in the images")
    if analyzer.descriptor_runtime != runtime:
        raise SystemExit(f"the {runtime} runtime is unavailable here")
    describe = analyzer.describe
    difference = max(
        float(np.max(np.abs(analyzer.describe(chip) - analyzer.describe_with_dlib(chip))))
        for chip in chips
    )
    describe(chips[0])  # warm up
    started, cpu = time.perf_counter(), time.process_time()
    count = 0
    while time.perf_counter() - started < seconds:
        describe(chips[count % len(chips)])
        count += 1
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    result = {"ms": elapsed / count * 1000, "cpu_ms": cpu / count * 1000, "difference": difference}
    print(json.dumps(result), flush=True)


def run(
    runtime: str, threads: str, processes: int, busy: bool, images: Sequence[Path], seconds: float
) -> list[dict[str, float]]:
    environment = {**os.environ, "OPENBLAS_NUM_THREADS": threads}
    command = [sys.executable, __file__, "--child", runtime, "--seconds", str(seconds)]
    command += [arg for path in images for arg in ("--image", str(path))]
    spinner = None
    if busy:
        spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        running = [
            subprocess.Popen(command, env=environment, stdout=subprocess.PIPE, text=True)
            for _ in range(processes)
        ]
        outputs = [process.communicate()[0] for process in running]
    finally:
        if spinner is not None:
            spinner.kill()
            spinner.wait()
    return [json.loads(output.strip().splitlines()[-1]) for output in outputs]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--images", type=Path, help="folder of photos (default: the samples)")
    parser.add_argument("--seconds", type=float, default=4.0, help="time per process")
    parser.add_argument("--child", choices=("onnx", "numpy", "dlib"), help=argparse.SUPPRESS)
    parser.add_argument("--image", type=Path, action="append", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.image, args.seconds)
        return 0

    from egate.biometrics.image import find_images
    from egate.samples import installed_samples

    if args.images is not None:
        images = find_images(args.images)
    else:
        samples = installed_samples()
        if samples is None:
            parser.error("no images: pass --images DIR, or run `egate samples fetch` first")
        images = samples.images()
    print(f"{len(images)} photos, {os.cpu_count()} cores, {args.seconds:g} s per process")
    print(f"{'scenario':34} {'ms per chip':>12} {'chips/s':>9} {'CPU ms':>7}")
    differences: dict[str, float] = {}
    for label, runtime, threads, processes, busy in SCENARIOS:
        results = run(runtime, threads, processes, busy, images, args.seconds)
        per_chip = statistics.median(result["ms"] for result in results)
        cpu = statistics.median(result["cpu_ms"] for result in results)
        rate = sum(1000 / result["ms"] for result in results)
        largest = max(result["difference"] for result in results)
        differences[runtime] = max(differences.get(runtime, 0.0), largest)
        print(f"{label:34} {per_chip:12.1f} {rate:9.1f} {cpu:7.1f}")
    for runtime in ("onnx", "numpy"):
        print(
            f"largest difference between {runtime} and dlib descriptors: {differences[runtime]:.1e}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
