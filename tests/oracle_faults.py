"""Oracles that fail in every way an oracle can (imported as tests.oracle_faults:NAME).

Each scores a sequence by its GC content, and fails on objects that start with "A" only,
so a test can check that exactly those objects are lost."""

import ctypes
import math
import os
import signal
import sys
import time


def gc(s: str) -> float:
    return sum(c in "GC" for c in s) / len(s)


def _each(fault):
    def oracle(seqs):
        out = []
        for s in seqs:
            if s.startswith("A"):
                v = fault()
                out.append(v)
            else:
                out.append(gc(s))
        return out
    oracle.__name__ = fault.__name__
    return oracle


def _raise():
    raise RuntimeError("docking server unreachable")


def _nan():
    return math.nan


def _hang():
    time.sleep(3600)


def _sys_exit():
    sys.exit(3)


def _os_exit():
    os._exit(0)


def _segfault():
    if os.environ.get("FAULT_CTYPES"):
        ctypes.string_at(0)
    os.kill(os.getpid(), signal.SIGSEGV)


def _keyboard():
    raise KeyboardInterrupt


raises, returns_nan, hangs, sys_exit, os_exit, segfault, keyboard = (
    _each(f) for f in (_raise, _nan, _hang, _sys_exit, _os_exit, _segfault, _keyboard))
FAULTS = {"raise": raises, "nan": returns_nan, "hang": hangs, "sys.exit": sys_exit, "os._exit": os_exit,
          "segfault": segfault, "KeyboardInterrupt": keyboard}


def noisy(seqs):
    """Prints to stdout from Python and from C (fd 1)."""
    print("NOISE from print")
    sys.stdout.flush()
    os.write(1, b"NOISE from fd 1\n")
    return [gc(s) for s in seqs]


def counting(seqs):
    """Appends every object it scores to $ORACLE_LOG (one line each), then scores it slowly."""
    with open(os.environ["ORACLE_LOG"], "a") as f:
        for s in seqs:
            f.write(s + "\n")
    time.sleep(0.002 * len(seqs))
    return [gc(s) for s in seqs]


class Spawned:
    """The same oracle, run by spawned (not forked) workers, as OpenMP oracles are."""

    fork_safe = False

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, seqs):
        return FAULTS[self.name](seqs)


def one_short(seqs):
    """One value too few for the call (a contract error of the whole call)."""
    return [gc(s) for s in seqs][:-1]


def sigterm_inside(seqs):
    """What the CLI's SIGTERM handler does when the signal lands while an in-process oracle runs."""
    from molgfn.errors import Interrupted

    raise Interrupted(15, "SIGTERM received: stopped")


def spawns(seqs):
    """Starts processes it leaves running (a child and a shell pipeline), as a careless oracle
    driving an external program might, then scores; its children carry $MOLGFN_TEST_MARK."""
    import subprocess

    subprocess.Popen(["sleep", "1000"])
    subprocess.Popen("sleep 1000 | cat", shell=True)
    return [gc(s) for s in seqs]


def spawns_then_fails(seqs):
    """``spawns``, then raises on objects starting with "A"."""
    spawns(seqs)
    return raises(seqs)


def spawns_then_segfaults(seqs):
    """``spawns``, then kills its worker (SIGSEGV) on objects starting with "A"."""
    spawns(seqs)
    return segfault(seqs)


def bench_task_that_dies(name, **options):
    """A ``make_task`` for ``bench.run_grid`` whose run process dies (as an OOM kill would)."""
    os._exit(9)
