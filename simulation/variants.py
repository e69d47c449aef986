"""Variants of one hall: the same day with one thing changed, to compare side by side.

A hall file may end with ``variants:``, a mapping of names to overrides of
the file's own settings::

    variants:
      bac:
        gates: {steps: {chip: {chips: [{share: 1, protocol: bac}]}}}
      pace:
        gates: {steps: {chip: {chips: [{share: 1, protocol: pace}]}}}

Each variant is the file with its override merged in (``merged``): a mapping
merges key by key, anything else (a number, a list, a distribution: a
mapping with a ``kind``) replaces what the file says. Every variant runs with
the file's seed and replications, so replication ``r`` of each sees the same
travellers arrive and the same random draws: the variants differ by their
settings, not by their luck, and their difference is estimated replication
by replication (``simulation.compare``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["FIXED", "depth_within", "merged"]

# What a variant may not change: the comparison needs the same runs.
FIXED = ("variants", "replications", "seed")


def merged(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``override`` merged in (see the module docstring)."""
    result = dict(base)
    for key, value in override.items():
        inner = result.get(key)
        if isinstance(value, Mapping) and "kind" not in value and isinstance(inner, Mapping):
            result[key] = merged(inner, value)
        else:
            result[key] = value
    return result


def depth_within(override: object, location: Sequence[int | str]) -> int:
    """How many steps of ``location`` lead into what ``override`` sets."""
    depth = 0
    node = override
    for step in location:
        inside_list = isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node)
        if not (inside_list or (isinstance(node, Mapping) and step in node)):
            break
        node = node[step]  # type: ignore[index]
        depth += 1
    return depth
