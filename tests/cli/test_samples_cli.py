"""``egate samples fetch``: prints where the sample photos are."""

from __future__ import annotations

from pathlib import Path

import pytest

from egate.cli import samples as samples_cli
from egate.samples import SampleError, SampleSet, fetch_samples


@pytest.fixture(scope="session")
def sample_faces() -> SampleSet:
    """The real samples in the per-user cache (downloaded once per machine)."""
    try:
        return fetch_samples()
    except SampleError as error:
        pytest.skip(f"sample faces unavailable (no network or registry?): {error}")


def test_fetch_prints_the_image_paths(cli, sample_faces):
    ran = cli("samples", "fetch")
    assert ran.status == 0, ran.err
    printed = [Path(line) for line in ran.out.splitlines()]
    assert printed == sample_faces.images()
    names = {path.name for path in printed}
    assert {"obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg"} <= names
    assert all(path.is_file() for path in printed)
    assert ran.err.startswith("fetching sample photos from face_recognition==1.3.0 into ")


def test_fetch_failure_exits_2_with_one_line(cli, monkeypatch):
    def offline(*_: object, **__: object) -> SampleSet:
        raise SampleError("could not download face_recognition==1.3.0: network unreachable")

    monkeypatch.setattr(samples_cli, "fetch_samples", offline)
    ran = cli("samples", "fetch")
    assert ran.status == 2
    assert ran.out == ""
    assert ran.err.splitlines()[-1] == (
        "egate: error: could not download face_recognition==1.3.0: network unreachable"
    )


def test_fetch_uses_egate_cache(cli, monkeypatch, tmp_path):
    seen: list[object] = []

    def record(*arguments: object, **options: object) -> SampleSet:
        seen.append((arguments, options))
        folder = tmp_path / "samples" / "face_recognition-1.3.0"
        folder.mkdir(parents=True)
        return SampleSet(folder)

    monkeypatch.setenv("EGATE_CACHE", str(tmp_path))
    monkeypatch.setattr(samples_cli, "fetch_samples", record)
    ran = cli("samples", "fetch")
    assert ran.status == 0
    assert f"into {tmp_path}" in ran.err
    assert seen == [((), {})]
