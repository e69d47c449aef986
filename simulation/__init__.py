"""Capacity planning for e-gate installations: ``egate simulate``.

A SimPy model of an arrivals hall (``hall``): travellers arrive with their
flights or at a rate (``arrivals``), queue for pools of e-gates and officer
desks (``servers``), and pass gates run by the real gate controller, with
what happens to each drawn up front from configured rates (``fates``) and
every duration from a distribution (``distributions``). A hall model is
YAML (``config``, ``rates``); independent replications run in parallel
(``replications``), settings are swept (``sweep``), and the statistics with
their confidence intervals (``statistics``, ``queueing``) become tables,
JSON, CSV and plots (``report``). This package imports the ``egate`` core
and nothing of ``hardware``; the core never imports it.
"""
