"""The hall ``egate simulate`` runs when given no file: a Pudong-style day of arrivals.

An installed egate has no ``configs/`` folder, so the text of
``configs/airports/pudong-day.yaml`` is kept here as well; a test checks
that the two are the same, character for character.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from simulation.config import HallConfig

__all__ = ["DEFAULT_NAME", "DEFAULT_YAML", "default_hall"]

DEFAULT_NAME = "pudong-day.yaml"


def default_hall() -> HallConfig:
    """The built-in default configuration (it names no other files)."""
    return HallConfig.model_validate(yaml.safe_load(DEFAULT_YAML), context={"base_dir": Path()})


DEFAULT_YAML = """\
# A Pudong-style day of international arrivals: about 49,000 passengers on
# 200 flights from 06:00 to midnight, through one immigration hall.
#
# The schedule is illustrative, not a real timetable (flight numbers are
# made up; a flight's comment gives its aircraft and seats): wide-bodies
# (A330, A350, B777, B787, B747-8, A380; 290-500 seats) from Europe, North
# America and the Middle East in a morning bank, narrow- and wide-bodies
# from Japan, Korea and South-East Asia through the day, load factors
# 0.80-0.92. Chinese citizens use the e-channels; children and others not
# eligible, and foreign visitors, go to the officer desks. The shares depend
# on where the flight comes from (each mix is named with a YAML anchor,
# &name, at its first use and reused as *name).
#
# This is what `egate simulate` runs when given no file (a copy is built
# into egate). Try: egate simulate --sweep gates=4..16
name: Pudong-style international arrivals, a full day
start: "06:00"
drain_limit_h: 4
arrivals:
  deplane: {kind: uniform, low: 120, high: 1200}   # on-block to leaving the aircraft
  walk: {kind: triangular, low: 240, mode: 480, high: 900}   # aircraft to the hall
  # The class mix of flights that name none (the South-East Asian one).
  classes: &se_asia
    - {name: chinese, share: 0.72, channel: gate}
    - {name: chinese_desk, share: 0.06, channel: desk}
    - {name: foreign, share: 0.22, channel: desk}
  flights:
    - flight: KL806
      on_block: "06:00"
      passengers: 296  # B747-8, 365
      classes: &europe  # the European mix, used again below
        - {name: chinese, share: 0.62, channel: gate}
        - {name: chinese_desk, share: 0.05, channel: desk}
        - {name: foreign, share: 0.33, channel: desk}
    - {flight: MU745, on_block: "06:01", passengers: 291, classes: *se_asia}  # B777-300ER, 360
    - flight: DL124
      on_block: "06:08"
      passengers: 298  # B747-8, 365
      classes: &america  # the North American mix, used again below
        - {name: chinese, share: 0.66, channel: gate}
        - {name: chinese_desk, share: 0.05, channel: desk}
        - {name: foreign, share: 0.29, channel: desk}
    - {flight: HU266, on_block: "06:10", passengers: 258, classes: *america}  # A350-900, 320
    - {flight: LH202, on_block: "06:14", passengers: 329, classes: *europe}  # B777-300ER, 360
    - {flight: IB297, on_block: "06:17", passengers: 285, classes: *europe}  # A350-1000, 350
    - {flight: CA240, on_block: "06:18", passengers: 272, classes: *europe}  # A350-900, 320
    - {flight: MU645, on_block: "06:26", passengers: 255, classes: *europe}  # B787-9, 290
    - {flight: IB614, on_block: "06:33", passengers: 247, classes: *europe}  # B787-9, 290
    - {flight: AY730, on_block: "06:42", passengers: 262, classes: *europe}  # A350-900, 320
    - flight: QR484
      on_block: "06:44"
      passengers: 294  # B777-300ER, 360
      classes: &mideast  # the Middle Eastern mix, used again below
        - {name: chinese, share: 0.6, channel: gate}
        - {name: chinese_desk, share: 0.05, channel: desk}
        - {name: foreign, share: 0.35, channel: desk}
    - {flight: KL794, on_block: "06:52", passengers: 298, classes: *europe}  # A350-1000, 350
    - {flight: VS969, on_block: "07:00", passengers: 326, classes: *europe}  # B777-300ER, 360
    - {flight: LX347, on_block: "07:02", passengers: 315, classes: *europe}  # B777-300ER, 360
    - {flight: SK485, on_block: "07:19", passengers: 275, classes: *europe}  # A350-900, 320
    - {flight: UA224, on_block: "07:19", passengers: 452, classes: *america}  # A380, 500
    - {flight: SK518, on_block: "07:21", passengers: 285, classes: *europe}  # A350-900, 320
    - {flight: LH333, on_block: "07:26", passengers: 291, classes: *europe}  # A350-900, 320
    - {flight: QR494, on_block: "07:29", passengers: 252, classes: *mideast}  # B787-9, 290
    - {flight: LX333, on_block: "07:33", passengers: 273, classes: *europe}  # A350-900, 320
    - {flight: TK620, on_block: "07:35", passengers: 237, classes: *europe}  # B787-9, 290
    - flight: KE255
      on_block: "07:44"
      passengers: 170  # A321, 190
      classes: &east_asia  # the Japanese and Korean mix, used again below
        - {name: chinese, share: 0.55, channel: gate}
        - {name: chinese_desk, share: 0.04, channel: desk}
        - {name: foreign, share: 0.41, channel: desk}
    - {flight: TK227, on_block: "07:47", passengers: 439, classes: *europe}  # A380, 500
    - {flight: MH202, on_block: "07:49", passengers: 147, classes: *se_asia}  # B737-800, 170
    - {flight: MU384, on_block: "07:49", passengers: 264, classes: *america}  # A330-300, 300
    - {flight: SK670, on_block: "07:59", passengers: 324, classes: *europe}  # B777-300ER, 360
    - {flight: CA945, on_block: "08:00", passengers: 262, classes: *europe}  # B787-9, 290
    - {flight: FM589, on_block: "08:01", passengers: 265, classes: *se_asia}  # B787-9, 290
    - {flight: PR534, on_block: "08:04", passengers: 173, classes: *se_asia}  # A321, 190
    - {flight: FM903, on_block: "08:09", passengers: 247, classes: *east_asia}  # A330-300, 300
    - {flight: EK592, on_block: "08:17", passengers: 408, classes: *mideast}  # A380, 500
    - {flight: TK390, on_block: "08:24", passengers: 236, classes: *europe}  # B787-9, 290
    - {flight: CA900, on_block: "08:26", passengers: 235, classes: *europe}  # B787-9, 290
    - {flight: CA287, on_block: "08:39", passengers: 256, classes: *east_asia}  # B787-9, 290
    - {flight: MU736, on_block: "08:41", passengers: 304, classes: *europe}  # B777-300ER, 360
    - {flight: KL863, on_block: "08:45", passengers: 295, classes: *europe}  # B777-300ER, 360
    - {flight: MU589, on_block: "08:48", passengers: 300, classes: *america}  # B777-300ER, 360
    - {flight: SK347, on_block: "08:51", passengers: 249, classes: *europe}  # B787-9, 290
    - {flight: MU534, on_block: "08:58", passengers: 261, classes: *east_asia}  # A330-300, 300
    - {flight: KE736, on_block: "09:18", passengers: 266, classes: *east_asia}  # A350-900, 320
    - {flight: SK218, on_block: "09:24", passengers: 284, classes: *europe}  # A350-900, 320
    - {flight: LH618, on_block: "09:26", passengers: 300, classes: *europe}  # B777-300ER, 360
    - {flight: MU279, on_block: "09:34", passengers: 139, classes: *east_asia}  # A320, 165
    - {flight: VN795, on_block: "09:37", passengers: 139, classes: *se_asia}  # B737-800, 170
    - {flight: KE237, on_block: "09:38", passengers: 257, classes: *east_asia}  # B787-9, 290
    - {flight: MH606, on_block: "09:39", passengers: 166, classes: *se_asia}  # A321, 190
    - {flight: KE955, on_block: "09:50", passengers: 253, classes: *east_asia}  # A330-300, 300
    - {flight: FM709, on_block: "09:53", passengers: 244, classes: *se_asia}  # A330-300, 300
    - {flight: IB238, on_block: "09:56", passengers: 313, classes: *europe}  # B777-300ER, 360
    - {flight: 9C695, on_block: "10:04", passengers: 263, classes: *east_asia}  # A330-300, 300
    - {flight: TG335, on_block: "10:12", passengers: 169, classes: *se_asia}  # A321, 190
    - {flight: KE556, on_block: "10:15", passengers: 284, classes: *east_asia}  # A350-900, 320
    - {flight: VN282, on_block: "10:23", passengers: 163, classes: *se_asia}  # A321, 190
    - {flight: AY737, on_block: "10:25", passengers: 246, classes: *europe}  # A330-300, 300
    - {flight: NH988, on_block: "10:34", passengers: 143, classes: *east_asia}  # B737-800, 170
    - {flight: CA861, on_block: "10:36", passengers: 274, classes: *east_asia}  # A330-300, 300
    - {flight: JL907, on_block: "10:51", passengers: 257, classes: *east_asia}  # B787-9, 290
    - {flight: FM403, on_block: "10:58", passengers: 286, classes: *se_asia}  # A350-900, 320
    - {flight: PR385, on_block: "11:08", passengers: 275, classes: *se_asia}  # A330-300, 300
    - {flight: FM618, on_block: "11:19", passengers: 320, classes: *east_asia}  # B777-300ER, 360
    - {flight: SQ925, on_block: "11:19", passengers: 163, classes: *se_asia}  # A321, 190
    - {flight: FM199, on_block: "11:26", passengers: 139, classes: *east_asia}  # A320, 165
    - {flight: SQ406, on_block: "11:31", passengers: 262, classes: *se_asia}  # B787-9, 290
    - {flight: OZ820, on_block: "11:33", passengers: 259, classes: *east_asia}  # A330-300, 300
    - {flight: 9C885, on_block: "11:55", passengers: 244, classes: *east_asia}  # A330-300, 300
    - {flight: TG820, on_block: "11:56", passengers: 241, classes: *se_asia}  # A330-300, 300
    - {flight: MU394, on_block: "11:59", passengers: 297, classes: *east_asia}  # B777-300ER, 360
    - {flight: CA770, on_block: "12:05", passengers: 257, classes: *se_asia}  # A330-300, 300
    - {flight: OZ521, on_block: "12:08", passengers: 173, classes: *east_asia}  # A321, 190
    - {flight: 9C602, on_block: "12:18", passengers: 234, classes: *east_asia}  # B787-9, 290
    - {flight: FM615, on_block: "12:19", passengers: 164, classes: *se_asia}  # A321, 190
    - {flight: FM484, on_block: "12:34", passengers: 150, classes: *east_asia}  # B737-800, 170
    - {flight: DL874, on_block: "12:35", passengers: 283, classes: *america}  # A350-1000, 350
    - {flight: FM986, on_block: "12:36", passengers: 264, classes: *se_asia}  # A350-900, 320
    - {flight: OZ613, on_block: "12:43", passengers: 142, classes: *east_asia}  # B737-800, 170
    - {flight: VN385, on_block: "12:55", passengers: 249, classes: *se_asia}  # B787-9, 290
    - {flight: CA628, on_block: "12:58", passengers: 273, classes: *america}  # A330-300, 300
    - {flight: KE684, on_block: "12:58", passengers: 142, classes: *east_asia}  # A320, 165
    - {flight: MU727, on_block: "13:00", passengers: 264, classes: *se_asia}  # B787-9, 290
    - {flight: AC383, on_block: "13:01", passengers: 295, classes: *america}  # B777-300ER, 360
    - {flight: IB626, on_block: "13:07", passengers: 305, classes: *europe}  # B777-300ER, 360
    - {flight: HU259, on_block: "13:22", passengers: 436, classes: *america}  # A380, 500
    - {flight: GA894, on_block: "13:23", passengers: 246, classes: *se_asia}  # A330-300, 300
    - {flight: OZ636, on_block: "13:24", passengers: 167, classes: *east_asia}  # A321, 190
    - {flight: NH752, on_block: "13:28", passengers: 244, classes: *east_asia}  # B787-9, 290
    - {flight: PR822, on_block: "13:40", passengers: 293, classes: *se_asia}  # B777-300ER, 360
    - {flight: MU369, on_block: "13:46", passengers: 294, classes: *east_asia}  # A350-900, 320
    - {flight: KE194, on_block: "13:48", passengers: 136, classes: *east_asia}  # A320, 165
    - {flight: HU356, on_block: "13:49", passengers: 261, classes: *america}  # A330-300, 300
    - {flight: MU286, on_block: "13:57", passengers: 152, classes: *se_asia}  # B737-800, 170
    - {flight: HU769, on_block: "14:06", passengers: 282, classes: *america}  # A350-1000, 350
    - {flight: MU260, on_block: "14:07", passengers: 260, classes: *east_asia}  # B787-9, 290
    - {flight: UA144, on_block: "14:08", passengers: 250, classes: *america}  # A330-300, 300
    - {flight: OZ148, on_block: "14:09", passengers: 134, classes: *east_asia}  # A320, 165
    - {flight: JL160, on_block: "14:12", passengers: 138, classes: *east_asia}  # A320, 165
    - {flight: HU810, on_block: "14:20", passengers: 309, classes: *america}  # A350-1000, 350
    - {flight: EY883, on_block: "14:23", passengers: 247, classes: *mideast}  # B787-9, 290
    - {flight: OZ207, on_block: "14:23", passengers: 294, classes: *east_asia}  # A350-900, 320
    - {flight: TK330, on_block: "14:23", passengers: 300, classes: *europe}  # A350-1000, 350
    - {flight: MH218, on_block: "14:37", passengers: 328, classes: *se_asia}  # B777-300ER, 360
    - {flight: MU316, on_block: "14:37", passengers: 133, classes: *se_asia}  # A320, 165
    - {flight: MU580, on_block: "14:38", passengers: 135, classes: *se_asia}  # A320, 165
    - {flight: MU917, on_block: "14:55", passengers: 249, classes: *america}  # A330-300, 300
    - {flight: OZ646, on_block: "15:03", passengers: 259, classes: *east_asia}  # A350-900, 320
    - {flight: IB284, on_block: "15:08", passengers: 276, classes: *europe}  # A350-900, 320
    - {flight: SQ171, on_block: "15:09", passengers: 279, classes: *se_asia}  # A350-900, 320
    - {flight: MU772, on_block: "15:12", passengers: 254, classes: *se_asia}  # A330-300, 300
    - {flight: AA969, on_block: "15:13", passengers: 317, classes: *america}  # A350-1000, 350
    - {flight: MU821, on_block: "15:21", passengers: 150, classes: *east_asia}  # B737-800, 170
    - {flight: HU150, on_block: "15:26", passengers: 236, classes: *america}  # B787-9, 290
    - {flight: MH287, on_block: "15:28", passengers: 286, classes: *se_asia}  # A350-900, 320
    - {flight: MU273, on_block: "15:39", passengers: 146, classes: *east_asia}  # B737-800, 170
    - {flight: OZ500, on_block: "15:40", passengers: 156, classes: *east_asia}  # A321, 190
    - {flight: CA172, on_block: "15:42", passengers: 308, classes: *america}  # A350-1000, 350
    - {flight: DL448, on_block: "15:51", passengers: 319, classes: *america}  # B747-8, 365
    - {flight: DL355, on_block: "16:06", passengers: 332, classes: *america}  # B747-8, 365
    - {flight: AA583, on_block: "16:07", passengers: 454, classes: *america}  # A380, 500
    - {flight: UA797, on_block: "16:11", passengers: 305, classes: *america}  # B747-8, 365
    - {flight: KE596, on_block: "16:18", passengers: 262, classes: *east_asia}  # A330-300, 300
    - {flight: 9C633, on_block: "16:20", passengers: 248, classes: *east_asia}  # A330-300, 300
    - {flight: VS292, on_block: "16:28", passengers: 314, classes: *europe}  # B747-8, 365
    - {flight: CA340, on_block: "16:32", passengers: 153, classes: *east_asia}  # A321, 190
    - {flight: MU338, on_block: "16:33", passengers: 281, classes: *east_asia}  # A350-900, 320
    - {flight: UA174, on_block: "16:34", passengers: 444, classes: *america}  # A380, 500
    - {flight: CA276, on_block: "16:37", passengers: 132, classes: *se_asia}  # A320, 165
    - {flight: PR583, on_block: "16:37", passengers: 158, classes: *se_asia}  # A321, 190
    - {flight: CA471, on_block: "16:58", passengers: 145, classes: *se_asia}  # A320, 165
    - {flight: TG871, on_block: "17:01", passengers: 259, classes: *se_asia}  # A330-300, 300
    - {flight: MU875, on_block: "17:08", passengers: 142, classes: *east_asia}  # A320, 165
    - {flight: CA811, on_block: "17:09", passengers: 292, classes: *america}  # A350-900, 320
    - {flight: OZ341, on_block: "17:31", passengers: 147, classes: *east_asia}  # B737-800, 170
    - {flight: MH841, on_block: "17:34", passengers: 142, classes: *se_asia}  # A320, 165
    - {flight: CA693, on_block: "17:36", passengers: 299, classes: *europe}  # A350-1000, 350
    - {flight: MU238, on_block: "17:36", passengers: 253, classes: *east_asia}  # B787-9, 290
    - {flight: UA117, on_block: "17:37", passengers: 314, classes: *america}  # B777-300ER, 360
    - {flight: AC776, on_block: "17:43", passengers: 267, classes: *america}  # A330-300, 300
    - {flight: FM992, on_block: "17:45", passengers: 325, classes: *se_asia}  # B777-300ER, 360
    - {flight: AY742, on_block: "17:58", passengers: 316, classes: *europe}  # B747-8, 365
    - {flight: MU336, on_block: "17:58", passengers: 252, classes: *east_asia}  # A330-300, 300
    - {flight: VN502, on_block: "18:03", passengers: 167, classes: *se_asia}  # A321, 190
    - {flight: FM966, on_block: "18:09", passengers: 138, classes: *east_asia}  # A320, 165
    - {flight: MH133, on_block: "18:12", passengers: 162, classes: *se_asia}  # A321, 190
    - {flight: 9C276, on_block: "18:19", passengers: 293, classes: *east_asia}  # B777-300ER, 360
    - {flight: 9C743, on_block: "18:19", passengers: 288, classes: *east_asia}  # A350-900, 320
    - {flight: CA758, on_block: "18:30", passengers: 275, classes: *se_asia}  # A350-900, 320
    - {flight: LX873, on_block: "18:31", passengers: 447, classes: *europe}  # A380, 500
    - {flight: VN647, on_block: "18:32", passengers: 148, classes: *se_asia}  # B737-800, 170
    - {flight: BA449, on_block: "18:39", passengers: 266, classes: *europe}  # B787-9, 290
    - {flight: CA625, on_block: "18:43", passengers: 269, classes: *east_asia}  # A330-300, 300
    - {flight: EK782, on_block: "18:45", passengers: 261, classes: *mideast}  # B787-9, 290
    - {flight: HU886, on_block: "18:52", passengers: 309, classes: *america}  # B777-300ER, 360
    - {flight: OZ944, on_block: "18:52", passengers: 162, classes: *east_asia}  # A321, 190
    - {flight: MU117, on_block: "18:53", passengers: 238, classes: *america}  # B787-9, 290
    - {flight: 9C520, on_block: "19:02", passengers: 264, classes: *east_asia}  # A330-300, 300
    - {flight: FM170, on_block: "19:03", passengers: 295, classes: *east_asia}  # B777-300ER, 360
    - {flight: HU196, on_block: "19:09", passengers: 247, classes: *america}  # A330-300, 300
    - {flight: 9C414, on_block: "19:10", passengers: 155, classes: *east_asia}  # B737-800, 170
    - {flight: OZ421, on_block: "19:31", passengers: 139, classes: *east_asia}  # A320, 165
    - {flight: MU807, on_block: "19:34", passengers: 168, classes: *se_asia}  # A321, 190
    - {flight: AF589, on_block: "19:36", passengers: 439, classes: *europe}  # A380, 500
    - {flight: TG850, on_block: "19:39", passengers: 301, classes: *se_asia}  # B777-300ER, 360
    - {flight: SQ855, on_block: "19:42", passengers: 146, classes: *se_asia}  # B737-800, 170
    - {flight: 9C791, on_block: "19:44", passengers: 137, classes: *east_asia}  # B737-800, 170
    - {flight: VS328, on_block: "19:44", passengers: 299, classes: *europe}  # A350-1000, 350
    - {flight: GA482, on_block: "19:47", passengers: 269, classes: *se_asia}  # A330-300, 300
    - {flight: SQ411, on_block: "20:00", passengers: 272, classes: *se_asia}  # A330-300, 300
    - {flight: VN578, on_block: "20:16", passengers: 242, classes: *se_asia}  # B787-9, 290
    - {flight: MU308, on_block: "20:24", passengers: 258, classes: *se_asia}  # A350-900, 320
    - {flight: JL362, on_block: "20:28", passengers: 250, classes: *east_asia}  # A330-300, 300
    - {flight: JL123, on_block: "20:30", passengers: 139, classes: *east_asia}  # B737-800, 170
    - {flight: SQ526, on_block: "20:38", passengers: 244, classes: *se_asia}  # B787-9, 290
    - {flight: MU768, on_block: "20:46", passengers: 263, classes: *east_asia}  # B787-9, 290
    - {flight: AY641, on_block: "20:54", passengers: 251, classes: *europe}  # B787-9, 290
    - {flight: SQ239, on_block: "20:55", passengers: 242, classes: *se_asia}  # B787-9, 290
    - {flight: NH753, on_block: "20:57", passengers: 264, classes: *east_asia}  # B787-9, 290
    - {flight: PR699, on_block: "21:00", passengers: 148, classes: *se_asia}  # B737-800, 170
    - {flight: JL309, on_block: "21:09", passengers: 155, classes: *east_asia}  # B737-800, 170
    - {flight: QR196, on_block: "21:16", passengers: 271, classes: *mideast}  # A350-900, 320
    - {flight: CA694, on_block: "21:21", passengers: 259, classes: *se_asia}  # A330-300, 300
    - {flight: MH975, on_block: "21:25", passengers: 134, classes: *se_asia}  # A320, 165
    - {flight: MU400, on_block: "21:34", passengers: 143, classes: *se_asia}  # A320, 165
    - {flight: KE169, on_block: "21:41", passengers: 167, classes: *east_asia}  # A321, 190
    - {flight: NH431, on_block: "21:46", passengers: 144, classes: *east_asia}  # A320, 165
    - {flight: GA828, on_block: "21:55", passengers: 287, classes: *se_asia}  # A350-900, 320
    - {flight: MU604, on_block: "21:57", passengers: 140, classes: *east_asia}  # B737-800, 170
    - {flight: GA367, on_block: "22:12", passengers: 265, classes: *se_asia}  # B787-9, 290
    - {flight: NH116, on_block: "22:17", passengers: 161, classes: *east_asia}  # A321, 190
    - {flight: VN402, on_block: "22:22", passengers: 137, classes: *se_asia}  # A320, 165
    - {flight: TG413, on_block: "22:23", passengers: 169, classes: *se_asia}  # A321, 190
    - {flight: FM907, on_block: "22:24", passengers: 146, classes: *east_asia}  # B737-800, 170
    - {flight: SQ594, on_block: "22:36", passengers: 291, classes: *se_asia}  # B777-300ER, 360
    - {flight: CA383, on_block: "22:41", passengers: 275, classes: *east_asia}  # A350-900, 320
    - {flight: CA455, on_block: "22:42", passengers: 138, classes: *se_asia}  # A320, 165
    - {flight: EY142, on_block: "22:57", passengers: 321, classes: *mideast}  # A350-1000, 350
    - {flight: CA478, on_block: "23:07", passengers: 139, classes: *se_asia}  # A320, 165
    - {flight: VN575, on_block: "23:26", passengers: 173, classes: *se_asia}  # A321, 190
    - {flight: MH207, on_block: "23:48", passengers: 311, classes: *se_asia}  # B777-300ER, 360
    - {flight: TG565, on_block: "23:50", passengers: 155, classes: *se_asia}  # B737-800, 170
    - {flight: CA319, on_block: "23:51", passengers: 307, classes: *east_asia}  # B777-300ER, 360
    - {flight: QR991, on_block: "23:58", passengers: 253, classes: *mideast}  # B787-9, 290
