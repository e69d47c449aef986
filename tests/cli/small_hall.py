"""The small hall the egate simulate tests run: two hours, three gates, five desks.

One text for the command's tests, grids and cluster runs; a test that needs
another setting replaces its line (``SMALL_HALL.replace("count: 3", ...)``).
"""

SMALL_HALL = """\
name: small hall
start: "06:00"
horizon: "08:00"
arrivals:
  rate:
    - {from: "06:00", per_hour: 600}
  classes:
    - {name: residents, share: 0.7, channel: gate}
    - {name: visitors, share: 0.3, channel: desk}
gates:
  count: 3
  steps:
    document: {kind: exponential, mean: 12}
  outcomes: {biometric_mismatch: 0.02}
desks:
  count: 5
  service: {kind: exponential, mean: 60}
replications: 3
seed: 5
"""
