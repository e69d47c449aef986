"""The specimen MRZs of ICAO Doc 9303, one per format, all valid.

They belong to Anna Maria Eriksson of Utopia (``UTO``), a person who does not
exist, and serve as the embedded sample documents of ``egate demo`` and of the
tests.
"""

from __future__ import annotations

from egate.documents.layout import MrzFormat

SPECIMENS: dict[MrzFormat, tuple[str, ...]] = {
    MrzFormat.TD1: (
        "I<UTOD231458907<<<<<<<<<<<<<<<",
        "7408122F1204159UTO<<<<<<<<<<<6",
        "ERIKSSON<<ANNA<MARIA<<<<<<<<<<",
    ),
    MrzFormat.TD2: (
        "I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<",
        "D231458907UTO7408122F1204159<<<<<<<6",
    ),
    MrzFormat.TD3: (
        "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
        "L898902C<3UTO6908061F9406236ZE184226B<<<<<14",
    ),
    MrzFormat.MRVA: (
        "V<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
        "L8988901C4XXX4009078F96121096ZE184226B<<<<<<",
    ),
    MrzFormat.MRVB: (
        "V<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<",
        "L8988901C4XXX4009078F9612109<<<<<<<<",
    ),
}
