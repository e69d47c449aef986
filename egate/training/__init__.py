"""Training replays: scenario files, their transcript and the trainee's scorecard."""
