"""The inspection system's side of an eMRTD chip (ICAO Doc 9303 part 11).

APDUs and transports, access control (BAC, PACE), secure messaging, reading
the LDS files, and the chip checks (active and chip authentication).
"""
