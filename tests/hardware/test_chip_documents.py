"""Commissioning without a chip reader: test documents in a folder become mock chips.

``chip: {kind: mock, documents: DIR}``: each NAME.mrz with NAME.jpg (or
.jpeg, .jp2) is a chip that the reader presents when that document's MRZ
was read; a file that cannot be used is a one-line configuration error.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
import threading
from datetime import date
from pathlib import Path

import pytest
from PIL import Image

from egate.config import ConfigError, load_config
from egate.documents.checkdigit import check_digit
from egate.documents.layout import MrzFormat
from egate.documents.specimens import SPECIMENS
from egate.gate.events import ChipStatus
from hardware.chip import ChipRead, ChipReader
from hardware.chipdocuments import (
    MAX_PHOTO_BYTES,
    ChipDocumentError,
    DocumentFolderChipReader,
    load_chip_documents,
)
from hardware.devices import ChipDevice, HardwareGateConfig, open_chip_documents
from hardware.probe import probe

TD1, TD3 = SPECIMENS[MrzFormat.TD1], SPECIMENS[MrzFormat.TD3]
# The ICAO specimen passport's access key (Doc 9303 part 11, appendix D).
SPECIMEN_KEY = "L898902C<369080619406236"
TD1_KEY = "D23145890774081221204159"
JP2_SIGNATURE = b"\x00\x00\x00\x0cjP  \r\n\x87\n"
PATIENCE_S = 20.0


def jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (24, 32), (180, 140, 120)).save(buffer, "JPEG")
    return buffer.getvalue()


def document(folder: Path, name: str, mrz: tuple[str, ...] | str, photo: bytes | None = None,
             suffix: str = ".jpg") -> None:  # fmt: skip
    folder.mkdir(exist_ok=True)
    text = mrz if isinstance(mrz, str) else "\n".join(mrz) + "\n"
    (folder / f"{name}.mrz").write_text(text)
    if photo is not None:
        (folder / f"{name}{suffix}").write_bytes(photo)


@pytest.fixture
def specimen(tmp_path: Path) -> Path:
    """A folder with the ICAO specimen passport and a photo."""
    folder = tmp_path / "documents"
    document(folder, "specimen", TD3, jpeg())
    return folder


def altered_expiry(lines: tuple[str, ...]) -> tuple[str, ...]:
    """The specimen passport with its data page's expiry date changed (a forgery)."""
    expiry = "300623" + check_digit("300623")
    return (lines[0], lines[1][:21] + expiry + lines[1][28:])


class TestTheReader:
    def test_the_specimen_is_presented_for_its_own_key_only(self, specimen):
        [loaded] = load_chip_documents(specimen)
        assert loaded.name == "specimen" and loaded.access_key == SPECIMEN_KEY
        reader = DocumentFolderChipReader([loaded])
        assert isinstance(reader, ChipReader)
        read = reader.read(SPECIMEN_KEY)
        photo = (specimen / "specimen.jpg").read_bytes()
        assert (read.status, read.dg1_mrz, read.dg2_image) == (ChipStatus.OK, TD3, photo)
        # A virtual chip read through the chip stack, its signer the reader's test CSCA.
        assert read.inspection is not None and read.inspection.failures(TD3) == []
        # Another passport laid on the reader: no chip of it here.
        assert reader.read(TD1_KEY).status is ChipStatus.ABSENT
        # The specimen's number with other dates: its chip refuses the key.
        assert reader.read("L898902C<369080613006230").status is ChipStatus.ACCESS_DENIED
        assert reader.read("") == ChipRead(ChipStatus.ABSENT)
        assert reader.read("É" * 30) == ChipRead(ChipStatus.ABSENT)

    def test_several_documents_and_photo_kinds(self, specimen):
        document(specimen, "card", TD1, JP2_SIGNATURE + b"codestream", suffix=".jp2")
        document(specimen, "forged", "\r\n".join(altered_expiry(TD3)) + "\r\n\r\n", jpeg(), ".JPEG")
        (specimen / "README.txt").write_text("test passports for lane 7\n")
        (specimen / ".hidden.mrz").write_text("ignored")
        loaded = load_chip_documents(specimen)
        assert [d.name for d in loaded] == ["card", "forged", "specimen"]
        reader = DocumentFolderChipReader(loaded)
        assert len(reader) == 3
        card = reader.read(TD1_KEY)
        assert card.status is ChipStatus.OK and card.dg1_mrz == TD1
        assert card.dg2_image is not None and card.dg2_image.startswith(JP2_SIGNATURE)
        # The forged page and the genuine one share a number: each opens with its own key.
        assert reader.read(SPECIMEN_KEY).dg1_mrz == TD3
        forged_key = "L898902C<36908061" + altered_expiry(TD3)[1][21:28]
        assert reader.read(forged_key).dg1_mrz == altered_expiry(TD3)

    def test_reprs_show_no_personal_data(self, specimen):
        loaded = load_chip_documents(specimen)
        shown = repr(loaded) + repr(DocumentFolderChipReader(loaded))
        assert "L898902C" not in shown and "ERIKSSON" not in shown
        assert "1 test documents" in shown


