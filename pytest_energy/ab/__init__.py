"""``pytest-energy ab``: two revisions measured in turns; the run (trees, processes),
the turns between the two pytest processes, and the paired verdicts."""
