"""What decoding an image costs: egate's decoder against plain Pillow, in peak memory and time.

Usage: ``python benchmarks/image_decode.py [--rounds N] [--keep DIR]``

The images are built first (in a temporary folder, or ``--keep DIR``):

* the 16-bit grey PNG of 6300 x 6300 pixels from issue 12, a few tens of
  kilobytes on disk and 1.1 GB for egate's decoder before it bounded its cost;
* camera-sized JPEGs: 12 MP (decoded whole), 24 MP and 35 MP (reduced by 2
  as they load);
* a 16 MP JPEG 2000 (reduced by 2 as it loads);
* a progressive JPEG of 1010 scans, 38 KB that cost seconds;
* a 480 x 600 chip photo in JPEG 2000, through ``decode_chip_photo``.

Each decode runs in a fresh process, which reads the file, then decodes its
bytes once, timed, and reports its peak resident set (``VmHWM`` in
``/proc/self/status``) and its resident set before decoding (the interpreter,
numpy and Pillow).  egate is ``decode_image`` (``decode_chip_photo`` for the
chip photo); the baseline is ``numpy.asarray(Image.open(...).convert("RGB"))``,
what a plain Pillow caller does.  The table gives, per image and decoder, the
median time over ``--rounds`` processes, the largest peak, and how many
times more the baseline takes of each.  Linux only (``/proc``).
"""

from __future__ import annotations

import argparse
import io
import json
import re
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

MB = 1024 * 1024


def _status_bytes(field: str) -> int:
    with open("/proc/self/status") as status:
        found = re.search(rf"^{field}:\s*(\d+) kB", status.read(), re.MULTILINE)
    if found is None:
        raise SystemExit(f"no {field} in /proc/self/status: this benchmark needs Linux")
    return int(found.group(1)) * 1024


def child(decoder: str, path: Path) -> None:
    """One decode in this fresh process: print seconds, peak and base memory, and the result."""
    data = path.read_bytes()
    decode: Callable[[bytes], npt.NDArray[np.uint8]]
    if decoder == "pillow":

        def decode(data: bytes) -> npt.NDArray[np.uint8]:
            return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))

    else:
        from egate.biometrics.image import decode_chip_photo, decode_image

        chosen = decode_chip_photo if decoder == "egate-chip" else decode_image

        def decode(data: bytes) -> npt.NDArray[np.uint8]:
            return chosen(data, path.name)

    base = _status_bytes("VmRSS")
    started = time.perf_counter()
    try:
        result = "x".join(str(side) for side in decode(data).shape[1::-1])
    except Exception as error:  # a refusal is a result, not a failure of the benchmark
        result = f"refused: {error}"
    seconds = time.perf_counter() - started
    peak = _status_bytes("VmHWM")
    print(json.dumps({"seconds": seconds, "peak": peak, "base": base, "result": result}))


# --- the images -------------------------------------------------------------------


