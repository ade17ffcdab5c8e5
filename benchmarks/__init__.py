"""freshfleet's benchmarks: `python benchmarks/run.py [--quick]` (see RESULTS.md)."""
