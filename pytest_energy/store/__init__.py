"""Storage, the one door for files: atomic writes, the baseline, the results and ab
documents, the JSON Schemas of every document and the one loader that applies them
(:mod:`.loader`). Dicts exist only here, at the file boundary."""
