"""Oracles for the run-folder and fault tests (imported as tests.durable_oracles:NAME)."""

import os
import time


def gc(seqs):
    return [sum(c in "GC" for c in s) / len(s) for s in seqs]


def slow_gc(seqs):  # long enough per round for a signal to arrive mid-run
    time.sleep(0.05)
    return gc(seqs)


def gated_gc(seqs):  # waits while the file named by $MOLGFN_TEST_GATE exists: a run that lasts until told
    gate = os.environ.get("MOLGFN_TEST_GATE")
    while gate and os.path.exists(gate):
        time.sleep(0.02)
    return gc(seqs)


def zeros(seqs):  # every score below the reward floor
    return [0.0 for _ in seqs]


STATE = {"calls": 0, "at": None, "sig": None, "fail": False}


def signal_at(seqs):
    """Send a signal to this process at the given call (then optionally fail, as an oracle pool hit
    by Ctrl-C would)."""
    import os

    STATE["calls"] += 1
    if STATE["calls"] == STATE["at"]:
        os.kill(os.getpid(), STATE["sig"])
    # fail from then on: the oracle layer re-runs a failed batch object by object, so a failure
    # that happened once would be recovered rather than break the round
    if STATE["fail"] and STATE["calls"] >= STATE["at"]:
        raise RuntimeError("worker died")
    return gc(seqs)
