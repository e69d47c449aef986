"""Training replays: scenario passengers through mock gates run by the real gate service.

- ``scenario``: the scenario file's model and its loader (``load_scenario``);
- ``scenario_travellers``: a scenario's passengers as mock travellers;
- ``replay``: the replay engine, mock gates driven by the scenario clock;
- ``transcript``, ``narration``: what happened, line by line, in words;
- ``scorecard``, ``terminal``, ``report``: the trainee's scorecard, on the
  terminal and as ``transcript.jsonl``, ``scorecard.json`` and ``report.html``.
"""
