"""Labelled pairs from a CSV file or a folder of identities."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest

from egate.biometrics.pairs import Pair, PairsError, load_pairs, pairs_from_csv, pairs_from_folder


def touch(*paths: Path) -> None:
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")  # pairs are not decoded here: any file will do


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    touch(tmp_path / "photos" / "a.jpg", tmp_path / "photos" / "b.jpg", tmp_path / "c.png")
    return tmp_path


def write_csv(folder: Path, text: str, name: str = "pairs.csv") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


# --- CSV -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "genuine"),
    [
        ("yes", True), ("YES", True), ("Yes", True), ("true", True), ("True", True),
        ("TRUE", True), ("1", True), ("no", False), ("NO", False), ("false", False),
        ("False", False), ("0", False), (" yes ", True),
    ],
)  # fmt: skip
def test_same_column_accepts_yes_no_true_false_one_zero(photos, label, genuine):
    path = write_csv(photos, f"file_x,file_y,same\nphotos/a.jpg,photos/b.jpg,{label}\n")
    assert pairs_from_csv(path) == [
        Pair(photos / "photos" / "a.jpg", photos / "photos" / "b.jpg", genuine)
    ]


def test_paths_are_relative_to_the_csv_file(photos):
    # The CSV sits in photos/; c.png is one folder up.
    path = write_csv(photos / "photos", "file_x,file_y,same\na.jpg,../c.png,no\nb.jpg,a.jpg,yes\n")
    pairs = pairs_from_csv(path)
    assert pairs == [
        Pair(photos / "photos" / "a.jpg", photos / "photos" / ".." / "c.png", False),
        Pair(photos / "photos" / "b.jpg", photos / "photos" / "a.jpg", True),
    ]
    assert all(pair.first.is_file() and pair.second.is_file() for pair in pairs)


def test_columns_in_any_order_with_spaces_bom_and_extra_columns(photos):
    text = "\ufeffsame , note, file_y, file_x\nyes,first,photos/b.jpg,photos/a.jpg\n\n"
    path = write_csv(photos, text)
    assert pairs_from_csv(path) == [
        Pair(photos / "photos" / "a.jpg", photos / "photos" / "b.jpg", True)
    ]


def test_load_pairs_reads_a_file(photos):
    path = write_csv(photos, "file_x,file_y,same\nphotos/a.jpg,c.png,0\n")
    assert load_pairs(path) == [Pair(photos / "photos" / "a.jpg", photos / "c.png", False)]


@pytest.mark.parametrize(
    ("text", "where", "field", "words"),
    [
        ("file_x,file_y,same\nphotos/a.jpg,c.png,maybe\n", 2, "same", "expected yes/no"),
        ("file_x,file_y,same\nphotos/a.jpg,c.png,yes\nphotos/a.jpg,c.png,\n", 3, "same",
         "expected yes/no"),
        ("file_x,file_y,same\nphotos/a.jpg,nobody.jpg,yes\n", 2, "file_y", "no such file"),
        ("file_x,file_y,same\n,c.png,yes\n", 2, "file_x", "empty"),
        ("file_x,file_y,same\nphotos/a.jpg\n", 2, "same", "expected yes/no"),
        ("file_x,file_y,same\nphotos,c.png,yes\n", 2, "file_x", "not a regular file"),  # a folder
    ],
)  # fmt: skip
def test_row_errors_name_file_line_and_field(photos, text, where, field, words):
    path = write_csv(photos, text)
    with pytest.raises(PairsError) as error:
        pairs_from_csv(path)
    message = str(error.value)
    assert message.startswith(f"{path}:{where}: {field}: ")
    assert words in message
    assert "\n" not in message


def test_fifo_listed_as_a_photo(photos):
    os.mkfifo(photos / "pipe.jpg")
    path = write_csv(photos, "file_x,file_y,same\nphotos/a.jpg,pipe.jpg,yes\n")
    with pytest.raises(PairsError) as error:
        pairs_from_csv(path)
    assert str(error.value) == f"{path}:2: file_y: not a regular file: {photos / 'pipe.jpg'}"


def test_missing_column(photos):
    path = write_csv(photos, "file_x,file_z,same\nphotos/a.jpg,c.png,yes\n")
    with pytest.raises(PairsError, match=r"pairs\.csv:1: header lacks column file_y$"):
        pairs_from_csv(path)


@pytest.mark.parametrize(
    ("text", "words"),
    [("", "header lacks column file_x, file_y, same"), ("file_x,file_y,same\n", "no pairs")],
)
def test_empty_files(photos, text, words):
    path = write_csv(photos, text)
    with pytest.raises(PairsError) as error:
        pairs_from_csv(path)
    assert str(error.value).startswith(f"{path}:")
    assert words in str(error.value)


def test_missing_csv(tmp_path):
    path = tmp_path / "nothing.csv"
    with pytest.raises(PairsError, match=r"nothing\.csv: cannot read: No such file"):
        load_pairs(path)


def test_csv_that_is_not_utf8(photos):
    path = photos / "latin1.csv"
    path.write_bytes("file_x,file_y,same\nphotos/a.jpg,c.png,\xe9\n".encode("latin-1"))
    with pytest.raises(PairsError, match=r"latin1\.csv: byte \d+: not UTF-8 text"):
        pairs_from_csv(path)


# --- folder of identities ------------------------------------------------------


def test_folder_gives_every_genuine_and_impostor_pair(tmp_path):
    sizes = {"ana": 3, "ben": 1, "cho": 4, "dev": 2}
    for person, count in sizes.items():
        touch(*(tmp_path / person / f"{person}{index}.jpg" for index in range(count)))
    touch(tmp_path / "ana" / "notes.txt", tmp_path / "loose.jpg")  # ignored: not in an identity
    (tmp_path / "empty").mkdir()
    pairs = pairs_from_folder(tmp_path)
    genuine = [pair for pair in pairs if pair.genuine]
    impostor = [pair for pair in pairs if not pair.genuine]
    assert len(genuine) == sum(n * (n - 1) // 2 for n in sizes.values())  # 3 + 0 + 6 + 1
    assert len(impostor) == sum(a * b for a, b in itertools.combinations(sizes.values(), 2))
    for pair in genuine:
        assert pair.first.parent == pair.second.parent
    for pair in impostor:
        assert pair.first.parent != pair.second.parent
    unordered = {frozenset((pair.first, pair.second)) for pair in pairs}
    assert len(unordered) == len(pairs)  # no pair twice, no photo with itself
    assert all(path.suffix == ".jpg" for pair in pairs for path in (pair.first, pair.second))
    assert load_pairs(tmp_path) == pairs


def test_folder_follows_symlinked_photos(tmp_path):
    touch(tmp_path / "store" / "x.jpg")
    (tmp_path / "ids" / "one").mkdir(parents=True)
    (tmp_path / "ids" / "two").mkdir()
    (tmp_path / "ids" / "one" / "x.jpg").symlink_to(tmp_path / "store" / "x.jpg")
    (tmp_path / "ids" / "two" / "y.JPG").symlink_to(tmp_path / "store" / "x.jpg")
    assert pairs_from_folder(tmp_path / "ids") == [
        Pair(tmp_path / "ids" / "one" / "x.jpg", tmp_path / "ids" / "two" / "y.JPG", False)
    ]


def test_folder_without_identities(tmp_path):
    touch(tmp_path / "a.jpg", tmp_path / "b.jpg")
    with pytest.raises(PairsError, match="no identity sub-folders with photos"):
        pairs_from_folder(tmp_path)
