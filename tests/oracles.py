"""User-style oracles for tests (imported as tests.oracles:NAME)."""

import math

CALLS = {"n": 0, "fail_after": None}


def gc_content(seqs):
    return [sum(c in "GC" for c in s) / len(s) for s in seqs]


def returns_nan(seqs):
    return [math.nan if s.startswith("A") else 0.5 for s in seqs]


def raises(seqs):
    raise RuntimeError("docking server unreachable")


def wrong_count(seqs):
    return [0.5] * (len(seqs) + 1)


def negative(seqs):
    return [-1.0 for _ in seqs]


def flaky(seqs):
    CALLS["n"] += 1
    if CALLS["fail_after"] is not None and CALLS["n"] > CALLS["fail_after"]:
        raise RuntimeError("oracle went away")
    return gc_content(seqs)
