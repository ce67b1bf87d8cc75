"""The oracle contract: what an oracle returns, how its output is checked, how one chunk is run.

An oracle is a picklable callable ``fn(objects: list[str]) -> list[float]`` (one raw score
per object, in order). An entry may instead be ``Invalid(reason)``: the object itself is
not scorable (a molecule that cannot be embedded, an SCF that does not converge), so it
gets the floor reward and its reason is recorded, whatever ``--on-oracle-error`` says. An entry
may also be ``Scored(value, extra)``: the value with a text the store keeps beside it (a pose).

Anything else that goes wrong is an oracle *failure* of the objects concerned: raising
(any exception, ``sys.exit`` and ``KeyboardInterrupt`` included), NaN/inf or a negative
value where the task forbids one, a wrong number of values, a hang past the timeout, or a
dead worker. ``check_scores`` / ``call_oracle`` keep the strict all-or-nothing form used
by tasks that call an oracle directly: they raise ``OracleError`` naming the oracle and
the objects, before anything is written, so the last checkpoint stays intact.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import Interrupted, MolgfnError, OracleError


@dataclass(frozen=True)
class Invalid:
    """An oracle's verdict that an object cannot be scored (floor reward, reason recorded)."""

    reason: str


@dataclass(frozen=True)
class Scored:
    """A raw score with something the oracle made on the way, kept beside it in the score store
    (``extra``, text: a docking oracle's best pose as an SD mol block)."""

    value: float
    extra: str | None = None


@dataclass(frozen=True)
class Outcome:
    """The result of one object: a finite value, or an error (``invalid``: the oracle said so)."""

    value: float | tuple[float, ...] | None  # a tuple: an objective vector (multi-objective oracles)
    error: str | None = None
    wall_s: float = 0.0
    invalid: bool = False
    whole_call: bool = False  # the call itself broke the contract (a wrong number of values): retry it whole
    extra: str | None = None  # what the oracle returned beside the value (``Scored``): kept in the store

    @property
    def ok(self) -> bool:
        return self.error is None


def check_scores(name: str, objects: Sequence[str], values, allow_negative: bool) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as e:
        raise OracleError(f"oracle {name!r} returned values that are not numbers: {e}") from e
    if arr.shape[0] != len(objects):
        raise OracleError(f"oracle {name!r} returned {arr.shape[0]} values for {len(objects)} objects")
    bad = ~np.isfinite(arr)
    if not allow_negative:
        bad |= arr < 0
    if bad.any():
        idx = np.flatnonzero(bad)
        shown = ", ".join(f"{objects[i]!r} -> {arr[i]}" for i in idx[:5])
        more = f" (and {len(idx) - 5} more)" if len(idx) > 5 else ""
        what = "NaN/inf" if allow_negative else "NaN/inf or negative"
        raise OracleError(f"oracle {name!r} returned {what} scores for {len(idx)} object(s): {shown}{more}")
    return arr


def interruption(exc: BaseException | None) -> BaseException | None:
    """The signal (``Interrupted``: SIGTERM, or Ctrl-C) behind an exception raised while waiting
    for an oracle, also when a library's C code wrapped it (Ray: ``SystemError: ... returned a
    result with an exception set``); None if there is none."""
    from ..errors import Interrupted

    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, (Interrupted, KeyboardInterrupt)):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


def call_oracle(name: str, fn: Callable[[list[str]], Sequence[float]], objects: list[str],
                allow_negative: bool) -> np.ndarray:
    try:
        values = fn(objects)
    except MolgfnError:  # the store, a signal (Interrupted) or the oracle machinery: not the oracle's fault
        raise
    except Exception as e:  # a user's oracle may raise anything; the run must stop cleanly
        if (stop := interruption(e)) is not None:  # SIGTERM / Ctrl-C while it ran: not the oracle's fault
            raise stop from None
        shown = ", ".join(repr(o) for o in objects[:5])
        raise OracleError(f"oracle {name!r} raised {type(e).__name__}: {e} (batch of {len(objects)}, "
                          f"first objects: {shown})") from e
    return check_scores(name, objects, values, allow_negative)


class OracleTimedOut(Exception):
    """Raised inside an in-process oracle call by the local executor's alarm (``executors._alarm_guard``)."""


def describe(exc: BaseException) -> str:
    if isinstance(exc, OracleTimedOut):
        return str(exc)
    if isinstance(exc, SystemExit):
        return f"called sys.exit({exc.code!r})"
    text = str(exc)
    return f"raised {type(exc).__name__}: {text}" if text else f"raised {type(exc).__name__}"


def run_chunk(fn: Callable, objects: list[str], catch: tuple[type[BaseException], ...] = (BaseException,)) \
        -> list[Outcome]:
    """One oracle call on a chunk, turned into one ``Outcome`` per object (runs in a worker).

    A chunk whose call raises is retried object by object, so one bad object does not cost
    its neighbours. Values are passed back unchecked (NaN included): the driver knows the
    task's rules. ``catch`` is what counts as an oracle failure here (a worker process
    catches everything, ``sys.exit`` and ``KeyboardInterrupt`` included).
    """
    t0 = time.perf_counter()
    try:
        values = list(fn(list(objects)))
    except Interrupted:  # SIGTERM reached the driver while an in-process oracle ran: the run stops
        raise
    except catch as e:
        if len(objects) > 1:
            return [run_chunk(fn, [o], catch)[0] for o in objects]
        return [Outcome(None, describe(e), time.perf_counter() - t0)]
    wall = (time.perf_counter() - t0) / max(len(objects), 1)
    if len(values) != len(objects):
        msg = f"returned {len(values)} values for {len(objects)} objects"
        return [Outcome(None, msg, wall, whole_call=True) for _ in objects]
    out = []
    for v in values:
        if isinstance(v, Invalid):
            out.append(Outcome(None, v.reason, wall, invalid=True))
            continue
        extra = v.extra if isinstance(v, Scored) else None
        try:
            out.append(Outcome(as_value(v.value if isinstance(v, Scored) else v), None, wall, extra=extra))
        except (TypeError, ValueError) as e:
            out.append(Outcome(None, f"returned a value that is not a number: {v!r} ({e})", wall))
    return out


def as_value(v) -> float | tuple[float, ...]:
    """One object's value: a number, or a vector of numbers (a multi-objective oracle's entry)."""
    try:
        return float(v)
    except (TypeError, ValueError):
        if isinstance(v, (str, bytes)) or not hasattr(v, "__iter__"):
            raise
    return tuple(float(x) for x in v)


def value_error(value, allow_negative: bool) -> str | None:
    """Why a returned value cannot be a raw score, or None."""
    if isinstance(value, tuple):
        if len(value) != 1:
            return f"returned a vector of {len(value)} values where one number was expected"
        value = value[0]
    if not math.isfinite(value):
        return f"returned {value}"
    if value < 0 and not allow_negative:
        return f"returned a negative score {value}"
    return None


def vector_error(value, k: int) -> str | None:
    """Why a returned value cannot be an objective vector of ``k`` entries, or None."""
    vec = value if isinstance(value, tuple) else (value,)
    if len(vec) != k:
        return f"returned {len(vec)} value(s) where one vector of {k} objectives per object was expected"
    if not all(math.isfinite(x) for x in vec):
        return f"returned NaN/inf objectives {list(vec)}"
    return None
