"""A reader of udev rules files (udev(7)), enough to check the rules egate ships.

Each rule is one logical line (a trailing backslash continues it) of
comma-separated ``KEY{attribute}<op>"value"`` pairs; ``==`` and ``!=``
match, ``=``, ``+=``, ``-=`` and ``:=`` assign.  A key may only be used
the ways udev allows, and a rule must match something and do something.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

MATCH_OPERATORS = frozenset({"==", "!="})
ASSIGN_OPERATORS = frozenset({"=", "+=", "-=", ":="})
# The keys udev matches on, and those it assigns (some do both).
MATCH_KEYS = frozenset(
    {"ACTION", "DEVPATH", "KERNEL", "KERNELS", "NAME", "SYMLINK", "SUBSYSTEM", "SUBSYSTEMS",
     "DRIVER", "DRIVERS", "ATTR", "ATTRS", "SYSCTL", "ENV", "CONST", "TAG", "TAGS", "TEST",
     "PROGRAM", "RESULT"}
)  # fmt: skip
ASSIGN_KEYS = frozenset(
    {"NAME", "SYMLINK", "OWNER", "GROUP", "MODE", "SECLABEL", "ATTR", "SYSCTL", "ENV", "TAG",
     "RUN", "LABEL", "GOTO", "IMPORT", "OPTIONS"}
)  # fmt: skip
# Keys that take {attribute}, and those that must.
ATTRIBUTE_KEYS = frozenset(
    {"ATTR", "ATTRS", "SYSCTL", "ENV", "CONST", "TEST", "SECLABEL", "RUN", "IMPORT"}
)
NEEDS_ATTRIBUTE = frozenset({"ATTR", "ATTRS", "SYSCTL", "ENV", "CONST", "SECLABEL"})

_PAIR = re.compile(
    r'\s*(?P<key>[A-Z_]+)(?:\{(?P<attribute>[^{}"]+)\})?\s*'
    r'(?P<op>==|!=|\+=|-=|:=|=)\s*"(?P<value>(?:[^"\\]|\\.)*)"\s*'
)


class UdevRuleError(ValueError):
    """A line that is no valid udev rule; the message names the line."""


@dataclass(frozen=True, slots=True)
class Pair:
    """One ``KEY{attribute}<operator>"value"`` of a rule."""

    key: str
    attribute: str | None
    operator: str
    value: str


def parse_rules(text: str) -> list[list[Pair]]:
    """The rules in ``text``, each a list of pairs; ``UdevRuleError`` for a bad line."""
    rules: list[list[Pair]] = []
    for number, line in _logical_lines(text):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        rules.append(_rule(number, stripped))
    return rules


def load_udev_rules(path: Path) -> list[list[Pair]]:
    """The rules of a file, which must hold at least one."""
    rules = parse_rules(path.read_text(encoding="utf-8"))
    if not rules:
        raise UdevRuleError(f"{path}: no rules")
    return rules


def _logical_lines(text: str) -> list[tuple[int, str]]:
    lines: list[tuple[int, str]] = []
    pending, start = "", 0
    for number, line in enumerate(text.splitlines(), start=1):
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1]
            continue
        lines.append((start, pending + line))
        pending = ""
    if pending:
        raise UdevRuleError(f"line {start}: a continuation with nothing after it")
    return lines


def _rule(number: int, line: str) -> list[Pair]:
    pairs: list[Pair] = []
    position = 0
    while position < len(line):
        matched = _PAIR.match(line, position)
        if matched is None:
            raise UdevRuleError(f'line {number}: not KEY<op>"value" at column {position + 1}')
        pair = Pair(matched["key"], matched["attribute"], matched["op"], matched["value"])
        _check(number, pair)
        pairs.append(pair)
        position = matched.end()
        if position < len(line):
            if line[position] != ",":
                raise UdevRuleError(f"line {number}: expected ',' at column {position + 1}")
            position += 1
    if not any(pair.operator in MATCH_OPERATORS for pair in pairs):
        raise UdevRuleError(f"line {number}: a rule that matches nothing")
    if not any(pair.operator in ASSIGN_OPERATORS for pair in pairs):
        raise UdevRuleError(f"line {number}: a rule that does nothing")
    return pairs


def _check(number: int, pair: Pair) -> None:
    where = f"line {number}: {pair.key}"
    if pair.key not in MATCH_KEYS | ASSIGN_KEYS:
        raise UdevRuleError(f"{where}: unknown key")
    if pair.operator in MATCH_OPERATORS and pair.key not in MATCH_KEYS:
        raise UdevRuleError(f"{where}: cannot be matched ({pair.operator})")
    if pair.operator in ASSIGN_OPERATORS and pair.key not in ASSIGN_KEYS:
        raise UdevRuleError(f"{where}: cannot be assigned ({pair.operator})")
    if pair.attribute is not None and pair.key not in ATTRIBUTE_KEYS:
        raise UdevRuleError(f"{where}: takes no {{attribute}}")
    if pair.attribute is None and pair.key in NEEDS_ATTRIBUTE:
        raise UdevRuleError(f"{where}: needs an {{attribute}}")
    if pair.key == "MODE" and not re.fullmatch(r"0?[0-7]{3}", pair.value):
        raise UdevRuleError(f"{where}: not an octal mode: {pair.value!r}")
