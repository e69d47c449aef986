"""The on-gate application: what runs a gate, built from the core and the device drivers.

- ``service``: the gate service, one gate controller driving one gate's devices;
  ``devicewatch`` (the devices polled, their health and events), ``transaction``
  (the traveller's data and the background work on it) and ``owntime`` (the
  service's own time) are its parts;
- ``gatedevices``, ``mockgate``: a gate's devices opened from its file, or emulated;
- ``doororders``: the controller's door orders on the board and its word back;
- ``console``, ``orders``: the officers' console and the orders it hands over;
- ``people/``: simulated travellers walking through emulated devices;
- ``training/``: replays of training scenarios through mock gates.

It imports the core (``egate``) and the drivers (``hardware``); neither imports it.
"""
