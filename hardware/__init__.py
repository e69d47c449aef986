"""Device interfaces for the e-gate and their implementations.

One small interface per device kind (passport reader, camera, entry and exit
doors, occupancy sensor, display), real drivers that speak the devices'
protocols over pyserial and OpenCV, and emulators that speak the same bytes on
pseudo-terminals for mock mode and replays. This package imports the ``egate``
core; the core never imports it.
"""
