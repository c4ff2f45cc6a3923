"""Storage, the one door for files: atomic writes, the baseline, the results and ab
documents and their loading. Dicts exist only here, at the file boundary."""
