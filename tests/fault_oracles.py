"""Misbehaving oracles for the fault-injection suite (imported as tests.fault_oracles:NAME).

Each fault has a scalar form ``NAME`` (one float per sequence: its GC content) and a vector form
``vec_NAME`` (two values per sequence: GC and AT content, for ``--objectives gc,at``). A fault
strikes on the objects that start with "A" only (the whole call for the batch faults), so that
``--on-oracle-error invalid`` can be checked to lose exactly those: no candidate may start with "A".
"""

import ctypes
import math
import os
import signal
import subprocess
import sys
import time


def gc(s: str) -> float:
    return sum(c in "GC" for c in s) / len(s)


def at(s: str) -> float:
    return sum(c in "AT" for c in s) / len(s)


def _raise():
    raise RuntimeError("docking server unreachable")


def _hang():
    time.sleep(3600)


def _sys_exit0():
    sys.exit(0)


def _sys_exit3():
    sys.exit(3)


def _os_exit():
    os._exit(0)


def _segfault():
    ctypes.string_at(0)  # a real invalid read, as a crashing C extension does
    os.kill(os.getpid(), signal.SIGSEGV)


def _keyboard():
    raise KeyboardInterrupt


PER_OBJECT = {"raise": _raise, "nan": lambda: math.nan, "inf": lambda: math.inf, "neg_inf": lambda: -math.inf,
              "none": lambda: None, "text": lambda: "high", "hang": _hang, "sys_exit0": _sys_exit0,
              "sys_exit3": _sys_exit3, "os_exit": _os_exit, "segfault": _segfault, "keyboard": _keyboard}


def _scalar(fault):
    def oracle(seqs):
        return [fault() if s.startswith("A") else gc(s) for s in seqs]
    return oracle


def _vector(fault):
    def oracle(seqs):
        out = []
        for s in seqs:
            if s.startswith("A"):
                v = fault()
                out.append([v, v])
            else:
                out.append([gc(s), at(s)])
        return out
    return oracle


for _name, _fault in PER_OBJECT.items():
    globals()[_name] = _scalar(_fault)
    globals()["vec_" + _name] = _vector(_fault)


def ok(seqs):
    return [gc(s) for s in seqs]


def vec_ok(seqs):
    return [[gc(s), at(s)] for s in seqs]


def short(seqs):  # wrong length: one value fewer than asked
    return [gc(s) for s in seqs][:-1]


def vec_short(seqs):
    return [[gc(s), at(s)] for s in seqs][:-1]


def long(seqs):  # wrong length: one value more
    return [gc(s) for s in seqs] + [0.5]


def vec_long(seqs):
    return [[gc(s), at(s)] for s in seqs] + [[0.5, 0.5]]


def vec_width(seqs):  # wrong number of objectives
    return [[gc(s)] for s in seqs]


def scalar_dict(seqs):  # wrong type for the whole call
    return {s: gc(s) for s in seqs}


def vec_dict(seqs):
    return {s: [gc(s), at(s)] for s in seqs}


def returns_none(seqs):
    return None


def vec_returns_none(seqs):
    return None


def huge(seqs):  # finite but absurd raw scores: rewards must stay finite
    return [1e200 * (1 + gc(s)) for s in seqs]


def vec_huge(seqs):
    return [[1e200 * (1 + gc(s)), 1e200] for s in seqs]


def noisy(seqs):  # prints from Python and from C (fd 1): stdout is for results
    print("NOISE from print")
    sys.stdout.flush()
    os.write(1, b"NOISE from fd 1\n")
    return [gc(s) for s in seqs]


def vec_noisy(seqs):
    noisy(seqs)
    return vec_ok(seqs)


_SPAWNED = []


def _spawn_child():
    if not _SPAWNED:  # one long-lived helper process per oracle process, as a docking server would be
        _SPAWNED.append(subprocess.Popen(["sleep", "300"], stdin=subprocess.DEVNULL))


def spawns(seqs):
    _spawn_child()
    return [gc(s) for s in seqs]


def vec_spawns(seqs):
    _spawn_child()
    return vec_ok(seqs)


def slow(seqs):  # a little slow per call: long enough for a signal to land mid-run
    time.sleep(0.05)
    return [gc(s) for s in seqs]


# the faults tried (scalar NAME, or scalar_dict for "dict"; vector vec_NAME)
ALL = sorted([*PER_OBJECT, "short", "long", "dict", "returns_none", "huge", "noisy", "spawns"])
VEC_ALL = sorted([*PER_OBJECT, "short", "long", "width", "dict", "returns_none", "huge", "noisy", "spawns"])
