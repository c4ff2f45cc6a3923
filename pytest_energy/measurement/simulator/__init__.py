"""The CPU simulator behind ``--energy-meter=simulated``: valgrind's callgrind counts each
test's instructions and cache misses (the same counts on every run), and a versioned model
turns them into joules. ``shim`` (callgrind's client requests through a tiny C library),
``launch`` (re-executing a program under callgrind), ``counts`` (one region's counts),
``model`` (counts to joules, model files, the NNLS fit)."""
