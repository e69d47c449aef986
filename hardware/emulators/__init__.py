"""Emulated devices for mock mode: they speak the real devices' bytes on pseudo-terminals.

An emulator plays a device on the master side of a ``PseudoTerminal``
(``hardware.emulators.pty``); the driver under test opens the slave side as
it would open ``/dev/ttyUSB0``, so mock mode runs the very driver code that
runs on the gate. Emulators inject faults on request (garbage bytes, split
or corrupted frames, a slow device, unplug and replug) to show that the
drivers survive them.
"""
