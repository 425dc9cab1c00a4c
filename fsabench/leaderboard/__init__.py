"""Leaderboards: verified submissions, re-scored from their own outputs, published as a static
site and a small hosted service. A leaderboard is a folder: `leaderboards/<name>/leaderboard.yaml`
plus `submissions/<slug>.json` bundles (see docs/leaderboard.md)."""
