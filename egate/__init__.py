"""egate: controller and simulator for automated border control (ABC) e-gates.

The ``egate`` package is the domain core. It reads and checks travel documents
(ICAO 9303 machine readable zones), compares the live face with the document
photo, and decides through a gate controller that owns no clock and does no
device I/O: it turns events into commands. The same controller therefore runs
on gate hardware (``egate run``), in training replays against device emulators
(``egate replay``) and inside the SimPy capacity model (``egate simulate``).
The core imports neither ``hardware`` nor ``simulation``; they import it.
"""

__version__ = "0.1.0"
