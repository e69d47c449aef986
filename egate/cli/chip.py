"""``egate chip``: read a passport chip as a gate does, issue virtual chips, serve them to pcscd."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import click
from rich.console import Console

from egate.cli.chipreport import render, report
from egate.cli.errors import EXIT_FAILURE, EXIT_OK, InputError
from egate.documents.mrz import MrzFormatError, MrzResult, parse_mrz
from egate.documents.pki.errors import PkiError
from egate.documents.pki.testpki import load_test_pki
from egate.documents.pki.truststore import TrustStore
from egate.gate.events import ChipStatus
from hardware.chip import mrz_information
from hardware.emrtd.apdu import Transport
from hardware.emrtd.errors import ChipError
from hardware.emrtd.filereader import SM_SHORT_CHUNK
from hardware.emrtd.inspection import AccessKey, ChipInspection, inspect_chip
from hardware.emulators.emrtd.personalisation import AA_KEY_TYPES


@click.group()
def chip() -> None:
    """eMRTD chips: read one as a gate does, issue virtual chips, serve them to pcscd."""


def parse_printed_mrz(lines: Sequence[str]) -> MrzResult:
    """The printed MRZ given with --mrz (InputError naming the option when it is not one)."""
    try:
        return parse_mrz(list(lines), datetime.now(UTC).date(), repair=False)
    except MrzFormatError as error:
        raise InputError(f"--mrz: {error}") from None


def load_trust(path: Path | None) -> TrustStore | None:
    """The trust store named by --trust (InputError with the file when it cannot be loaded)."""
    if path is None:
        return None
    try:
        return TrustStore.load(path)
    except PkiError as error:
        raise InputError(f"--trust: {error}") from None


@dataclass(frozen=True, slots=True)
class ChipSource:
    """The chip to read: where it is, its transport (None: no card on the reader), settings."""

    name: str
    transport: Transport | None
    absent: str = ""
    trust: Path | None = None
    chunk: int = SM_SHORT_CHUNK


def open_source(
    virtual: Path | None, reader: str | None, config: Path | None, printed: MrzResult
) -> ChipSource:
    """The chip to read, from exactly one of --virtual, --reader, --config."""
    given = [value for value in (virtual, reader, config) if value is not None]
    if len(given) != 1:
        raise InputError("give exactly one of --virtual CHIPDIR, --reader NAME, --config GATE")
    if virtual is not None:
        return ChipSource(f"virtual chip {virtual}", _virtual_transport(virtual, "--virtual"))
    if config is not None:
        return _configured_source(config, printed)
    assert reader is not None
    return _pcsc_source(int(reader) if reader.isdigit() else reader, f"--reader {reader}")


def _virtual_transport(folder: Path, where: str) -> Transport:
    from hardware.emrtd.transport import VirtualTransport
    from hardware.emulators.emrtd.folder import ChipFolderError, open_virtual_chip

    try:
        return VirtualTransport(open_virtual_chip(folder))
    except ChipFolderError as error:
        raise InputError(f"{where}: {error}") from None


def _pcsc_source(
    reader: str | int | None, where: str, trust: Path | None = None, chunk: int = SM_SHORT_CHUNK
) -> ChipSource:
    from hardware.emrtd.errors import CardAbsent
    from hardware.emrtd.pcsc import PcscTransport, choose_reader, list_readers

    try:
        name = choose_reader(list_readers(), reader)
        return ChipSource(f"PC/SC reader {name}", PcscTransport(name), trust=trust, chunk=chunk)
    except CardAbsent as error:
        # The reader is there; the document on it has no chip (or is not on it).
        return ChipSource(f"PC/SC reader {reader}", None, str(error), trust, chunk)
    except ChipError as error:
        raise InputError(f"{where}: {error}") from None


def _configured_source(path: Path, printed: MrzResult) -> ChipSource:
    from egate.cli.devices import load_gate
    from hardware.emulators.emrtd.chipreader import FolderChipReader
    from hardware.emulators.emrtd.folder import ChipFolderError

    device = load_gate(path).devices.chip
    if device is None or device.kind == "mock":
        raise InputError(f"{path}: devices.chip: no pcsc or virtual chip reader configured")
    if device.kind == "pcsc":
        return _pcsc_source(device.reader, f"{path}: devices.chip", device.trust, device.read_chunk)
    assert device.chips is not None
    try:
        folders = FolderChipReader(device.chips, trust=None, now=partial(datetime.now, UTC))
    except ChipFolderError as error:
        raise InputError(f"{path}: devices.chip.chips: {error}") from None
    folder = folders.folder_for(mrz_information(printed))
    if folder is None:
        return ChipSource(f"virtual chips {device.chips}", None, "no chip for this document")
    transport = _virtual_transport(folder, f"{path}: devices.chip.chips")
    return ChipSource(f"virtual chip {folder}", transport, "", device.trust, device.read_chunk)


@chip.command("read")
@click.option("--virtual", type=click.Path(path_type=Path), help="A virtual chip's folder.")
@click.option("--reader", help="A PC/SC reader: its name (or a part of it) or its index.")
@click.option(
    "--config", type=click.Path(path_type=Path), help="A gate file whose chip reader to use."
)
@click.option(
    "--mrz", "mrz_lines", multiple=True, required=True, help="A printed MRZ line (repeat for each)."
)
@click.option("--can", help="The card access number, for PACE with the CAN.")
@click.option(
    "--trust",
    type=click.Path(path_type=Path),
    help="CSCA trust store: a folder of certificates and CRLs, or an ICAO master list.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def read(
    virtual: Path | None,
    reader: str | None,
    config: Path | None,
    mrz_lines: tuple[str, ...],
    can: str | None,
    trust: Path | None,
    as_json: bool,
) -> int:
    """Read a chip as a gate does: access control, the files, passive and active authentication.

    The chip is opened with the key of the printed MRZ (--mrz, one option per
    line) or the CAN. Exit status: 0 every check passed; 1 a check failed
    (the reason is printed); 2 bad input.
    """
    printed = parse_printed_mrz(mrz_lines)
    store = load_trust(trust)
    if can is not None and not (can.isascii() and can.isdigit()):
        raise InputError("--can: a card access number is made of digits")
    source = open_source(virtual, reader, config, printed)
    if store is None and source.trust is not None:
        store = load_trust(source.trust)
    if source.transport is None:
        inspection = ChipInspection(ChipStatus.ABSENT, source.absent)
    else:
        try:
            inspection = inspect_chip(
                source.transport,
                AccessKey(mrz_information(printed), can),
                random=os.urandom,
                clock=time.monotonic,
                chunk=source.chunk,
                trust=store,
                at=datetime.now(UTC),
            )
        finally:
            close = getattr(source.transport, "close", None)
            if callable(close):
                close()
    problems = inspection.failures(printed.lines)
    document = report(source.name, inspection, problems)
    if as_json:
        click.echo(json.dumps(document, indent=2))
    else:
        render(document, Console(highlight=False, soft_wrap=True))
    return EXIT_FAILURE if problems else EXIT_OK


@chip.command("issue")
@click.option(
    "--mrz", "mrz_lines", multiple=True, required=True, help="An MRZ line (repeat for each)."
)
@click.option(
    "--photo",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The holder's photo: JPEG or JPEG 2000 kept as is, other images made JPEG.",
)
@click.option(
    "--pki",
    "pki_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="A test PKI folder (egate pki init): its document signer signs EF.SOD.",
)
@click.option(
    "--out", type=click.Path(path_type=Path), required=True, help="The chip folder to write."
)
@click.option(
    "--keep-photo",
    is_flag=True,
    help="Store the photo as given; by default one larger than a passport's is scaled down.",
)
@click.option("--aa", is_flag=True, help="Active authentication (DG15).")
@click.option(
    "--aa-key",
    type=click.Choice(AA_KEY_TYPES),
    default="ecdsa",
    show_default=True,
    help="Active authentication's key type.",
)
@click.option("--pace", is_flag=True, help="PACE (EF.CardAccess) besides BAC.")
@click.option("--ca", "chip_auth", is_flag=True, help="Chip authentication (DG14).")
@click.option("--can", help="The card access number (six digits) for PACE.")
@click.option(
    "--air-time",
    type=click.Choice(["106", "212", "424", "848", "none"]),
    default="106",
    show_default=True,
    help="ISO/IEC 14443 bit rate in kbit/s the chip answers at, or none (instant).",
)
def issue(
    mrz_lines: tuple[str, ...],
    photo: Path,
    pki_dir: Path,
    out: Path,
    keep_photo: bool,
    aa: bool,
    aa_key: str,
    pace: bool,
    chip_auth: bool,
    can: str | None,
    air_time: str,
) -> int:
    """Write a virtual chip for a document: its LDS files and chip.yaml.

    EF.SOD is signed by the test PKI's document signer over every data group.
    The folder is written whole or not at all, and an existing folder that
    is not a chip is never replaced. Exit status: 0 written; 2 bad input.
    """
    from hardware.emulators.emrtd.folder import AirTimeConfig, ChipFolderError, save_chip_folder
    from hardware.emulators.emrtd.personalisation import (
        PersonalisationError,
        personalise,
        photo_of,
    )

    printed = parse_printed_mrz(mrz_lines)
    try:
        pki_files = load_test_pki(pki_dir)
    except PkiError as error:
        raise InputError(f"--pki: {error}") from None
    try:
        image = photo_of(photo.read_bytes(), str(photo), as_printed=not keep_photo)
    except OSError as error:
        raise InputError(f"--photo: {photo}: {error.strerror or error}") from None
    except PersonalisationError as error:
        raise InputError(f"--photo: {error}") from None
    try:
        issued = personalise(
            printed.lines,
            image,
            pki_files.ds_certificate,
            pki_files.ds_key,
            signed_at=datetime.now(UTC),
            pace=pace or can is not None,
            active_authentication=aa_key if aa else None,  # type: ignore[arg-type]
            chip_authentication=chip_auth,
            can=can,
        )
        speed = (
            AirTimeConfig(instant=True)
            if air_time == "none"
            else AirTimeConfig(bit_rate_kbps=int(air_time))  # type: ignore[arg-type]
        )
        save_chip_folder(out, issued.folder(speed))
    except (PersonalisationError, ChipFolderError) as error:
        raise InputError(str(error)) from None
    click.echo(
        f"virtual chip written to {out}: "
        + ", ".join(f"{name} ({len(raw)} B)" for name, raw in issued.files.items())
    )
    return EXIT_OK


@chip.command("emulate")
@click.argument("chipdir", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--vpcd",
    "address",
    default="127.0.0.1:35963",
    show_default=True,
    help="Where vpcd (vsmartcard's driver in pcscd) listens: HOST:PORT.",
)
@click.option("--once", is_flag=True, help="Stop when vpcd closes the connection.")
def emulate(chipdir: Path, address: str, once: bool) -> int:
    """Serve the virtual chip in CHIPDIR to pcscd through vpcd, until interrupted.

    The chip then appears in the PC/SC reader "Virtual PCD 00 00" (port
    35963), where egate chip read --reader and any PC/SC tool find it.
    Exit status: 0 stopped; 1 vpcd went away; 2 bad input.
    """
    import signal
    import threading

    from hardware.emulators.emrtd.folder import ChipFolderError, open_virtual_chip
    from hardware.emulators.emrtd.vpcd import VpcdError, serve_vpcd

    host, _, port_text = address.rpartition(":")
    if not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise InputError(f"--vpcd: {address!r} is not HOST:PORT")
    try:
        card = open_virtual_chip(chipdir)
    except ChipFolderError as error:
        raise InputError(str(error)) from None
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    click.echo(f"serving {chipdir} to vpcd at {host}:{port_text}; Ctrl-C stops", err=True)
    try:
        serve_vpcd(card, host, int(port_text), stop=stop, reconnect=not once)
    except KeyboardInterrupt:
        return EXIT_OK
    except VpcdError as error:
        click.echo(f"egate: error: {error}", err=True)
        return EXIT_FAILURE
    return EXIT_OK
