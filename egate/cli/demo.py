"""``egate demo``: the main job on embedded defaults, for a first look at egate."""

from __future__ import annotations

from datetime import datetime

import click
from rich.console import Console
from rich.table import Table

from egate.cli.errors import EXIT_FAILURE, EXIT_OK
from egate.documents.layout import MrzFormat
from egate.documents.mrz import parse_mrz
from egate.documents.policy import DocumentPolicy, DocumentPolicySettings
from egate.documents.specimens import SPECIMENS
from egate.privacy import Pseudonymizer

# The TD3 specimen as a worn reader might send it: 0 for O in the issuing
# state, O for 0 in the birth date, 1 for I in the given names.
_MISREAD_TD3 = (
    "P<UT0ERIKSSON<<ANNA<MAR1A<<<<<<<<<<<<<<<<<<<",
    "L898902C<3UTO69O8061F9406236ZE184226B<<<<<14",
)


@click.command()
def demo() -> int:
    """Check the ICAO 9303 specimen documents at a gate with the default policy.

    Parses the specimen MRZ of every format and a misread passport that OCR
    repair restores, then shows what a gate's document policy decides today.
    Exit status 0 when every specimen reads as valid.
    """
    console = Console(highlight=False)
    now = datetime.now()
    policy = DocumentPolicy(DocumentPolicySettings(), Pseudonymizer.ephemeral())
    table = Table(title=f"ICAO 9303 specimens at a gate on {now.date().isoformat()}")
    for column in ("document", "format", "MRZ", "repaired", "policy", "reasons"):
        table.add_column(column, overflow="fold")
    samples = [(f"specimen {fmt.value}", lines) for fmt, lines in SPECIMENS.items()]
    samples.append(("misread TD3", _MISREAD_TD3))
    all_valid = True
    repairs: list[str] = []
    for label, lines in samples:
        result = parse_mrz(lines, now.date())
        decision = policy.evaluate(result, now)
        all_valid &= result.valid
        repairs.extend(f"{label}: {repair.describe()}" for repair in result.repairs)
        table.add_row(
            label,
            result.format.value,
            "[green]valid[/]" if result.valid else f"[red]invalid[/] {', '.join(result.failures)}",
            str(len(result.repairs)),
            decision.verdict.value,
            "\n".join(decision.reasons) or "-",
        )
    console.print(table)
    for line in repairs:
        console.print(f"[yellow]repaired[/] {line}")
    console.print(
        "An MRZ can be sound and its document still refused: the specimens expired long ago "
        "(EXPIRED), and the default policy admits passports only "
        f"({', '.join(policy.settings.eligible_document_types)}) "
        f"from age {policy.settings.min_age_years}."
    )
    console.print(
        f"Formats: {', '.join(fmt.value for fmt in MrzFormat)}. Try: egate mrz parse --help"
    )
    return EXIT_OK if all_valid else EXIT_FAILURE