def bad(folder: Path) -> str:
    with pytest.raises(ChipDocumentError) as raised:
        load_chip_documents(folder)
    message = str(raised.value)
    assert "\n" not in message
    return message


class TestBadFiles:
    def test_an_unparsable_mrz(self, specimen):
        document(specimen, "junk", "HELLO WORLD\n", jpeg())
        message = bad(specimen)
        assert message.startswith(f"{specimen / 'junk.mrz'}: not an MRZ: ")

    def test_characters_an_mrz_cannot_hold(self, specimen):
        document(specimen, "lower", (TD3[0], TD3[1].lower()), jpeg())
        assert bad(specimen) == (
            f"{specimen / 'lower.mrz'}: not an MRZ: line 2 has 'l' (expected A-Z, 0-9 and <)"
        )

    def test_lines_of_the_wrong_length(self, specimen):
        document(specimen, "short", (TD3[0], TD3[1][:-2]), jpeg())
        assert bad(specimen) == (
            f"{specimen / 'short.mrz'}: not an MRZ: line lengths do not fit TD3 "
            "(lines of 44, 42 characters)"
        )

    def test_not_ascii(self, specimen):
        (specimen / "utf16.mrz").write_bytes("\n".join(TD3).encode("utf-16"))
        (specimen / "utf16.jpg").write_bytes(jpeg())
        assert bad(specimen) == f"{specimen / 'utf16.mrz'}: not an MRZ: not ASCII text"

    def test_a_missing_photo(self, specimen):
        document(specimen, "nophoto", TD1)
        assert bad(specimen) == (
            f"{specimen / 'nophoto.mrz'}: no photo (nophoto.jpg, nophoto.jpeg or nophoto.jp2)"
        )

    def test_a_photo_without_its_mrz(self, specimen):
        (specimen / "specimn.jpg").write_bytes(jpeg())
        assert bad(specimen) == f"{specimen / 'specimn.jpg'}: a photo without specimn.mrz"

    def test_two_photos_for_one_document(self, specimen):
        (specimen / "specimen.jp2").write_bytes(JP2_SIGNATURE)
        assert "a second file for document specimen" in bad(specimen)

    def test_a_photo_that_is_no_jpeg(self, specimen):
        buffer = io.BytesIO()
        Image.new("RGB", (4, 4)).save(buffer, "PNG")
        (specimen / "specimen.jpg").write_bytes(buffer.getvalue())
        assert bad(specimen) == f"{specimen / 'specimen.jpg'}: not a JPEG or JPEG 2000 file"

    def test_an_empty_or_oversize_photo(self, specimen):
        photo = specimen / "specimen.jpg"
        photo.write_bytes(b"")
        assert bad(specimen) == f"{photo}: empty"
        with photo.open("wb") as file:
            file.truncate(MAX_PHOTO_BYTES + 1)
        assert bad(specimen) == f"{photo}: {MAX_PHOTO_BYTES + 1} bytes, at most {MAX_PHOTO_BYTES}"

    def test_a_fifo_is_refused_without_being_opened(self, specimen):
        os.mkfifo(specimen / "pipe.mrz")
        (specimen / "pipe.jpg").write_bytes(jpeg())
        outcome: list[str] = []
        # A hang guard only: opening a FIFO for reading would block forever.
        worker = threading.Thread(target=lambda: outcome.append(bad(specimen)), daemon=True)
        worker.start()
        worker.join(PATIENCE_S)
        assert outcome == [f"{specimen / 'pipe.mrz'}: not a regular file"]

    def test_a_folder_named_as_a_photo(self, specimen):
        (specimen / "specimen.jpg").unlink()
        (specimen / "specimen.jpg").mkdir()
        assert bad(specimen) == f"{specimen / 'specimen.jpg'}: not a regular file"

    def test_the_same_document_twice(self, specimen):
        document(specimen, "again", TD3, jpeg())
        assert bad(specimen) == (
            f"{specimen / 'specimen.mrz'}: the same document number and dates as again.mrz"
        )

    def test_an_empty_folder_and_no_folder(self, tmp_path):
        assert bad(tmp_path) == (
            f"{tmp_path}: no test documents (NAME.mrz with NAME.jpg or NAME.jp2)"
        )
        assert bad(tmp_path / "missing") == f"{tmp_path / 'missing'}: not a folder"


