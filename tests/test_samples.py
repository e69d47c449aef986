"""Sample face photos: fetched with pip, checked by SHA-256, extracted safely, cached.

Everything but one test runs on a crafted archive handed over by an injected
runner in place of pip; ``test_real_samples`` uses the real per-user cache
(one download per machine) and skips without a network.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import tarfile
from collections.abc import Sequence
from pathlib import Path

import pytest

from egate import samples as samples_module
from egate.samples import (
    SDIST_FILE,
    SDIST_REQUIREMENT,
    SampleError,
    cache_root,
    fetch_samples,
    grace_hopper,
    installed_samples,
    resolve_sample_path,
)

IMAGES = "face_recognition-1.3.0/tests/test_images"


def regular(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    member = tarfile.TarInfo(name)
    member.size = len(data)
    return member, data


def symlink(name: str, target: str) -> tuple[tarfile.TarInfo, bytes]:
    member = tarfile.TarInfo(name)
    member.type = tarfile.SYMTYPE
    member.linkname = target
    return member, b""


def hardlink(name: str, target: str) -> tuple[tarfile.TarInfo, bytes]:
    member = tarfile.TarInfo(name)
    member.type = tarfile.LNKTYPE
    member.linkname = target
    return member, b""


def folder(name: str) -> tuple[tarfile.TarInfo, bytes]:
    member = tarfile.TarInfo(name)
    member.type = tarfile.DIRTYPE
    return member, b""


SAFE = [
    regular(f"{IMAGES}/obama.jpg", b"obama"),
    regular(f"{IMAGES}/biden.jpg", b"biden"),
]
HOSTILE = [
    folder(IMAGES),
    regular("face_recognition-1.3.0/setup.py", b"setup"),  # outside the images folder
    regular(f"{IMAGES}/../escaped.jpg", b"up one"),
    regular(f"{IMAGES}/../../../../escaped2.jpg", b"up four"),
    regular(f"/{IMAGES}/absolute.jpg", b"absolute"),
    regular(f"{IMAGES}/deeper/nested.jpg", b"nested"),
    regular(f"{IMAGES}/.hidden.jpg", b"hidden"),
    symlink(f"{IMAGES}/passwd.jpg", "/etc/passwd"),
    symlink(f"{IMAGES}/sibling.jpg", "../../setup.py"),
    hardlink(f"{IMAGES}/hard.jpg", "face_recognition-1.3.0/setup.py"),
]


def archive(members: Sequence[tuple[tarfile.TarInfo, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for member, data in members:
            tar.addfile(member, io.BytesIO(data) if member.isfile() else None)
    return buffer.getvalue()


class FakePip:
    """Stands in for ``pip download``: drops an archive into --dest, or fails like pip."""

    def __init__(self, payload: bytes | None, returncode: int = 0, stderr: bytes = b"") -> None:
        self.payload = payload
        self.returncode = returncode
        self.stderr = stderr
        self.calls: list[list[str]] = []

    def __call__(self, command: Sequence[str]) -> subprocess.CompletedProcess[bytes]:
        self.calls.append(list(command))
        if self.payload is not None:
            dest = Path(command[command.index("--dest") + 1])
            (dest / SDIST_FILE).write_bytes(self.payload)
        return subprocess.CompletedProcess(command, self.returncode, b"", self.stderr)


def never(command: Sequence[str]) -> subprocess.CompletedProcess[bytes]:
    raise AssertionError(f"pip should not run: {command}")


@pytest.fixture
def crafted(monkeypatch) -> bytes:
    """A hostile archive, pinned as the expected one."""
    payload = archive(SAFE + HOSTILE)
    monkeypatch.setattr(samples_module, "SDIST_SHA256", hashlib.sha256(payload).hexdigest())
    return payload


def test_fetch_extracts_only_plain_images(tmp_path, crafted):
    cache = tmp_path / "cache"
    pip = FakePip(crafted)
    sample_set = fetch_samples(cache, run=pip)
    assert sample_set.folder == cache / "samples" / "face_recognition-1.3.0"
    assert sorted(path.name for path in sample_set.folder.iterdir()) == [
        ".complete",
        "biden.jpg",
        "obama.jpg",
    ]
    assert (sample_set.folder / "obama.jpg").read_bytes() == b"obama"
    assert not any(path.is_symlink() for path in sample_set.folder.iterdir())
    # Nothing climbed out of the cache.
    assert sorted(path.name for path in tmp_path.rglob("escaped*")) == []
    assert sorted(path.name for path in (cache / "samples").iterdir()) == ["face_recognition-1.3.0"]
    # pip was asked for the source distribution alone.
    (command,) = pip.calls
    assert command[1:4] == ["-m", "pip", "download"]
    assert SDIST_REQUIREMENT in command
    assert command[command.index("--no-binary") + 1] == ":all:"
    assert "--no-deps" in command


def test_images_lists_the_samples_and_matplotlib_portrait(tmp_path, crafted):
    sample_set = fetch_samples(tmp_path, run=FakePip(crafted))
    names = [path.name for path in sample_set.images()]
    extra = grace_hopper()
    assert names == ["biden.jpg", "obama.jpg"] + ([] if extra is None else ["grace_hopper.jpg"])
    assert sample_set.image("obama.jpg") == sample_set.folder / "obama.jpg"
    with pytest.raises(SampleError, match=r"no sample image 'trump.jpg' \(there are: biden.jpg"):
        sample_set.image("trump.jpg")


def test_second_fetch_reuses_the_cache(tmp_path, crafted):
    first = fetch_samples(tmp_path, run=FakePip(crafted))
    second = fetch_samples(tmp_path, run=never)
    assert second == first
    assert installed_samples(tmp_path) == first


def test_interrupted_extraction_is_redone(tmp_path, crafted):
    partial = tmp_path / "samples" / "face_recognition-1.3.0"
    partial.mkdir(parents=True)
    (partial / "obama.jpg").write_bytes(b"half")
    (partial / "stale.jpg").write_bytes(b"from before")
    assert installed_samples(tmp_path) is None  # no .complete marker
    pip = FakePip(crafted)
    sample_set = fetch_samples(tmp_path, run=pip)
    assert len(pip.calls) == 1
    assert (sample_set.folder / "obama.jpg").read_bytes() == b"obama"
    assert not (sample_set.folder / "stale.jpg").exists()
    assert (sample_set.folder / ".complete").read_text().strip() == samples_module.SDIST_SHA256


def test_sha256_mismatch_is_refused(tmp_path):
    pip = FakePip(archive(SAFE))  # SDIST_SHA256 stays the real one
    with pytest.raises(SampleError) as error:
        fetch_samples(tmp_path, run=pip)
    message = str(error.value)
    assert f"{SDIST_FILE} has SHA-256 " in message
    assert f"expected {samples_module.SDIST_SHA256}: not using it" in message
    assert installed_samples(tmp_path) is None
    # Nothing of the download is left behind.
    assert list((tmp_path / "samples").iterdir()) == []


def test_archive_without_images_is_refused(tmp_path, monkeypatch):
    payload = archive([regular("face_recognition-1.3.0/setup.py", b"setup")])
    monkeypatch.setattr(samples_module, "SDIST_SHA256", hashlib.sha256(payload).hexdigest())
    with pytest.raises(SampleError, match="holds no images under"):
        fetch_samples(tmp_path, run=FakePip(payload))
    assert installed_samples(tmp_path) is None


def test_pip_failure_is_one_line(tmp_path):
    stderr = (
        b"WARNING: retrying\nERROR: No matching distribution found for face_recognition==1.3.0\n"
    )
    with pytest.raises(SampleError) as error:
        fetch_samples(tmp_path, run=FakePip(None, returncode=1, stderr=stderr))
    assert str(error.value) == (
        "could not download face_recognition==1.3.0: "
        "ERROR: No matching distribution found for face_recognition==1.3.0"
    )


def test_pip_that_downloads_nothing(tmp_path):
    with pytest.raises(SampleError, match="pip exited with status 0"):
        fetch_samples(tmp_path, run=FakePip(None))


def test_resolve_sample_path(tmp_path, crafted):
    assert resolve_sample_path("photos/me.jpg", tmp_path) == Path("photos/me.jpg")
    with pytest.raises(SampleError, match="not fetched yet: run `egate samples fetch`"):
        resolve_sample_path("samples:obama.jpg", tmp_path)
    fetch_samples(tmp_path, run=FakePip(crafted))
    path = resolve_sample_path("samples:obama.jpg", tmp_path)
    assert path == tmp_path / "samples" / "face_recognition-1.3.0" / "obama.jpg"
    with pytest.raises(SampleError, match=r"no sample image 'nobody\.jpg'"):
        resolve_sample_path("samples:nobody.jpg", tmp_path)


def test_cache_root(monkeypatch, tmp_path):
    monkeypatch.setenv("EGATE_CACHE", str(tmp_path / "explicit"))
    assert cache_root() == tmp_path / "explicit"
    monkeypatch.delenv("EGATE_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "egate"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_root() == tmp_path / "home" / ".cache" / "egate"


def test_sha256_of(tmp_path):
    path = tmp_path / "data"
    path.write_bytes(b"egate" * 500_000)  # more than one read
    assert samples_module.sha256_of(path) == hashlib.sha256(b"egate" * 500_000).hexdigest()


# --- the real thing --------------------------------------------------------------


@pytest.fixture(scope="session")
def sample_faces() -> samples_module.SampleSet:
    """The real samples in the per-user cache (downloaded once per machine)."""
    try:
        return fetch_samples()
    except SampleError as error:
        pytest.skip(f"sample faces unavailable (no network or registry?): {error}")


def test_real_samples(sample_faces):
    names = {path.name for path in sample_faces.images()}
    assert {"obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg", "32bit.png"} <= names
    assert {"obama_partial_face.jpg", "obama_partial_face2.jpg"} <= names
    for path in sample_faces.images():
        assert path.is_file() and path.stat().st_size > 10_000
    marker = sample_faces.folder / ".complete"
    assert marker.read_text().strip() == samples_module.SDIST_SHA256
    assert resolve_sample_path("samples:biden.jpg") == sample_faces.folder / "biden.jpg"
