"""The chip read step as a planner writes it: from the chips travellers carry, or measured.

``gates.steps.chip`` takes any distribution of ``simulation.distribution_specs``
and two kinds of its own::

    chip:                          # from the chips: protocol, photo, air rate
      kind: chip_air_time
      photo_bytes: {kind: lognormal, mean: 20000, sd: 7000}
      chips:
        - {share: 0.6, protocol: pace, air_kbps: {212: 0.5, 424: 0.5},
           chip_authentication: true, active_authentication: ecdsa}
        - {share: 0.4, protocol: bac, air_kbps: 106}

    chip: {kind: chip_reads, file: reads.json}     # measured by `egate chip read --json`

``chip_air_time`` builds a ``simulation.chipread.ChipReadTime``; each entry
of ``chips`` is a kind of chip, with an ``air_kbps`` of one bit rate or a mix
of them; ``chip_reads`` reads measured read times
(``simulation.measured.load_chip_reads``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from egate.chiptime import (
    BIT_RATES,
    FRAME_SIZES,
    HEADER_BYTES,
    SM_SHORT_CHUNK,
    ChipAirTime,
    ChipProfile,
)
from simulation.chipread import ChipKind, ChipReadTime
from simulation.distribution_specs import (
    KINDS,
    CalibrationSpec,
    DeterministicSpec,
    DistributionSpec,
    EmpiricalSpec,
    ExponentialSpec,
    GammaSpec,
    LognormalSpec,
    TriangularSpec,
    UniformSpec,
    _FileSpec,
    _kind_of,
    _Spec,
)
from simulation.distributions import Empirical
from simulation.measured import load_chip_reads

__all__ = ["CHIP_KINDS", "ChipAirTimeSpec", "ChipKindSpec", "ChipReadsSpec", "ChipStepSpec"]

_DEFAULT = ChipAirTime()
Seconds = Annotated[float, Field(ge=0, le=10)]


class ChipKindSpec(BaseModel):
    """One kind of chip: its share of the travellers' chips, what it holds, how fast it is."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    share: float = Field(ge=0, le=1, description="Share of the chips of this kind.")
    protocol: Literal["bac", "pace"] = Field(description="Access control: BAC or PACE.")
    air_kbps: int | dict[int, float] = Field(
        default=106,
        description="ISO/IEC 14443 bit rate, or a mix of them {rate: share, ...}.",
    )
    active_authentication: Literal["none", "rsa1024", "rsa2048", "ecdsa"] = "rsa1024"
    chip_authentication: bool = False
    photo_bytes: DistributionSpec | None = Field(
        default=None, description="DG2's size in bytes for this kind (default: the step's)."
    )
    latency_s: Seconds = _DEFAULT.latency_s
    auth_latency_s: Seconds = _DEFAULT.auth_latency_s
    public_key_latency_s: Seconds = _DEFAULT.public_key_latency_s
    turnaround_s: Seconds = _DEFAULT.turnaround_s
    frame_size: int = _DEFAULT.frame_size

    @field_validator("air_kbps")
    @classmethod
    def _iso_rates(cls, value: int | dict[int, float]) -> int | dict[int, float]:
        rates = value if isinstance(value, dict) else {value: 1.0}
        for rate in rates:
            if rate not in BIT_RATES:
                raise ValueError(
                    f"{rate} kbit/s is not one of ISO/IEC 14443's {', '.join(map(str, BIT_RATES))}"
                )
        if not rates:
            raise ValueError("an empty mix of bit rates: list at least one")
        if any(not 0 <= share <= 1 for share in rates.values()):
            raise ValueError("each bit rate's share is from 0 to 1")
        total = sum(rates.values())
        if abs(total - 1) > 1e-6:
            raise ValueError(f"the bit rates' shares must add up to 1 (they add up to {total:.6g})")
        return value

    @field_validator("frame_size")
    @classmethod
    def _iso_frame(cls, value: int) -> int:
        if value not in FRAME_SIZES:
            raise ValueError(f"not one of ISO/IEC 14443-4's {', '.join(map(str, FRAME_SIZES))}")
        return value

    def rates(self) -> dict[int, float]:
        """The bit rates and their shares among chips of this kind."""
        if isinstance(self.air_kbps, dict):
            return {int(rate): share for rate, share in self.air_kbps.items()}
        return {int(self.air_kbps): 1.0}

    def kinds(self, chunk: int, base_dir: Path) -> list[ChipKind]:
        """One ``ChipKind`` per bit rate of this kind, with its share of all chips."""
        profile = ChipProfile(
            self.protocol,
            HEADER_BYTES,  # each draw sets the photo's size
            active_authentication=self.active_authentication,
            chip_authentication=self.chip_authentication,
            chunk=chunk,
        )
        photo = None if self.photo_bytes is None else self.photo_bytes.build(base_dir)
        return [
            ChipKind(
                self.share * share,
                profile,
                ChipAirTime(
                    bit_rate_kbps=rate,
                    frame_size=self.frame_size,
                    turnaround_s=self.turnaround_s,
                    latency_s=self.latency_s,
                    auth_latency_s=self.auth_latency_s,
                    public_key_latency_s=self.public_key_latency_s,
                ),
                photo,
            )
            for rate, share in self.rates().items()
            if share > 0
        ]