def sixteen_bit_png(width: int, height: int) -> bytes:
    """A flat 16-bit grey PNG written row by row (no 160 MB array to build it)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    row = b"\x00" + struct.pack(">H", 30_000) * width
    packer = zlib.compressobj(9)
    body = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 16, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")
    )


def scene(width: int, height: int) -> Image.Image:
    """A photo-like picture: smooth shading with sensor-like noise, so codecs work as on photos."""
    rng = np.random.default_rng(12)
    columns = np.arange(width, dtype=np.float32)[None, :]
    rows = np.arange(height, dtype=np.float32)[:, None]
    shade = 128 + 60 * np.sin(columns / 300) * np.cos(rows / 200)
    noise = rng.normal(0, 6, (256, 256)).astype(np.float32)
    grain = np.tile(noise, (height // 256 + 1, width // 256 + 1))[:height, :width]
    channels: list[npt.NDArray[np.floating[Any]]] = [
        shade + grain,
        0.8 * shade + 20 + grain,
        255 - shade + grain,
    ]
    return Image.fromarray(np.clip(np.stack(channels, axis=2), 0, 255).astype(np.uint8))


def encoded(picture: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, fmt, **options)
    return buffer.getvalue()


def many_scans(repeats: int) -> bytes:
    """A flat 2000 x 2000 progressive JPEG with one of its small scans repeated."""
    data = encoded(Image.new("RGB", (2000, 2000), (128, 128, 128)), "JPEG", progressive=True)
    starts = [found.start() for found in re.finditer(rb"\xff\xda", data)]
    small = min(range(len(starts) - 1), key=lambda i: starts[i + 1] - starts[i])
    scan = data[starts[small] : starts[small + 1]]
    return data[: starts[-1]] + scan * repeats + data[starts[-1] :]


@dataclass(frozen=True)
class Case:
    label: str
    name: str
    build: Callable[[], bytes]
    egate: str = "egate"


CASES = (
    Case("16-bit PNG 6300x6300 (issue 12)", "grey16.png", lambda: sixteen_bit_png(6300, 6300)),
    Case("JPEG 4000x3000 (12 MP)", "12mp.jpg", lambda: encoded(scene(4000, 3000), "JPEG")),
    Case("JPEG 6000x4000 (24 MP)", "24mp.jpg", lambda: encoded(scene(6000, 4000), "JPEG")),
    Case("JPEG 7000x5000 (35 MP)", "35mp.jpg", lambda: encoded(scene(7000, 5000), "JPEG")),
    Case(
        "JPEG 2000 5200x3100 (16 MP)",
        "16mp.jp2",
        lambda: encoded(scene(5200, 3100), "JPEG2000", quality_mode="rates", quality_layers=[20]),
    ),
    Case("progressive JPEG, 1010 scans", "scans.jpg", lambda: many_scans(1000)),
    Case(
        "chip photo JPEG 2000 480x600",
        "dg2.jp2",
        lambda: encoded(scene(480, 600), "JPEG2000", quality_mode="rates", quality_layers=[20]),
        egate="egate-chip",
    ),
)


# --- measuring --------------------------------------------------------------------


@dataclass(frozen=True)
class Measured:
    seconds: float
    peak: int
    base: int
    result: str


def measure(decoder: str, path: Path, rounds: int) -> Measured:
    """Median time and largest peak of ``rounds`` fresh processes decoding ``path``."""
    runs = []
    for _ in range(rounds):
        ran = subprocess.run(
            [sys.executable, __file__, "--child", decoder, str(path)],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if ran.returncode != 0:
            last = (ran.stderr.strip().splitlines() or ["no output"])[-1]
            return Measured(float("nan"), 0, 0, f"failed: {last}")
        runs.append(json.loads(ran.stdout))
    return Measured(
        seconds=statistics.median(run["seconds"] for run in runs),
        peak=max(run["peak"] for run in runs),
        base=min(run["base"] for run in runs),
        result=runs[0]["result"],
    )


def _ratio(baseline: float, ours: float) -> str:
    return "-" if not ours or baseline != baseline else f"{baseline / ours:.1f}x"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=3, help="processes per image and decoder")
    parser.add_argument("--keep", type=Path, help="build the images in this folder and keep them")
    parser.add_argument(
        "--child", choices=("egate", "egate-chip", "pillow"), help=argparse.SUPPRESS
    )
    parser.add_argument("path", nargs="?", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.path)
        return 0
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        print(f"{'image':32} {'file':>9}  {'decoder':7} {'time':>8} {'peak RSS':>9} "
              f"{'decode':>8}  result")  # fmt: skip
        for case in CASES:
            path = folder / case.name
            if not path.exists():
                path.write_bytes(case.build())
            size = f"{path.stat().st_size / 1024:,.0f} KB"
            rows = {}
            for decoder in (case.egate, "pillow"):
                rows[decoder] = found = measure(decoder, path, args.rounds)
                label = case.label if decoder != "pillow" else ""
                print(
                    f"{label:32} {size if label else '':>9}  {decoder.split('-')[0]:7} "
                    f"{found.seconds * 1000:>6.0f} ms {found.peak / MB:>6.0f} MB "
                    f"{(found.peak - found.base) / MB:>5.0f} MB  {found.result}"
                )
            ours, theirs = rows[case.egate], rows["pillow"]
            print(
                f"{'':32} {'':>9}  pillow/egate: "
                f"time {_ratio(theirs.seconds, ours.seconds)}, "
                f"peak {_ratio(theirs.peak, ours.peak)}, "
                f"decode memory {_ratio(theirs.peak - theirs.base, ours.peak - ours.base)}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
