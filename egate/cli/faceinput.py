"""What the face commands (verify, eval, bench, quality, pad-eval, pad-clips) share:
the face models and photos loaded with one-line errors, and float options that refuse ``nan``."""

from __future__ import annotations

import math
from pathlib import Path

import click

from egate.biometrics.face import FaceModels, ModelsUnavailable
from egate.biometrics.image import ImageError, RgbImage, read_image_file
from egate.cli.errors import InputError


def load_models() -> FaceModels:
    """The face models, or an input error that says how to install them."""
    try:
        return FaceModels()
    except ModelsUnavailable as error:
        raise InputError(str(error)) from None


def read_image(path: Path) -> RgbImage:
    """An image file's pixels, or an input error naming the file."""
    try:
        return read_image_file(path)
    except ImageError as error:
        raise InputError(str(error)) from None


class FiniteRange(click.FloatRange):
    """A float range that also refuses ``nan`` (which every range check lets through)."""

    def convert(
        self, value: float, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        number = float(super().convert(value, param, ctx))
        if math.isnan(number):
            self.fail(f"{value!r} is not a number", param, ctx)
        return number
