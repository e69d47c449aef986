"""Virtual eMRTD chips: cards that answer the inspection system's APDUs.

With an ISO/IEC 14443 air-time model, and served to a real pcscd through vpcd.
"""