gates:
  count: 12
  topology: two_step        # a mantrap: entry door, then the face, then the exit door
  queue: shared             # one serpentine queue for all gates
  steps:                    # seconds
    document: {kind: lognormal, mean: 4.5, sd: 2.5}   # passport on the reader: MRZ and chip
    entry: {kind: uniform, low: 1, high: 2.5}
    capture: {kind: gamma, mean: 2.5, sd: 1.2}        # one capture attempt
    exit: {kind: uniform, low: 1.5, high: 3}
  outcomes:
    failure_to_acquire: 0.03      # per capture attempt
    biometric_mismatch: 0.01      # FNMR
    false_match: 0.001            # FMR
    impostor_share: 0.0002
    document_rejection: 0.002
    document_referral: 0.01
    chip_unreadable: 0.005
    tailgating: 0.001
  capture_attempts: 3
  retreat: {kind: uniform, low: 8, high: 15}          # a referred traveller backing out
  referral_walk: {kind: triangular, low: 20, mode: 30, high: 60}
  failures: {mtbf_h: 150, mttr_min: 30}
desks:
  roster:
    - {from: "06:00", to: "11:00", desks: 40}   # the morning long-haul bank
    - {from: "11:00", desks: 34}
  service: {kind: lognormal, mean: 70, sd: 35}
  referral_service: {kind: lognormal, mean: 120, sd: 60}
  referral_priority: true
matching:                   # the central matching core verifies every face
  workers: 8
  service: {kind: lognormal, mean: 0.4, sd: 0.15}
service_level: {max_wait_min: 5, share: 0.95, clearance_min: 45}
interval_min: 15
replications: 30
seed: 2018
"""
