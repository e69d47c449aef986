"""Traveller classes: who uses the e-gates, who goes to the desks, and how long they take there.

Each traveller belongs to a *class* with a *channel*: ``gate`` (eligible for
the e-gates) or ``desk`` (straight to the officers). A class may also say

* ``desk_service``: its own service time at a desk, instead of the desks'
  ``service``. The EU Entry/Exit System (EES, live since October 2025) is
  the case in point: a third-country national crossing for the first time
  enrols face and four fingerprints at the desk, 1 to 2 minutes more than a
  returning one, whose record is only checked;
* ``kiosk``: a step at a self-service kiosk before the traveller joins the
  queue (EES pre-enrolment: the traveller enters data and biometrics at a
  kiosk, and the officer's check is then shorter). Kiosks are taken to be
  enough that no queue forms at them; the time delays when the traveller
  joins the queue, and the hall's clock for that traveller starts after it.

A class named in several mixes (the default and some flights') is the same
class: its channel, ``desk_service`` and ``kiosk`` are given once or given
alike (``class_table``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import AfterValidator, ConfigDict, Field

from simulation.distribution_specs import DistributionSpec
from simulation.fields import StrictKeys, fail

__all__ = [
    "ClassInfo",
    "ClassList",
    "ClassName",
    "ConfigModel",
    "Probability",
    "TravellerClass",
    "class_table",
    "desk_services",
    "share_classes",
]

Probability = Annotated[float, Field(ge=0, le=1)]
ClassName = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,31}$")]


class ConfigModel(StrictKeys):
    """What every section of a hall file shares: frozen, no unknown keys, finite numbers."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, allow_inf_nan=False, populate_by_name=True
    )


class TravellerClass(ConfigModel):
    """A kind of traveller: its share of a flight, its channel, and what it takes at a desk."""

    name: ClassName
    share: Probability
    channel: Literal["gate", "desk"]
    desk_service: DistributionSpec | None = Field(
        default=None, description="Its own desk service time (default: desks.service)."
    )
    kiosk: DistributionSpec | None = Field(
        default=None, description="A self-service kiosk step before joining the queue."
    )


def _checked_classes(classes: tuple[TravellerClass, ...]) -> tuple[TravellerClass, ...]:
    names = [item.name for item in classes]
    for index, name in enumerate(names):
        if name in names[:index]:
            fail((index, "name"), f"class {name!r} is listed twice", name)
    total = math.fsum(item.share for item in classes)
    if abs(total - 1) > 1e-6:
        fail((), f"the class shares must add up to 1 (they add up to {total:.6g})", total)
    return classes


# Classes of travellers: names once each, shares adding up to 1.
ClassList = Annotated[
    tuple[TravellerClass, ...], Field(min_length=1), AfterValidator(_checked_classes)
]


def share_classes(egate_share: float) -> tuple[TravellerClass, ...]:
    """The two default classes: ``egate`` travellers use the gates, ``desk`` the desks."""
    return (
        TravellerClass(name="egate", share=egate_share, channel="gate"),
        TravellerClass(name="desk", share=1 - egate_share, channel="desk"),
    )


@dataclass(frozen=True, slots=True)
class ClassInfo:
    """One class of the whole hall: its channel and its own times, however many mixes name it."""

    name: str
    channel: str
    desk_service: DistributionSpec | None = None
    kiosk: DistributionSpec | None = None


def class_table(mixes: Iterable[Sequence[TravellerClass]]) -> tuple[ClassInfo, ...]:
    """Every class of ``mixes``, in order of first mention; raises ValueError on a contradiction."""
    table: dict[str, ClassInfo] = {}
    for mix in mixes:
        for item in mix:
            known = table.get(item.name)
            if known is None:
                table[item.name] = ClassInfo(item.name, item.channel, item.desk_service, item.kiosk)
                continue
            if known.channel != item.channel:
                raise ValueError(f"class {item.name!r} uses both the gates and the desks")
            merged = known
            for name in ("desk_service", "kiosk"):
                mine, theirs = getattr(item, name), getattr(known, name)
                if mine is not None and theirs is not None and mine != theirs:
                    raise ValueError(f"class {item.name!r} is given two different {name}s")
                if theirs is None and mine is not None:
                    merged = ClassInfo(
                        merged.name,
                        merged.channel,
                        mine if name == "desk_service" else merged.desk_service,
                        mine if name == "kiosk" else merged.kiosk,
                    )
            table[item.name] = merged
    return tuple(table.values())


def desk_services(table: Sequence[ClassInfo]) -> tuple[DistributionSpec | None, ...]:
    """Each class's own desk service, by class index (``Arrivals.classes``); None: the desks'."""
    return tuple(info.desk_service for info in table)
