"""Training replays: scenario passengers through mock gates run by the real gate service."""
