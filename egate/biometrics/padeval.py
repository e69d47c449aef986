"""Presentation-attack detection figures in the terms of ISO/IEC 30107-3.

An evaluation folder holds bona fide clips (live people) and attack clips
(presentation attack instruments, PAIs) grouped by *species*, the kind of
instrument (a print, a photo on a screen, a video on a screen, ...)::

    DIR/bona_fide/<clip>             a folder of frames or a video file
    DIR/attack/<species>/<clip>      likewise, one folder per species

Each clip is one presentation.  From the detector's decisions this computes

* **APCER** per species: the share of that species' attack presentations
  classified as bona fide; the PAD subsystem's APCER is the highest of them
  (30107-3 reports the worst species, not an average over them);
* **BPCER**: the share of bona fide presentations classified as attacks;
* **APCER at BPCER 1 %**: with the decision threshold moved to the lowest
  value whose BPCER on these bona fide clips does not exceed 1 %, each
  species' APCER there.

A clip in which the detector found too few frames with a face gets no score
from it: it is a *non-response*, counted per class (the attack and bona fide
presentation non-response rates) and left out of APCER and BPCER.  A gate
with the default ``too_few_frames: attack`` refuses such a presentation.

A rate is only as fine as its sample: each comes with its counts and a 95 %
Wilson score interval, and notes say when a figure rests on too few clips (a
BPCER of 1 % needs at least 100 bona fide presentations to be measured at
all; with fewer, the threshold for it can only accept them all).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from egate.biometrics.pad import PadDecision
from egate.biometrics.padclips import VIDEO_SUFFIXES, frame_files

BONA_FIDE = "bona_fide"
ATTACK = "attack"
# Files a generator may leave beside the clips.
MANIFEST = "manifest.json"
DEFAULT_TARGET_BPCER = 0.01
# 97.5 % quantile of the normal distribution: two-sided 95 % intervals.
_Z95 = 1.959963984540054


class PadDataError(ValueError):
    """An evaluation folder is not laid out as expected; the message is one line."""


@dataclass(frozen=True, slots=True)
class Presentation:
    """One clip of an evaluation folder: bona fide, or an attack of a species."""

    path: Path
    species: str | None  # None: bona fide

    @property
    def label(self) -> str:
        """``bona_fide`` or the attack species."""
        return BONA_FIDE if self.species is None else self.species


@dataclass(frozen=True, slots=True)
class Scored:
    """The detector's outcome for one presentation (score None: a non-response)."""

    presentation: Presentation
    score: float | None
    decision: PadDecision


def _clips_in(folder: Path) -> list[Path]:
    clips = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            if not frame_files(entry):
                raise PadDataError(f"{entry}: no frames (.png, .jpg, ...) in this clip folder")
            clips.append(entry)
        elif entry.suffix.lower() in VIDEO_SUFFIXES:
            clips.append(entry)
        else:
            raise PadDataError(f"{entry}: not a clip (a folder of frames or a video file)")
    return clips


def find_presentations(root: Path) -> list[Presentation]:
    """Every clip under ``root`` (see the layout above), bona fide first."""
    if not root.is_dir():
        raise PadDataError(f"{root}: not a folder")
    bona_fide, attack = root / BONA_FIDE, root / ATTACK
    if not bona_fide.is_dir() and not attack.is_dir():
        raise PadDataError(
            f"{root}: holds neither {BONA_FIDE}/ nor {ATTACK}/<species>/ (see pad-eval --help)"
        )
    found = (
        [Presentation(path, None) for path in _clips_in(bona_fide)] if bona_fide.is_dir() else []
    )
    if attack.is_dir():
        for entry in sorted(attack.iterdir()):
            if entry.name.startswith("."):
                continue
            if not entry.is_dir():
                raise PadDataError(f"{entry}: not a species folder ({ATTACK}/<species>/<clip>)")
            found.extend(Presentation(path, entry.name) for path in _clips_in(entry))
    if not found:
        raise PadDataError(f"{root}: no clips in it")
    return found


def wilson_interval(errors: int, total: int) -> tuple[float, float] | None:
    """The 95 % Wilson score interval of ``errors / total`` (None without samples)."""
    if total <= 0:
        return None
    share = errors / total
    z2 = _Z95 * _Z95
    centre = (share + z2 / (2 * total)) / (1 + z2 / total)
    spread = _Z95 * math.sqrt(share * (1 - share) / total + z2 / (4 * total * total))
    spread /= 1 + z2 / total
    return max(0.0, centre - spread), min(1.0, centre + spread)


