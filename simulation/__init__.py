"""Capacity planning and training replays for e-gate installations.

A SimPy model of passenger arrivals, queues, gates driven by the real gate
controller, manual booths and officers; scenario replay through the device
emulators; and the statistics and reports built from both. This package
imports the ``egate`` core; the core never imports it.
"""
