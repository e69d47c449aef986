"""Typical seats of common airliners, for a schedule that names the aircraft but not its seats.

The figures are typical two- or three-class layouts, rounded: airlines fit
the same type with anywhere from 10% fewer to 15% more seats. A schedule
that knows its flights' seats should give them (the ``seats`` column or
key), and one that knows its passengers, ``passengers``. Types are named by
their ICAO designator (``B77W``) or IATA code (``77W``), in any case.
"""

from __future__ import annotations

__all__ = ["SEATS", "seats_of"]

# (ICAO designator, IATA code, typical seats, what it is)
_TYPES = (
    ("A319", "319", 140, "Airbus A319"),
    ("A320", "320", 170, "Airbus A320"),
    ("A20N", "32N", 180, "Airbus A320neo"),
    ("A321", "321", 200, "Airbus A321"),
    ("A21N", "32Q", 200, "Airbus A321neo"),
    ("A332", "332", 250, "Airbus A330-200"),
    ("A333", "333", 290, "Airbus A330-300"),
    ("A339", "339", 290, "Airbus A330-900"),
    ("A359", "359", 320, "Airbus A350-900"),
    ("A35K", "351", 350, "Airbus A350-1000"),
    ("A388", "388", 500, "Airbus A380-800"),
    ("B737", "73G", 140, "Boeing 737-700"),
    ("B738", "738", 170, "Boeing 737-800"),
    ("B38M", "7M8", 170, "Boeing 737 MAX 8"),
    ("B739", "739", 180, "Boeing 737-900"),
    ("B744", "744", 400, "Boeing 747-400"),
    ("B748", "74H", 365, "Boeing 747-8"),
    ("B763", "763", 220, "Boeing 767-300"),
    ("B772", "772", 300, "Boeing 777-200"),
    ("B77L", "77L", 310, "Boeing 777-200LR"),
    ("B77W", "77W", 360, "Boeing 777-300ER"),
    ("B788", "788", 240, "Boeing 787-8"),
    ("B789", "789", 290, "Boeing 787-9"),
    ("B78X", "781", 320, "Boeing 787-10"),
    ("C919", "919", 160, "COMAC C919"),
    ("E190", "E90", 100, "Embraer 190"),
    ("E195", "E95", 120, "Embraer 195"),
    ("AT76", "ATR", 70, "ATR 72-600"),
    ("CRJ9", "CR9", 80, "Bombardier CRJ900"),
)

# Typical seats by ICAO designator and by IATA code.
SEATS: dict[str, int] = {
    **{icao: seats for icao, _, seats, _ in _TYPES},
    **{iata: seats for _, iata, seats, _ in _TYPES},
}


def seats_of(aircraft: str) -> int | None:
    """Typical seats of an aircraft type code (``B77W``, ``77w``), None when unknown."""
    return SEATS.get(aircraft.strip().upper())


def type_table() -> list[tuple[str, str, int, str]]:
    """(ICAO, IATA, seats, name) of every known type, for the documentation."""
    return list(_TYPES)