def _rate(errors: int, total: int) -> dict[str, object]:
    interval = wilson_interval(errors, total)
    return {
        "errors": errors,
        "presentations": total,
        "rate": None if total == 0 else round(errors / total, 6),
        "ci95": None if interval is None else [round(interval[0], 6), round(interval[1], 6)],
    }


def threshold_for_bpcer(bona_fide_scores: Sequence[float], target: float) -> float | None:
    """The lowest threshold (attack when score >= it) whose BPCER does not exceed ``target``.

    None without bona fide scores.  With fewer than ``1 / target`` of them no
    error is allowed: the threshold is just above the highest bona fide score.
    """
    if not bona_fide_scores:
        return None
    ordered = sorted(bona_fide_scores)
    count = len(ordered)
    # The tolerance keeps 0.01 * 300 at 3 allowed errors despite rounding.
    allowed = min(count, math.floor(target * count + 1e-9))
    if allowed >= count:
        return ordered[0]
    return math.nextafter(ordered[count - allowed - 1], math.inf)


def summarise_pad(
    scored: Sequence[Scored], threshold: float, target_bpcer: float = DEFAULT_TARGET_BPCER
) -> dict[str, object]:
    """The evaluation as plain data: per-class counts, rates with intervals, notes."""
    bona = [item for item in scored if item.presentation.species is None]
    species = sorted({item.presentation.label for item in scored if item.presentation.species})
    bona_scores = [item.score for item in bona if item.score is not None]
    bona_errors = sum(1 for item in bona if item.score is not None and item.score >= threshold)
    notes: list[str] = []
    at_target = threshold_for_bpcer(bona_scores, target_bpcer)
    needed = math.ceil(1 / target_bpcer)
    attacks: dict[str, object] = {}
    worst: float | None = None
    worst_at_target: float | None = None
    for name in species:
        items = [item for item in scored if item.presentation.label == name]
        responded = [item.score for item in items if item.score is not None]
        accepted = sum(1 for score in responded if score < threshold)
        entry: dict[str, object] = {
            "clips": len(items),
            "non_responses": len(items) - len(responded),
            "apcer": _rate(accepted, len(responded)),
        }
        if responded:
            worst = max(worst or 0.0, accepted / len(responded))
        if at_target is not None:
            accepted_there = sum(1 for score in responded if score < at_target)
            entry["apcer_at_target_bpcer"] = _rate(accepted_there, len(responded))
            if responded:
                worst_at_target = max(worst_at_target or 0.0, accepted_there / len(responded))
        attacks[name] = entry
        if responded and accepted == 0:
            notes.append(
                f"{name}: none of {len(responded)} scored clips accepted: APCER below "
                f"{3 / len(responded):.1%} with 95 % confidence (rule of three), not 0"
            )
    if not bona_scores:
        notes.append("no scored bona fide clip: BPCER and the APCER at a BPCER cannot be measured")
    elif len(bona_scores) < needed:
        notes.append(
            f"BPCER {target_bpcer:.0%} needs at least {needed} bona fide clips to be measured; "
            f"this rests on {len(bona_scores)}, so its threshold accepts them all "
            f"(BPCER 0, below {3 / len(bona_scores):.1%} with 95 % confidence)"
        )
    non_responding = sum(1 for item in scored if item.score is None)
    if non_responding:
        notes.append(
            f"{non_responding} clips had too few frames with a face to be scored "
            "(non-responses, left out of APCER and BPCER)"
        )
    return {
        "threshold": threshold,
        "bona_fide": {
            "clips": len(bona),
            "non_responses": len(bona) - len(bona_scores),
            "bpcer": _rate(bona_errors, len(bona_scores)),
        },
        "attacks": attacks,
        "apcer_max": None if worst is None else round(worst, 6),
        "target_bpcer": {
            "target": target_bpcer,
            "threshold": at_target,
            "bona_fide_needed": needed,
            "measurable": len(bona_scores) >= needed,
            "bpcer": None
            if at_target is None
            else _rate(sum(1 for s in bona_scores if s >= at_target), len(bona_scores)),
            "apcer_max": None if worst_at_target is None else round(worst_at_target, 6),
        },
        "notes": notes,
    }


def scores_csv(scored: Sequence[Scored], root: Path) -> bytes:
    """One line per clip: its path under the folder, class, score and decision."""
    lines = ["clip,class,score,decision"]
    for item in scored:
        path = item.presentation.path
        name = path.relative_to(root) if path.is_relative_to(root) else path
        text = str(name).replace('"', '""')
        score = "" if item.score is None else f"{item.score:.6f}"
        lines.append(f'"{text}",{item.presentation.label},{score},{item.decision.value}')
    return ("\n".join(lines) + "\n").encode()
