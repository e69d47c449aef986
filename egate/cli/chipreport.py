"""What ``egate chip read`` prints: the read as one JSON document, and the same for a person."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from hardware.emrtd.inspection import ChipInspection


def report(
    source: str,
    inspection: ChipInspection,
    problems: list[str],
) -> dict[str, Any]:
    """The JSON document of one chip read."""
    passive = inspection.passive_authentication
    face = inspection.face
    active = inspection.active_authentication
    chip_auth = inspection.chip_authentication
    return {
        "source": source,
        "status": inspection.status.name,
        "reason": inspection.reason or None,
        "access": inspection.access,
        "files": {name: len(raw) for name, raw in inspection.files.items()},
        "dg1_mrz": None if inspection.dg1 is None else list(inspection.dg1.lines),
        "face": None
        if face is None
        else {
            "image_type": face.image_type.name,
            "width": face.width,
            "height": face.height,
            "bytes": len(face.image),
        },
        "passive_authentication": None if passive is None else passive.to_dict(),
        "active_authentication": None
        if active is None
        else {
            "status": active.status.value,
            "algorithm": active.algorithm,
            "hash": active.hash_algorithm,
            "reason": active.reason or None,
        },
        "chip_authentication": None
        if chip_auth is None
        else {
            "status": getattr(getattr(chip_auth, "status", None), "value", None),
            "reason": getattr(chip_auth, "reason", None) or None,
        },
        "timings": [
            {"step": t.step, "seconds": round(t.seconds, 6), "apdus": t.apdus}
            for t in inspection.timings
        ],
        "seconds": round(inspection.seconds, 6),
        "apdus": inspection.apdus,
        "checks_passed": not problems,
        "failures": problems,
    }


def render(document: dict[str, Any], console: Console) -> None:
    """The chip read for a person: what was read, each verdict, and the timings."""
    console.print(f"chip: {document['source']}")
    console.print(f"status: {document['status']}" + _reason(document["reason"]))
    if document["access"]:
        console.print(f"access control: {document['access']}")
    if document["files"]:
        console.print(
            "files: " + ", ".join(f"{name} ({size} B)" for name, size in document["files"].items())
        )
    if document["dg1_mrz"]:
        console.print("DG1 MRZ:")
        for line in document["dg1_mrz"]:
            console.print(f"  {line}", markup=False)
    passive = document["passive_authentication"]
    if passive is not None:
        console.print(f"passive authentication: {passive['status']}")
        for check in passive["checks"]:
            console.print(f"  {check['check']}: {check['status']}  {check['detail']}", markup=False)
    for key, label in (("active_authentication", "active"), ("chip_authentication", "chip")):
        verdict = document[key]
        console.print(
            f"{label} authentication: "
            + (
                ("not offered" if document["status"] == "OK" else "not run")
                if verdict is None
                else verdict["status"] + _reason(verdict["reason"])
            )
        )
    table = Table("step", "seconds", "APDUs", title="timings")
    for timing in document["timings"]:
        table.add_row(timing["step"], f"{timing['seconds']:.3f}", str(timing["apdus"]))
    table.add_row("total", f"{document['seconds']:.3f}", str(document["apdus"]))
    console.print(table)
    if document["failures"]:
        for problem in document["failures"]:
            console.print(f"FAILED {problem}", markup=False)
    else:
        console.print("every check passed")


def _reason(reason: str | None) -> str:
    return f" ({reason})" if reason else ""