class ChipAirTimeSpec(_Spec):
    """``{kind: chip_air_time, chips: [...], photo_bytes: ...}``: the read from the chips."""

    kind: Literal["chip_air_time"] = "chip_air_time"
    chips: tuple[ChipKindSpec, ...] = Field(min_length=1)
    photo_bytes: DistributionSpec = Field(description="DG2's size in bytes.")
    read_chunk: int = Field(
        default=SM_SHORT_CHUNK,
        ge=16,
        le=65532,
        description="The most bytes one READ BINARY asks for (the gate file's read_chunk).",
    )

    @model_validator(mode="after")
    def _shares_add_up(self) -> ChipAirTimeSpec:
        total = sum(chip.share for chip in self.chips)
        if abs(total - 1) > 1e-6:
            raise ValueError(f"the chips' shares must add up to 1 (they add up to {total:.6g})")
        return self

    def build(self, base_dir: Path) -> ChipReadTime:
        """The read times of this population of chips."""
        kinds = [kind for chip in self.chips for kind in chip.kinds(self.read_chunk, base_dir)]
        return ChipReadTime(kinds, self.photo_bytes.build(base_dir))


class ChipReadsSpec(_FileSpec):
    """``{kind: chip_reads, file: reads.json}``: read times measured by ``egate chip read``."""

    kind: Literal["chip_reads"] = "chip_reads"

    def _load(self, path: Path) -> Empirical:
        return load_chip_reads(path)


CHIP_KINDS: tuple[str, ...] = (*KINDS, "chip_air_time", "chip_reads")

# Any distribution, or one of the two kinds above (see ``DistributionSpec``).
ChipStepSpec = Annotated[
    Annotated[ExponentialSpec, Tag("exponential")]
    | Annotated[DeterministicSpec, Tag("deterministic")]
    | Annotated[UniformSpec, Tag("uniform")]
    | Annotated[TriangularSpec, Tag("triangular")]
    | Annotated[LognormalSpec, Tag("lognormal")]
    | Annotated[GammaSpec, Tag("gamma")]
    | Annotated[EmpiricalSpec, Tag("empirical")]
    | Annotated[CalibrationSpec, Tag("calibration")]
    | Annotated[ChipAirTimeSpec, Tag("chip_air_time")]
    | Annotated[ChipReadsSpec, Tag("chip_reads")],
    Discriminator(
        _kind_of,
        custom_error_type="distribution_kind",
        custom_error_message=f"expected a distribution with kind one of: {', '.join(CHIP_KINDS)}",
    ),
]
