"""Heap sort and selection sort in C (``energy_sorts._csort``) and in Python (``energy_sorts.pysort``)."""
