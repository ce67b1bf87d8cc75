"""Calling reward oracles safely: validation, caching, and parallel evaluation.

Every raw score that reaches training has passed ``check_scores``: an oracle that
raises, returns the wrong number of values, NaN/inf, or a negative value where the task
forbids one raises ``OracleError`` naming the oracle and the offending objects, before
anything is written, so the last checkpoint stays intact.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from .errors import OracleError


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


def call_oracle(name: str, fn: Callable[[list[str]], Sequence[float]], objects: list[str],
                allow_negative: bool) -> np.ndarray:
    try:
        values = fn(objects)
    except OracleError:
        raise
    except Exception as e:  # a user's oracle may raise anything; the run must stop cleanly
        shown = ", ".join(repr(o) for o in objects[:5])
        raise OracleError(f"oracle {name!r} raised {type(e).__name__}: {e} (batch of {len(objects)}, "
                          f"first objects: {shown})") from e
    return check_scores(name, objects, values, allow_negative)


class CachedOracle:
    """Memoise a per-object CPU oracle and spread uncached objects over processes.

    ``fn`` must be a module-level function (it is sent to worker processes) mapping a
    list of objects to a list of floats.
    """

    def __init__(self, name: str, fn: Callable[[list[str]], Sequence[float]], allow_negative: bool,
                 workers: int | None = None, min_parallel: int = 16, max_cache: int = 2_000_000) -> None:
        self.name, self.fn, self.allow_negative = name, fn, allow_negative
        self.workers = workers if workers is not None else (os.cpu_count() or 1)
        self.min_parallel = min_parallel
        self.max_cache = max_cache
        self.cache: dict[str, float] = {}
        self._pool: ProcessPoolExecutor | None = None
        self.calls = 0  # objects actually evaluated (cache misses)

    def _evaluate(self, objs: list[str]) -> list[float]:
        # a daemonic process (e.g. a multiprocessing.Pool worker) may not start children
        if self.workers <= 1 or len(objs) < self.min_parallel or mp.current_process().daemon:
            return list(self.fn(objs))
        if self._pool is None:
            # fork on Linux: workers start in milliseconds and a user's script needs no
            # `if __name__ == "__main__"` guard. Workers only run the oracle, never torch, so
            # the parent's OpenMP threads (which fork does not copy) are never needed there.
            ctx = mp.get_context("fork" if sys.platform == "linux" else "spawn")
            self._pool = ProcessPoolExecutor(self.workers, mp_context=ctx)
        chunks = [objs[i :: self.workers] for i in range(self.workers)]
        results = list(self._pool.map(self.fn, chunks))
        out = [0.0] * len(objs)
        for w, res in enumerate(results):
            out[w :: self.workers] = res
        return out

    def __call__(self, objects: list[str]) -> np.ndarray:
        todo = list(dict.fromkeys(o for o in objects if o not in self.cache))
        if todo:
            vals = call_oracle(self.name, self._evaluate, todo, self.allow_negative)
            self.calls += len(todo)
            if len(self.cache) + len(todo) > self.max_cache:
                self.cache.clear()
            self.cache.update(zip(todo, vals.tolist(), strict=True))
        return np.array([self.cache[o] for o in objects], dtype=np.float64)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None
