"""Finished replications kept on disk, so that an interrupted run resumes where it stopped.

A long sweep on a cluster is thousands of replications; a worker machine
rebooted or a Ctrl-C should not cost the ones already done. ``RunStore``
keeps each finished replication's ``RunResult`` as one JSON file in
``DIR/runs/``, named by a *run key*: a digest of everything that decides the
result (the configuration as validated, the bytes of every file it names,
the seed, the egate and numpy versions (the random streams are numpy's)
and the source of the model itself, so that a changed model under the same
version number never reuses a run)
followed by the replication's index. A rerun asks the store first and
computes only the keys it lacks; a changed configuration, file or seed gets
other keys, so a stale result is never reused.

The files are plain JSON written whole or not at all (a temporary file
renamed into place), readable without egate and without pickle. Floats are
written with Python's shortest round-trip repr and NaN and the infinities as
the strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"``, so ``load`` gives
back a ``RunResult`` equal to the one stored, bit for bit: the dataclasses
are rebuilt field by field from their type hints.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import types
import typing
from collections.abc import Iterator
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

import egate
from egate import __version__ as egate_version
from egate.outputs import atomic_write
from simulation.config import HallConfig
from simulation.statistics import RunResult

__all__ = ["RUN_FORMAT", "RunStore", "decode_run", "encode_run", "run_key"]

# Bumped when the stored form changes, so that old files are recomputed rather than misread.
RUN_FORMAT = "egate-run/1"

_NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _numpy_version() -> str:
    try:
        return version("numpy")
    except PackageNotFoundError:  # numpy run from a source tree
        return np.__version__


@functools.cache
def model_digest() -> str:
    """A digest of the code that decides a replication: the model and the gate controller."""
    digest = hashlib.sha256()
    core = Path(egate.__file__ or "").parent
    sources = [
        *sorted(Path(__file__).parent.glob("*.py")),
        *sorted((core / "gate").glob("*.py")),
        core / "chiptime.py",
    ]
    for source in sources:
        digest.update(source.name.encode() + b"\0" + source.read_bytes())
    return digest.hexdigest()[:16]


def _named_files(data: object) -> Iterator[Path]:
    """Absolute paths of existing files named anywhere in a configuration's plain data."""
    if isinstance(data, dict):
        for value in data.values():
            yield from _named_files(value)
    elif isinstance(data, list):
        for value in data:
            yield from _named_files(value)
    elif isinstance(data, str) and data.startswith("/"):
        path = Path(data)
        if path.is_file():
            yield path


def config_digest(config: HallConfig, seed: int) -> str:
    """A digest of what decides the replications of ``config`` under ``seed`` (hex, 16 digits)."""
    dumped = config.model_dump(mode="json", by_alias=True)
    digest = hashlib.sha256()
    header = {
        "format": RUN_FORMAT,
        "egate": egate_version,
        "model": model_digest(),
        "numpy": _numpy_version(),
        "seed": seed,
    }
    digest.update(json.dumps(header, sort_keys=True).encode())
    digest.update(json.dumps(dumped, sort_keys=True).encode())
    # A file the configuration reads may change under the same name.
    for path in sorted(set(_named_files(dumped))):
        digest.update(str(path).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def run_key(config: HallConfig, seed: int, index: int) -> str:
    """The key of replication ``index`` of ``config`` under ``seed``: ``<digest>-r<index>``."""
    return f"{config_digest(config, seed)}-r{index}"


# --- RunResult as JSON -------------------------------------------------------------------------


def _encode(value: object) -> object:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {item.name: _encode(getattr(value, item.name)) for item in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(key): _encode(item) for key, item in value.items()}
    if isinstance(value, tuple | list):
        return [_encode(item) for item in value]
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return float(value)  # a numpy float64 as the Python float it is
    raise TypeError(f"cannot store a {type(value).__name__} in a run file")


def _decode(data: object, hint: Any) -> Any:  # noqa: ANN401  (the type is the hint's)
    """``data`` rebuilt as the type ``hint`` names (the inverse of ``_encode``)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if data is None and type(None) in options:
            return None
        for option in options:
            if option is type(None):
                continue
            try:
                return _decode(data, option)
            except (TypeError, ValueError, KeyError):
                continue
        raise TypeError(f"{data!r} is none of {hint}")
    if origin is tuple:
        args = typing.get_args(hint)
        if not isinstance(data, list):
            raise TypeError(f"expected a list for {hint}, got {data!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_decode(item, args[0]) for item in data)
        return tuple(_decode(item, arg) for item, arg in zip(data, args, strict=True))
    if origin is list:
        (arg,) = typing.get_args(hint)
        if not isinstance(data, list):
            raise TypeError(f"expected a list for {hint}, got {data!r}")
        return [_decode(item, arg) for item in data]
    if origin is dict:
        key_type, value_type = typing.get_args(hint)
        if not isinstance(data, dict):
            raise TypeError(f"expected an object for {hint}, got {data!r}")
        return {key_type(key): _decode(item, value_type) for key, item in data.items()}
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        if not isinstance(data, dict):
            raise TypeError(f"expected an object for {hint.__name__}, got {data!r}")
        hints = typing.get_type_hints(hint)
        names = {item.name for item in dataclasses.fields(hint)}
        if set(data) != names:
            raise ValueError(f"{hint.__name__}: fields {sorted(names ^ set(data))} differ")
        return hint(**{name: _decode(data[name], hints[name]) for name in data})
    if hint is float:
        if isinstance(data, str) and data in _NON_FINITE:
            return _NON_FINITE[data]
        # An int stays an int: the run held it so, and its JSON shows it so.
        if isinstance(data, int | float) and not isinstance(data, bool):
            return data
        raise TypeError(f"expected a number, got {data!r}")
    if hint in (int, str, bool):
        if type(data) is not hint:
            raise TypeError(f"expected {hint.__name__}, got {data!r}")
        return data
    if hint is Any or hint is object:
        return data
    raise TypeError(f"cannot read a {hint} from a run file")


def encode_run(run: RunResult) -> bytes:
    """A run's stored form: JSON, every float exact."""
    document = {"format": RUN_FORMAT, "run": _encode(run)}
    return (json.dumps(document, allow_nan=False, separators=(",", ":")) + "\n").encode()


def decode_run(data: bytes) -> RunResult:
    """The ``RunResult`` stored as ``data``; ``ValueError`` when it is not one of this format."""
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"not JSON: {error}") from None
    if not isinstance(document, dict) or document.get("format") != RUN_FORMAT:
        raise ValueError(f"not an {RUN_FORMAT} file")
    try:
        run = _decode(document["run"], RunResult)
    except (KeyError, TypeError) as error:
        raise ValueError(f"not a run of this egate: {error}") from None
    assert isinstance(run, RunResult)
    return run


class RunStore:
    """Finished replications in ``folder/runs/``, one ``<run key>.json`` each."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder / "runs"

    def path(self, key: str) -> Path:
        """Where the run with ``key`` is kept."""
        return self.folder / f"{key}.json"

    def load(self, key: str) -> RunResult | None:
        """The stored run, or None when it is missing or unreadable (then it is run again)."""
        try:
            data = self.path(key).read_bytes()
        except FileNotFoundError:
            return None
        try:
            return decode_run(data)
        except ValueError:
            return None

    def save(self, key: str, run: RunResult) -> None:
        """Keep ``run`` under ``key``, whole or not at all; ``OSError`` if it cannot be."""
        atomic_write(self.path(key), encode_run(run))
