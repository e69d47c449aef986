"""Labelled comparison pairs for accuracy evaluation, from a CSV file or a folder.

* A CSV file with the columns ``file_x,file_y,same``: ``same`` is one of
  yes/no, true/false, 1/0 (any case); paths are relative to the CSV file.
* A folder with one sub-folder per identity: every two photos in the same
  sub-folder make a genuine pair, every two photos in different sub-folders
  an impostor pair.
"""

from __future__ import annotations

import csv
import itertools
from dataclasses import dataclass
from pathlib import Path

from egate.biometrics.image import IMAGE_SUFFIXES

_YES = frozenset({"yes", "true", "1", "y"})
_NO = frozenset({"no", "false", "0", "n"})
REQUIRED_COLUMNS = ("file_x", "file_y", "same")


class PairsError(ValueError):
    """A pairs file or folder that cannot be used; the message names file, line and field."""


@dataclass(frozen=True, slots=True)
class Pair:
    """Two photos and whether they show the same person."""

    first: Path
    second: Path
    genuine: bool


def _images(folder: Path) -> list[Path]:
    return sorted(
        path
        for path in folder.iterdir()
        if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES
    )


def pairs_from_folder(folder: Path) -> list[Pair]:
    """All genuine and impostor pairs of a folder of identity sub-folders."""
    identities = {sub.name: _images(sub) for sub in sorted(folder.iterdir()) if sub.is_dir()}
    identities = {name: photos for name, photos in identities.items() if photos}
    if not identities:
        raise PairsError(f"{folder}: no identity sub-folders with photos in them")
    pairs = [
        Pair(first, second, True)
        for photos in identities.values()
        for first, second in itertools.combinations(photos, 2)
    ]
    for (_, photos_a), (_, photos_b) in itertools.combinations(identities.items(), 2):
        pairs.extend(Pair(a, b, False) for a in photos_a for b in photos_b)
    return pairs


def pairs_from_csv(path: Path) -> list[Pair]:
    """The pairs listed in a CSV file; paths relative to the file."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as stream:
            reader = csv.DictReader(stream)
            columns = [name.strip() for name in reader.fieldnames or ()]
            missing = [name for name in REQUIRED_COLUMNS if name not in columns]
            if missing:
                raise PairsError(f"{path}:1: header lacks column {', '.join(missing)}")
            pairs = []
            for row in reader:
                where = f"{path}:{reader.line_num}"
                row = {key.strip(): (value or "").strip() for key, value in row.items() if key}
                label = row["same"].lower()
                if label not in _YES | _NO:
                    raise PairsError(f"{where}: same: expected yes/no, true/false or 1/0")
                files = []
                for column in ("file_x", "file_y"):
                    if not row[column]:
                        raise PairsError(f"{where}: {column}: empty")
                    target = path.parent / row[column]
                    if not target.is_file():
                        what = "not a regular file" if target.exists() else "no such file"
                        raise PairsError(f"{where}: {column}: {what}: {target}")
                    files.append(target)
                pairs.append(Pair(files[0], files[1], label in _YES))
    except OSError as error:
        raise PairsError(f"{path}: cannot read: {error.strerror or error}") from None
    except UnicodeDecodeError as error:
        raise PairsError(f"{path}: byte {error.start}: not UTF-8 text") from None
    except csv.Error as error:
        raise PairsError(f"{path}: not CSV: {error}") from None
    if not pairs:
        raise PairsError(f"{path}: no pairs listed")
    return pairs


def load_pairs(source: Path) -> list[Pair]:
    """Pairs from a CSV file or an identities folder."""
    if source.is_dir():
        return pairs_from_folder(source)
    return pairs_from_csv(source)
