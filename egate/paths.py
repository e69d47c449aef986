"""Paths written in configuration files: read relative to the file, and checked to exist."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, ValidationInfo


def existing_file(path: Path, info: ValidationInfo) -> Path:
    """``path`` resolved against the configuration file's folder; it must be a file.

    The loader passes the folder as validation context ``base_dir``; without
    it (settings built in Python) the path is taken as it is.
    """
    base = (info.context or {}).get("base_dir")
    if base is not None and not path.is_absolute():
        path = Path(base) / path
    if not path.is_file():
        raise ValueError(f"no such file: {path}")
    return path


ConfigFile = Annotated[Path, AfterValidator(existing_file)]