# --- the gate file and the devices -------------------------------------------------


def gate_file(folder: Path, documents: str) -> Path:
    path = folder / "gate.yaml"
    path.write_text(
        textwrap.dedent(
            f"""\
            gate_id: lab-1
            devices:
              chip:
                kind: mock
                documents: {documents}
            """
        )
    )
    return path


def test_documents_are_relative_to_the_gate_file(specimen, tmp_path, monkeypatch):
    gate = load_config(gate_file(tmp_path, "documents"), HardwareGateConfig)
    chip = gate.devices.chip
    assert chip is not None and chip.documents == specimen
    monkeypatch.chdir("/")
    reader = open_chip_documents(chip)
    assert reader is not None and reader.read(SPECIMEN_KEY).status is ChipStatus.OK


def test_a_bad_document_is_a_one_line_config_error(specimen, tmp_path):
    document(specimen, "junk", "HELLO\n", jpeg())
    with pytest.raises(ConfigError) as raised:
        load_config(gate_file(tmp_path, "documents"), HardwareGateConfig)
    message = str(raised.value)
    assert message.startswith(
        f"{tmp_path / 'gate.yaml'}:5: devices.chip.documents: {specimen / 'junk.mrz'}: not an MRZ"
    ), message
    assert "\n" not in message


def test_a_document_spoilt_after_loading_stops_the_device_opener(specimen):
    device = ChipDevice(documents=specimen)
    (specimen / "specimen.jpg").unlink()
    with pytest.raises(ConfigError, match=r"^devices\.chip\.documents: .*specimen\.mrz: no photo"):
        open_chip_documents(device)
    assert open_chip_documents(ChipDevice()) is None


def test_the_probe_counts_the_documents(specimen):
    settings = HardwareGateConfig.model_validate(
        {"gate_id": "lab-1", "devices": {"chip": {"documents": str(specimen)}}}
    ).devices
    [result] = probe(settings, date.today)
    assert (result.device, result.healthy, result.detail) == (
        "chip",
        True,
        f"mock chip reader, 1 test documents in {specimen}",
    )
    (specimen / "specimen.jpg").unlink()
    [result] = probe(settings, date.today)
    assert not result.healthy and result.detail.startswith("devices.chip.documents: ")


def test_egate_exits_2_with_one_line_for_a_bad_document(specimen, tmp_path):
    (specimen / "specimen.jpg").write_bytes(b"GIF89a")
    gate = gate_file(tmp_path, "documents")
    ran = subprocess.run(
        [sys.executable, "-m", "egate", "devices", "probe", "--config", str(gate)],
        capture_output=True,
        text=True,
        timeout=PATIENCE_S,
        check=False,
    )
    assert ran.returncode == 2
    assert ran.stderr == (
        f"egate: error: {gate}:5: devices.chip.documents: {specimen / 'specimen.jpg'}: "
        "not a JPEG or JPEG 2000 file (got 'documents')\n"
    )
