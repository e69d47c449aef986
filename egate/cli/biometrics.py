"""``egate biometrics``: verify faces 1:1, benchmark the matching core, evaluate accuracy.

(A little past the ~400-line guideline: three subcommands, verify, evaluate
and bench, each with its options and its table, sharing the loading of models
and images; the work itself is done in egate.biometrics.)
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from PIL import Image
from rich.console import Console
from rich.table import Table

from egate.biometrics.benchmark import (
    bench_report,
    calibration,
    decision_agreement,
    measure_paths,
    throughput,
)
from egate.biometrics.benchmarkcapture import capture_window_cost
from egate.biometrics.decision import Decision
from egate.biometrics.evaluation import (
    COMMON_FMR,
    EES_FMR,
    Comparison,
    ErrorRates,
    default_thresholds,
    summarise,
)
from egate.biometrics.image import ImageError, find_images
from egate.biometrics.pairs import PairsError, load_pairs
from egate.biometrics.report import det_png, rates_csv
from egate.biometrics.verifier import (
    STRICT_THRESHOLD,
    TYPICAL_THRESHOLD,
    FaceVerifier,
    Template,
    VerifierSettings,
)
from egate.cli.biometrics_pad import pad_clips, pad_eval
from egate.cli.biometrics_quality import quality
from egate.cli.errors import EXIT_FAILURE, EXIT_OK, InputError
from egate.cli.faceinput import FiniteRange, load_models, read_image
from egate.cli.hostload import HostLoad
from egate.cli.progress import progress_bar
from egate.outputs import atomic_write
from egate.samples import installed_samples

THRESHOLD = FiniteRange(min=0.0, max=2.0, min_open=True, max_open=True)


@click.group(no_args_is_help=True)
def biometrics() -> None:
    """Verify faces 1:1, measure face quality and liveness, benchmark, evaluate accuracy.

    The faces are compared by the distance between their 128-d descriptors
    (dlib's model, through face_recognition's models): at most the threshold
    is a match. 0.6 is typical, 0.5 strict.

    Photos are JPEG, JPEG 2000, PNG, GIF, BMP, TIFF, WebP or PNM files of at
    most 40 megapixels; a file that is not one of them, or not a regular file,
    is an input error (exit status 2) naming the file.
    """
    # Every image outcome is egate's own one-line message: Pillow's remarks on
    # damaged data are not shown, and its decompression-bomb warning (a GIF
    # frame beyond 89 megapixels) makes the image unreadable, as egate's own
    # pixel limit would.
    warnings.filterwarnings("ignore", module=r"PIL\.")
    warnings.simplefilter("error", Image.DecompressionBombWarning)


# Commands with modules of their own: quality measures and presentation attacks.
biometrics.add_command(quality)
biometrics.add_command(pad_eval)
biometrics.add_command(pad_clips)


@biometrics.command()
@click.argument("reference", type=click.Path(path_type=Path, dir_okay=False))
@click.argument("live", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--threshold",
    type=THRESHOLD,
    default=TYPICAL_THRESHOLD,
    show_default=True,
    help=f"Largest distance that is a match ({STRICT_THRESHOLD} is strict).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
def verify(reference: Path, live: Path, threshold: float, as_json: bool) -> int:
    """Is the face in LIVE the person in REFERENCE (the chip photo)?

    Exit status: 0 match; 1 no match or failure to acquire (no face, several
    faces, a face of too low quality); 2 a file cannot be read as an image.
    """
    started = time.perf_counter()
    reference_pixels = read_image(reference)
    decoded = time.perf_counter()
    live_pixels = read_image(live)
    decode_times = {
        "reference_decode": decoded - started,
        "decode": time.perf_counter() - decoded,
    }
    settings = VerifierSettings(threshold=threshold)
    verifier = FaceVerifier.with_models(load_models(), settings)
    result = verifier.verify_photos(reference_pixels, live_pixels)
    result = dataclasses.replace(result, timings={**decode_times, **result.timings})
    if as_json:
        click.echo(json.dumps(result.to_json()))
    else:
        console = Console(highlight=False)
        table = Table(show_header=False, title=f"{reference.name} vs {live.name}")
        table.add_column("what", style="bold")
        table.add_column("value")
        colour = "green" if result.decision is Decision.MATCH else "red"
        table.add_row("decision", f"[{colour}]{result.decision.value}[/]")
        distance = "-" if result.distance is None else f"{result.distance:.4f}"
        table.add_row("distance", f"{distance} (threshold {result.threshold})")
        table.add_row("reason", result.reason or "-")
        if result.detail:
            table.add_row("detail", result.detail)
        total = sum(result.timings.values())
        stages = ", ".join(
            f"{name} {seconds * 1000:.0f}" for name, seconds in result.timings.items()
        )
        table.add_row("time", f"{total * 1000:.0f} ms ({stages})")
        console.print(table)
    return EXIT_OK if result.decision is Decision.MATCH else EXIT_FAILURE


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.2%}"


@biometrics.command(name="eval")
@click.argument("source", type=click.Path(path_type=Path, exists=True))
@click.option(
    "--target-fmr",
    type=FiniteRange(0, 1, min_open=True),
    default=0.001,
    show_default=True,
    help="FMR the reported threshold must not exceed.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Write det.png, rates.csv and summary.json here.",
)
def evaluate(source: Path, target_fmr: float, as_json: bool, out_dir: Path | None) -> int:
    """Measure FMR, FNMR, EER and FTA on labelled pairs (ISO/IEC 19795 terms).

    SOURCE is a CSV file with columns file_x,file_y,same (same: yes/no,
    true/false or 1/0; paths relative to the file) or a folder with one
    sub-folder per identity (every genuine and impostor pair is compared).
    Each photo is enrolled once; photos that give no template (no face,
    several faces, too low quality) count towards the failure-to-acquire
    rate. A file that cannot be read as an image is not a failure to acquire
    but an error in the data set: the evaluation stops with exit status 2 and
    names the file.
    """
    try:
        pairs = load_pairs(source)
    except PairsError as error:
        raise InputError(str(error)) from None
    verifier = FaceVerifier.with_models(load_models())
    photos = sorted({path for pair in pairs for path in (pair.first, pair.second)})
    templates: dict[Path, Template | None] = {}
    failures: dict[str, str] = {}
    with progress_bar(len(photos), "enrolling photos") as advance:
        for photo in photos:
            enrollment = verifier.enroll(read_image(photo))
            templates[photo] = enrollment.template
            if enrollment.template is None:
                failures[str(photo)] = enrollment.reason or "FAILURE_TO_ACQUIRE"
            advance()
    comparisons = []
    skipped = 0
    for pair in pairs:
        first, second = templates[pair.first], templates[pair.second]
        if first is None or second is None:
            skipped += 1
            continue
        comparisons.append(Comparison(pair.genuine, first.distance_to(second)))
    summary = summarise(ErrorRates(comparisons), len(photos), failures, skipped, target_fmr)
    if out_dir is not None:
        write_evaluation(out_dir, ErrorRates(comparisons), summary, source.name)
    if as_json:
        click.echo(json.dumps(summary))
    else:
        show_summary(summary)
    return EXIT_OK


def write_evaluation(
    out_dir: Path, rates: ErrorRates, summary: dict[str, object], title: str
) -> None:
    """det.png, rates.csv and summary.json, each written whole or not at all."""
    targets = [EES_FMR, COMMON_FMR, float(str(summary["target_fmr"]))]
    points = [rates.operating_point(target) for target in sorted(set(targets))]
    atomic_write(out_dir / "rates.csv", rates_csv(rates.grid(default_thresholds())))
    atomic_write(out_dir / "det.png", det_png(rates, points, f"DET: {title}"))
    atomic_write(out_dir / "summary.json", (json.dumps(summary, indent=2) + "\n").encode())


def show_summary(summary: dict[str, Any]) -> None:
    """The evaluation as a table on the terminal."""
    console = Console(highlight=False)
    table = Table(show_header=False, title="Verification accuracy (ISO/IEC 19795)")
    table.add_column("measure", style="bold")
    table.add_column("value")
    fta = summary["failure_to_acquire"]
    comparisons = summary["comparisons"]
    table.add_row("photos", str(summary["photos"]))
    reasons = ", ".join(f"{code} {count}" for code, count in fta["reasons"].items())
    table.add_row("failure to acquire", f"{_percent(fta['rate'])} ({fta['count']}) {reasons}")
    table.add_row(
        "comparisons",
        f"{comparisons['genuine']} genuine, {comparisons['impostor']} impostor, "
        f"{comparisons['skipped']} skipped (no template)",
    )
    eer = summary["eer"]
    if eer is not None:
        table.add_row("EER", f"{_percent(eer['rate'])} at threshold {eer['threshold']:.3f}")
    for threshold, rates in summary["at_thresholds"].items():
        table.add_row(
            f"at threshold {threshold}",
            f"FMR {_percent(rates['fmr'])}, FNMR {_percent(rates['fnmr'])}",
        )
    for point in summary["operating_points"]:
        if point["threshold"] is None:
            continue
        table.add_row(
            f"FMR <= {point['target_fmr']:.2%}",
            f"threshold {point['threshold']:.3f}: FNMR {_percent(point['fnmr'])}"
            + ("" if point["measurable"] else " (not measurable, see note)"),
        )
    console.print(table)
    for note in summary["notes"]:
        console.print(f"note: {note}")


@biometrics.command()
@click.option(
    "--images",
    "images_dir",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="Folder of photos (searched recursively). Default: the fetched samples.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=os.cpu_count() or 1,
    show_default=True,
    help="Measure the matching core with 1..N worker processes.",
)
@click.option(
    "--rounds",
    type=click.IntRange(1, 100),
    default=3,
    show_default=True,
    help="Times each image goes through both paths (medians count).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the results as one JSON object.")
@click.option(
    "--out",
    "out_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the matching core's service-time calibration file (JSON) here.",
)
def bench(
    images_dir: Path | None, workers: int, rounds: int, as_json: bool, out_file: Path | None
) -> int:
    """Time verification against naive face_recognition, and the matching core's throughput.

    Every image goes through the naive path (face_recognition.face_encodings
    on load_image_file) and egate's path in the same run; the table shows
    per-stage latency (p50, p95), the speed-up per image size, whether both
    paths decide every pair of single-face images alike, and verifications
    per second through the matching core with 1..N workers, and the CPU time
    of scoring a capture window (10 frames at 1280x720 made from the first
    single-face image). dlib's own encoder is timed on the same chips and
    both descriptors are compared (and, with the descriptor on ONNX Runtime,
    the numpy runtime is timed too). egate's path runs on the threads a lone
    verifier takes here (two with two cores or more); its one-thread time is
    shown beside it. Last, how busy the machine was besides the run (other
    processes and, on a virtual machine, the hypervisor's steal; Linux only):
    other work stretches every figure.

    Exit status 0, or 1 when the two paths (or the numpy and dlib
    descriptors) decide some pair differently.
    """
    images = _bench_images(images_dir)
    host = HostLoad()
    host.start()
    models = load_models()
    settings = VerifierSettings()
    analyzer = FaceVerifier.with_models(models, settings).analyzer
    threads = analyzer.settings.threads
    single = None
    if threads > 1:
        one_thread = settings.model_copy(update={"threads": 1})
        single = FaceVerifier.with_models(models, one_thread).analyzer
    with progress_bar(len(images) * rounds, "naive and egate paths") as advance:
        try:
            runs, naive_ran = measure_paths(
                analyzer, images, rounds, on_step=advance, single=single
            )
        except ImageError as error:
            raise InputError(str(error)) from None
    compared, differ = decision_agreement(runs, settings.threshold)
    frames = [read_image(run.path) for run in runs if run.fast_faces == 1]
    if not frames:
        raise InputError("no image with exactly one face to measure throughput on")
    rates: dict[int, float] = {}
    service: list[float] = []
    with progress_bar(workers, "matching core throughput") as advance:
        for count in range(1, workers + 1):
            # Each frame at least twice per worker, so the run is long enough
            # that the last job's tail (one worker idle) weighs little.
            jobs = max(24, 2 * count * len(frames))
            rates[count], service = throughput(settings, frames, frames[0], count, jobs)
            advance()
    # A window costs ~40 ms: three per round, at least nine, so that the median
    # holds on a shared machine where single windows vary by half.
    capture = capture_window_cost(models, frames[0], max(3 * rounds, 9))
    runtime = analyzer.descriptor_runtime
    report = bench_report(runs, naive_ran, compared, differ, rates, runtime, capture, threads)
    usage = host.finish()
    report["host"] = None if usage is None else usage.as_dict()
    if out_file is not None:
        source = str(images_dir or "samples")
        data = calibration(service, workers, rates, source, datetime.now(UTC), runtime)
        atomic_write(out_file, (json.dumps(data, indent=2) + "\n").encode())
    if as_json:
        click.echo(json.dumps(report))
    else:
        show_bench(report)
    reference = report["descriptor_reference"]
    runtime_differ = reference is not None and reference["differing"]
    return EXIT_FAILURE if differ or runtime_differ else EXIT_OK


def _bench_images(images_dir: Path | None) -> list[Path]:
    if images_dir is not None:
        images = find_images(images_dir)
        if not images:
            raise InputError(f"{images_dir}: no images (.jpg, .png, .jp2, ...) in it")
        return images
    samples = installed_samples()
    if samples is None:
        raise InputError("no images: pass --images DIR, or run `egate samples fetch` first")
    return samples.images()


def show_bench(report: dict[str, Any]) -> None:
    """The benchmark as tables on the terminal."""
    console = Console(highlight=False)
    threads = report["threads"]
    sizes = Table(title="Verification time per image size (median per image, mean per size)")
    egate = f"egate ({threads} threads)" if threads > 1 else "egate"
    columns = ("size", "images", "naive", egate, "speed-up", "naive CPU", "egate CPU", "CPU x")
    for column in columns:
        sizes.add_column(column, justify="right" if column != "size" else "left")

    def ms(seconds: float | None) -> str:
        return "-" if seconds is None else f"{seconds * 1000:.0f} ms"

    def times(ratio: float | None) -> str:
        return "-" if ratio is None else f"{ratio:.2f}x"

    for label, row in report["by_size"].items():
        sizes.add_row(
            label,
            str(row["images"]),
            ms(row["naive_mean_seconds"]),
            ms(row["egate_mean_seconds"]),
            times(row["speedup"]),
            ms(row["naive_mean_cpu_seconds"]),
            ms(row["egate_mean_cpu_seconds"]),
            times(row["cpu_speedup"]),
        )
    console.print(sizes)
    for label, row in report["by_size"].items():
        single = row["single_thread_mean_seconds"]
        if single is not None:
            # How much the second thread gave: near 2 on two free cores, near 1
            # when the machine (or its host) leaves egate one core's worth.
            console.print(
                f"egate on one thread, {label}: {ms(single)} "
                f"({times(row['single_thread_speedup'])}), CPU "
                f"{ms(row['single_thread_mean_cpu_seconds'])} "
                f"({times(row['single_thread_cpu_speedup'])}); {threads} threads ran "
                f"{times(single / row['egate_mean_seconds'])} as fast"
            )
    stages = Table(title="egate stages (all images)")
    for column in ("stage", "p50", "p95"):
        stages.add_column(column, justify="right" if column != "stage" else "left")
    for stage, values in report["stages"].items():
        stages.add_row(stage, f"{values['p50'] * 1000:.1f} ms", f"{values['p95'] * 1000:.1f} ms")
    console.print(stages)
    share = report["descriptor_share"]
    runtime = report["descriptor_runtime"]
    if share is not None:
        console.print(f"descriptor share of egate's time: {share:.0%} (descriptor on {runtime})")
    reference = report["descriptor_reference"]
    if reference is not None:
        ours = report["stages"]["descriptor"]["p50"] * 1000
        theirs = reference["p50"] * 1000
        ratio = "-" if reference["speedup"] is None else f"{reference['speedup']:.1f}x"
        largest = reference["max_abs_difference"]
        numpy = report["descriptor_numpy"]
        if numpy is not None:
            faster = "-" if numpy["speedup"] is None else f"{numpy['speedup']:.1f}x"
            console.print(
                f"descriptor per chip on numpy: {numpy['p50'] * 1000:.1f} ms (p50; "
                f"{runtime} {faster} faster on the same chips)"
            )
        console.print(
            f"descriptor per chip: {runtime} {ours:.1f} ms, dlib {theirs:.1f} ms (p50), {ratio}; "
            f"largest difference {'-' if largest is None else f'{largest:.1e}'}; decisions at "
            f"{' and '.join(str(t) for t in reference['thresholds'])}: "
            f"{reference['pairs_compared']} pairs compared, {len(reference['differing'])} differ"
        )
        for line in reference["differing"]:
            console.print(f"  [red]differs[/] {line}")
    decisions = report["decisions"]
    console.print(
        f"decisions at the threshold: {decisions['pairs_compared']} pairs compared, "
        f"{len(decisions['differing'])} differ"
    )
    for line in decisions["differing"]:
        console.print(f"  [red]differs[/] {line}")
    rates = ", ".join(
        f"{count} worker{'s' if count != '1' else ''}: {rate:.1f}/s"
        for count, rate in report["verifications_per_second"].items()
    )
    console.print(f"matching core throughput: {rates}")
    capture = report["capture_window"]
    if capture is not None:
        console.print(
            f"capture window: {capture['frames']} frames at {capture['size']} scored in "
            f"{capture['cpu_seconds_p50'] * 1000:.0f} ms of CPU (p50; best "
            f"{capture['cpu_seconds_best'] * 1000:.0f} ms), a face in "
            f"{capture['frames_with_a_face']} of them"
        )
    host = report.get("host")
    if host is not None:
        # Other work stretches every figure, egate's two threads more than the
        # naive path's one: a run beside a busy neighbour is not a fair one.
        console.print(
            f"other work on this machine during the run: {host['other_processors']:.2f} "
            f"processors on average; steal {host['steal_share']:.1%} "
            f"(over {host['seconds']:.0f} s)"
        )
    if not report["naive_measured"]:
        console.print("note: face_recognition is not installed, so the naive path was not measured")
