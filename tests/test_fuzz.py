"""Hostile documents (issue 17): leaves of real results, baseline and ab files set in turn
to None, "x", [], {}, -1, 1e308, true and 0. ``report``, ``compare``, ``merge`` and the
plugin's ``--energy-compare`` answer each with a figure or one line, never a traceback or
a hang. A fixed-seed sample here; ``python bench/fuzz_documents.py`` runs all of them."""

from __future__ import annotations

import contextlib
import json
import signal
from collections.abc import Iterator

import pytest
from document_samples import SUITE, broken, commands, mutations, run_cli

#: Documents per kind in the suite's sample (the bench runs every one, over 10,000).
SAMPLE = {"results": 90, "baseline": 60, "ab": 60}
#: Baselines run through the plugin's --energy-compare (pytester, slower).
PLUGIN_SAMPLE = 24
FAST = ("--energy-idle-time=0", "--energy-min-time=0.001", "--energy-rounds=3")
#: A command still running after this many seconds is hung (they take well under one).
HANG_S = 120


class Hang(Exception):
    pass


@contextlib.contextmanager
def hang_guard() -> Iterator[None]:
    def alarm(signum, frame):
        raise Hang

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, HANG_S)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_commands_answer_every_mutated_document(sample_documents, tmp_path):
    originals = {}
    for kind, data in sample_documents.items():
        originals[kind] = str(tmp_path / f"original-{kind}.json")
        (tmp_path / f"original-{kind}.json").write_text(json.dumps(data))
    failures, outcomes = [], {0: 0, 1: 0, 2: 0}
    for kind, limit in SAMPLE.items():
        for description, document in mutations(sample_documents[kind], seed=17, limit=limit):
            path = tmp_path / f"{kind}.json"
            path.write_text(json.dumps(document))
            for command in commands(kind, str(path), originals):
                for leftover in ("merged.json", "merged-baseline.json"):
                    (tmp_path / leftover).unlink(missing_ok=True)
                try:
                    with hang_guard():
                        status, err = run_cli(tmp_path, *command)
                except Hang:
                    failures.append(f"hang: {command[0]} {kind} {description}")
                    continue
                problem = broken(status, err)
                if problem:
                    failures.append(f"{command[0]} {kind} {description}: {problem}")
                else:
                    outcomes[status] += 1
    assert failures == []
    assert outcomes[2] > 100 and outcomes[0] > 50  # both refused and accepted documents were seen


def test_the_plugin_compares_against_every_mutated_baseline(pytester, sample_documents):
    pytester.makepyfile(test_sample=SUITE)
    baseline = pytester.path / ".energy" / "baseline.json"
    baseline.parent.mkdir()
    failures, refused = [], 0
    for description, document in mutations(sample_documents["baseline"], seed=17, limit=PLUGIN_SAMPLE):
        baseline.write_text(json.dumps(document))
        try:
            with hang_guard():
                result = pytester.runpytest("--energy-compare", "--energy-save", "--energy-html=r.html",
                                            "--energy-json=r.json", *FAST)
        except Hang:
            failures.append(f"hang: {description}")
            continue
        text = result.stdout.str() + result.stderr.str()
        errors = [line for line in result.stderr.lines if line.startswith("ERROR:")]
        if "Traceback" in text or "INTERNALERROR" in text or result.ret not in (0, 1, 4):
            failures.append(f"{description}: exit {result.ret}")
        elif result.ret == pytest.ExitCode.USAGE_ERROR:
            refused += 1
            if len(errors) != 1 or "baseline" not in errors[0]:
                failures.append(f"{description}: {errors}")
        elif not ((pytester.path / "r.json").exists() and (pytester.path / "r.html").exists()):
            failures.append(f"{description}: results or report not written")
        for output in ("r.json", "r.html"):
            (pytester.path / output).unlink(missing_ok=True)
    assert failures == []
    assert 0 < refused < PLUGIN_SAMPLE
