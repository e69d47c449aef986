"""``egate samples``: sample face photos for demos and tests."""

from __future__ import annotations

import click

from egate.cli.errors import EXIT_OK, InputError
from egate.samples import SDIST_REQUIREMENT, SampleError, cache_root, fetch_samples


@click.group(no_args_is_help=True)
def samples() -> None:
    """Sample face photos, fetched from the package registry into a per-user cache."""


@samples.command()
def fetch() -> int:
    """Download the sample photos (once) and print where they are.

    Downloads the face_recognition 1.3.0 source distribution with pip, checks
    its SHA-256 and extracts its tests/test_images/ into the cache
    ($EGATE_CACHE, else $XDG_CACHE_HOME/egate, else ~/.cache/egate).
    matplotlib's grace_hopper.jpg is listed too.
    """
    click.echo(f"fetching sample photos from {SDIST_REQUIREMENT} into {cache_root()}", err=True)
    try:
        sample_set = fetch_samples()
    except SampleError as error:
        raise InputError(str(error)) from None
    for path in sample_set.images():
        click.echo(str(path))
    return EXIT_OK
