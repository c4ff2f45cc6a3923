"""Judging: verdict rules (single values, samples, pairs), the baseline gate and budgets.
Pure functions on typed results: no IO, no pytest."""
