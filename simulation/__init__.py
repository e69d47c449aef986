"""Capacity planning for e-gate installations: ``egate simulate``.

A SimPy model of an arrivals hall (``hall``): travellers arrive with their
flights or at a rate (``arrivals``), queue for pools of e-gates and officer
desks (``servers``), and pass gates run by the real gate controller, with
what happens to each drawn up front from configured rates (``fates``) and
every duration from a distribution (``distributions``, named in YAML as
``distribution_specs``, measured ones read by ``measured``); the chip read
step is drawn from the chips travellers carry (``chipread``, named in YAML
as ``chip_specs``) with the core's air-time arithmetic (``egate.chiptime``).
A hall model is YAML (``config``, with ``rates`` for a biometric rate
table). Independent replications run in parallel (``replications``),
settings are swept (``sweep``) and a file's variants compared
(``variants``, ``compare``); a run's raw records (``records``) become its figures
(``statistics``), the replications' means and confidence intervals
(``summary``, ``queueing``), and tables, JSON and CSV (``report``) and
plots (``plots``). This package imports the ``egate`` core and nothing of
``hardware``; the core never imports it.
"""
