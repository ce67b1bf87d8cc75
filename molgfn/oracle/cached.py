"""Scoring objects: memo, score store, executor and the error policy behind one call.

``CachedOracle(objects) -> raw scores`` is all a task asks. Each distinct object is looked
up in memory, then in the score store (``--score-store``; a hit is not a new oracle call),
and only the rest are sent to the executor. Results are written to the store chunk by
chunk as they arrive. A failed object either stops the run with one ``OracleError`` naming
the oracle and the objects (``on_error="stop"``, after every successful result of the
batch has been stored) or becomes invalid: raw score ``invalid_value`` (the task's floor,
so the floor reward), with its error recorded in the store (``on_error="invalid"``).
"""

from __future__ import annotations

import hashlib
import multiprocessing as mp
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..choices import EXECUTORS  # defined once, for the library and the CLI
from ..choices import ON_ORACLE_ERROR as ON_ERROR
from ..errors import InputError, OracleError
from .contract import Outcome, check_scores, value_error

DEFAULT_TIMEOUT_S = 600.0  # per object, process and Ray executors: a hung Python oracle costs 10 minutes
MAX_EXTRAS = 20_000  # extras (docked poses, a few kB each) kept in memory; the score store keeps every one


@dataclass
class OracleSettings:
    """How and where oracle calls run (the CLI's --executor ... --score-store options)."""

    executor: str = "auto"  # auto: a process pool for Python oracles
    workers: int | None = None  # None: the task's own default (all cores)
    chunk_size: int | None = None  # None: one chunk per worker and batch
    timeout: float | None = DEFAULT_TIMEOUT_S
    retries: int = 0
    on_error: str = "stop"
    ray_address: str | None = None
    store: Path | None = None
    # reuse stored scores written by another version of the oracle's code (--stale-scores-ok)
    reuse_across_versions: bool = False

    def validate(self) -> OracleSettings:
        checks = [
            (self.executor in EXECUTORS, f"--executor must be one of {', '.join(EXECUTORS)}, got {self.executor!r}"),
            (self.on_error in ON_ERROR, f"--on-oracle-error must be stop or invalid, got {self.on_error!r}"),
            (self.workers is None or _workers_ok(self.workers), f"--workers must be >= 1, got {self.workers}"),
            (self.chunk_size is None or self.chunk_size >= 1, f"--chunk-size must be >= 1, got {self.chunk_size}"),
            (self.timeout is None or (self.timeout > 0 and np.isfinite(self.timeout)),
             f"--oracle-timeout must be a positive number of seconds, got {self.timeout}"),
            (0 <= self.retries <= 100, f"--oracle-retries must lie in [0, 100], got {self.retries}"),
            (self.ray_address is None or self.executor == "ray", "--ray-address needs --executor ray"),
        ]
        bad = [msg for ok, msg in checks if not ok]
        if bad:
            raise InputError("; ".join(bad))
        return self


def _workers_ok(workers) -> bool:
    from .executors import check_workers

    try:
        check_workers(workers)
    except InputError:
        return False
    return True


def _module_source_hash(module_name: str | None) -> str | None:
    import sys

    mod = sys.modules.get(module_name or "")
    path = getattr(mod, "__file__", None)
    if not path:
        return None
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None


def code_identity(fn: Callable) -> str:
    """The version of an oracle's code, for the score store's key: the version its author gave
    (``fn.oracle_version``, or ``ORACLE_VERSION`` in its module), else a hash of the source of the
    module that defines it (a ``module:function`` oracle's module; a built-in task's plugin
    module, where its oracle class lives), else of its compiled code. Editing that module gives
    new scores, not the old ones."""
    import functools
    import sys

    target = fn
    while isinstance(target, functools.partial):
        target = target.func
    module_name = getattr(target, "__module__", None) or getattr(type(target), "__module__", None)
    given = getattr(fn, "oracle_version", None) or getattr(target, "oracle_version", None) or \
        getattr(sys.modules.get(module_name or ""), "ORACLE_VERSION", None)
    if given is not None:
        return "v" + hashlib.sha256(str(given).encode()).hexdigest()[:15]
    digest = _module_source_hash(module_name)
    if digest is None:  # defined in a notebook or the interactive prompt: its compiled code
        code = getattr(getattr(target, "__func__", target), "__code__", None) or \
            getattr(getattr(type(target), "__call__", None), "__code__", None)  # noqa: B004
        if code is None:
            return "unknown"
        digest = hashlib.sha256(repr((code.co_code, code.co_consts, code.co_names)).encode()).hexdigest()
    return digest[:16]


def make_executor(fn: Callable, kind: str, workers: int, settings: OracleSettings):
    from .executors import LocalExecutor, ProcessExecutor

    opts = dict(workers=workers, chunk_size=settings.chunk_size, timeout=settings.timeout,
                retries=settings.retries, ray_address=settings.ray_address)
    if kind == "ray":
        from .ray_executor import RayExecutor

        return RayExecutor(fn, **opts)
    if kind == "process":
        return ProcessExecutor(fn, **opts)
    return LocalExecutor(fn, **opts)


class CachedOracle:
    """Memoise a per-object oracle, persist its results, and run the rest on an executor.

    ``fn`` must be picklable (a module-level function or an instance of a module-level
    class): it is sent to worker processes or Ray actors once. ``version`` names the
    oracle's settings (e.g. a receptor's hash); stored scores are reused only for the same
    name and version.
    """

    def __init__(self, name: str, fn: Callable[[list[str]], Sequence], allow_negative: bool,
                 workers: int | None = None, min_parallel: int = 16, max_cache: int = 2_000_000,
                 version: str = "", invalid_value: float = 1e-3) -> None:
        from .executors import check_workers

        self.name, self.fn, self.allow_negative = name, fn, allow_negative
        self.workers = check_workers(workers) if workers is not None else (os.cpu_count() or 1)
        self.min_parallel, self.max_cache = min_parallel, max_cache
        self.version, self.invalid_value = version, invalid_value
        self.settings = OracleSettings()
        self.configured = False  # library use: small batches in-process, as before the CLI options
        self.cache: dict = {}  # object -> raw score (a vector oracle: its objective vector)
        self.extras: dict[str, str] = {}  # object -> what the oracle made beside the score (a pose), newest kept
        self.errors: dict[str, str] = {}  # object -> why it is invalid
        self.store = None
        # reading a finished run (sample, evaluate): a store that cannot take new rows (a full disk)
        # is still read, and the scores it could not keep are only lost for later runs
        self.store_writes_optional = False
        self._executor = None
        self.calls = 0  # objects actually evaluated (neither in memory nor in the store)
        self.store_hits = 0

    @property
    def settings_hash(self) -> str:
        return hashlib.sha256(f"{self.name}\0{self.version}".encode()).hexdigest()[:16]

    @property
    def code_version(self) -> str:
        return code_identity(self.fn)

    def configure(self, settings: OracleSettings) -> None:
        from .store import ScoreStore

        self.close()
        self.settings, self.configured = settings.validate(), True
        if settings.workers is not None:
            self.workers = settings.workers
        if settings.store is not None:
            self.store = ScoreStore(settings.store, self.name, self.settings_hash, self.code_version,
                                    any_code=settings.reuse_across_versions)

    # -- executors -------------------------------------------------------------------------
    def _kind(self, n: int) -> str:
        kind = self.settings.executor
        if kind == "auto":
            small = not self.configured and (self.workers <= 1 or n < self.min_parallel)
            kind = "local" if small else "process"
        if kind == "process" and mp.current_process().daemon:
            kind = "local"  # a daemonic process (a multiprocessing.Pool worker) may not start children
        return kind

    def executor_for(self, n: int):
        kind = self._kind(n)
        if kind == "local":
            return make_executor(self.fn, "local", 1, self.settings)
        if self._executor is None:
            self._executor = make_executor(self.fn, kind, self.workers, self.settings)
        return self._executor

    # -- scoring ---------------------------------------------------------------------------
    def _usable(self, out: Outcome) -> bool:
        return out.ok or out.invalid or self.settings.on_error == "invalid"

    def _value_error(self, value) -> str | None:
        return value_error(value, self.allow_negative)

    def _normalized(self, value):
        """A checked value as the store keeps it: a number (a vector oracle: a tuple)."""
        return float(value[0]) if isinstance(value, tuple) else float(value)

    def _keep_extra(self, obj: str, out: Outcome) -> None:
        if out.ok and out.extra is not None:
            self.extras[obj] = out.extra
            while len(self.extras) > MAX_EXTRAS:  # the store keeps them all; memory only the newest
                del self.extras[next(iter(self.extras))]

    def extras_of(self, objects: Sequence[str]) -> dict[str, str]:
        """What the oracle made beside the scores of those objects that have it (a docking oracle:
        the best pose as an SD mol block): from memory, else from the score store."""
        out = {o: self.extras[o] for o in objects if o in self.extras}
        rest = [o for o in dict.fromkeys(objects) if o not in out]
        if rest and self.store is not None:
            out.update({o: r.extra for o, r in self.store.get(rest).items() if r.ok and r.extra is not None})
        return out

    def _remember(self, obj: str, out: Outcome) -> None:
        self._keep_extra(obj, out)
        if out.ok:
            self.cache[obj] = float(out.value[0] if isinstance(out.value, tuple) else out.value)
        else:
            self.cache[obj] = self.invalid_value
            self.errors[obj] = out.error or "failed"

    def _evaluate(self, todo: list[str]) -> None:
        failures: list[tuple[str, Outcome]] = []

        def on_result(idx: list[int], outs: list[Outcome]) -> None:
            keep = []
            for i, out in zip(idx, outs, strict=True):
                if out.ok and (why := self._value_error(out.value)):
                    out = Outcome(out.value, why, out.wall_s)  # keep the value for the message
                    out = replace(out, value=None) if self.settings.on_error == "invalid" else out
                elif out.ok:
                    out = replace(out, value=self._normalized(out.value))
                if self._usable(out):
                    keep.append((todo[i], out))
                    self._remember(todo[i], out)
                else:
                    failures.append((todo[i], out))
            if self.store is not None:
                self._store(keep)

        self.executor_for(len(todo)).map(todo, on_result)
        self.calls += len(todo)
        if failures:
            self._raise(failures)

    def _store(self, keep: list) -> None:
        from .store import ScoreStoreError

        try:
            self.store.put(keep)
        except ScoreStoreError as e:
            if not self.store_writes_optional:
                raise
            import warnings

            warnings.warn(f"{e}; new scores are not stored", stacklevel=2)
            self.store_writes_optional = False
            self.store = None

    def _raise(self, failures: list[tuple[str, Outcome]]) -> None:
        if all(out.value is not None and not isinstance(out.value, tuple) for _, out in failures):
            # only bad values: the classic message
            check_scores(self.name, [o for o, _ in failures], [out.value for _, out in failures],
                         self.allow_negative)
        shown = "; ".join(f"{o!r}: {out.error}" for o, out in failures[:3])
        more = f" (and {len(failures) - 3} more)" if len(failures) > 3 else ""
        raise OracleError(f"oracle {self.name!r} failed on {len(failures)} object(s): {shown}{more}. Fix the "
                          "oracle, or pass --on-oracle-error invalid to give such objects the floor reward")

    def __call__(self, objects: list[str]) -> np.ndarray:
        self._ensure(objects)
        return np.array([self.cache[o] for o in objects], dtype=np.float64)

    def _ensure(self, objects: list[str]) -> None:
        """Every object in ``self.cache``: from memory, the store, or a new oracle call."""
        todo = list(dict.fromkeys(o for o in objects if o not in self.cache))
        if todo and len(self.cache) + len(todo) > self.max_cache:
            self.cache.clear()
            self.extras.clear()
            self.errors.clear()
        if todo and self.store is not None:
            found = self.store.get(todo)
            hits = [o for o in todo if o in found and self._usable(found[o])
                    and not (found[o].ok and self._value_error(found[o].value))]
            for o in hits:
                self._remember(o, found[o])
            self.store_hits += len(hits)
            todo = [o for o in todo if o not in set(hits)]
        if todo:
            self._evaluate(todo)

    def invalid_objects(self, objects: Sequence[str]) -> dict[str, str]:
        """Those of ``objects`` this oracle marked invalid (an ``Invalid`` outcome, or a failure kept
        with --on-oracle-error invalid), with the reason: from memory, else from the score store."""
        out = {o: self.errors[o] for o in objects if o in self.errors}
        rest = [o for o in objects if o not in self.cache]  # forgotten (the cache was full) or never seen here
        if rest and self.store is not None:
            out.update({o: r.error or "failed" for o, r in self.store.get(rest).items() if not r.ok})
        return out

    def counts(self) -> dict[str, int]:
        return {"oracle_calls": self.calls, "store_hits": self.store_hits}

    def close(self) -> None:
        """Stop every worker (a later call starts new ones); the store stays open."""
        if self._executor is not None:
            ex, self._executor = self._executor, None
            ex.close()


class CachedVectorOracle(CachedOracle):
    """A multi-objective oracle through the same memo, store, executors and error policy: ``fn``
    returns one vector of k objectives per object. ``vectors(objs)`` gives the (n, k) objective
    vectors (NaN for an object that failed or is invalid), ``__call__`` the weighted-sum raw
    scores of ``scoring`` (``molgfn.moo.WeightedSum``), the floor for a failed or invalid object.
    The store keeps the vectors (its key has k, not the weights: reweighting reuses them)."""

    def __init__(self, name: str, fn: Callable, scoring, workers: int | None = None, **kw) -> None:
        super().__init__(name, fn, allow_negative=True, workers=workers, **kw)
        self.scoring = scoring
        self.k = len(scoring.components)

    @property
    def settings_hash(self) -> str:
        return hashlib.sha256(f"{self.name}\0{self.version}\0vector:{self.k}".encode()).hexdigest()[:16]

    def _value_error(self, value) -> str | None:
        from .contract import vector_error

        return vector_error(value, self.k)

    def _normalized(self, value):
        return tuple(value) if isinstance(value, tuple) else (float(value),)

    def _remember(self, obj: str, out: Outcome) -> None:
        self._keep_extra(obj, out)
        if out.ok:
            vec = out.value if isinstance(out.value, tuple) else (out.value,)
            self.cache[obj] = np.asarray(vec, dtype=np.float64)
        else:
            self.cache[obj] = np.full(self.k, np.nan)
            self.errors[obj] = out.error or "failed"

    def vectors(self, objects) -> np.ndarray:
        objects = list(objects)
        self._ensure(objects)
        return np.array([self.cache[o] for o in objects], dtype=np.float64).reshape(len(objects), self.k)

    def __call__(self, objects) -> np.ndarray:
        objects = list(objects)
        Y = self.vectors(objects)
        failed = np.array([o in self.errors for o in objects], dtype=bool)
        raw = self.scoring(np.where(failed[:, None], 0.0, Y)) if len(objects) else np.zeros(0)
        return np.where(failed, self.invalid_value, raw)


# -- tasks hold their oracles as attributes: configure and count them from outside ------------
def task_oracles(task) -> list[CachedOracle]:
    return [v for v in vars(task).values() if isinstance(v, CachedOracle)]


def invalid_objects(task, objects: Sequence[str]) -> dict[str, str]:
    """The objects any oracle of ``task`` marked invalid, with the reason: never candidates. Every
    attribute of the task with an ``invalid_objects(objects)`` method is asked (``CachedOracle``s)."""
    bad: dict[str, str] = {}
    for v in list(vars(task).values()):
        ask = getattr(v, "invalid_objects", None)
        if callable(ask) and not isinstance(v, type):
            bad.update(ask(objects))
    return bad


def configure_task(task, settings: OracleSettings) -> bool:
    """Apply executor and store settings to every ``CachedOracle`` of a task; False if it has none
    (a table look-up or an in-process model needs neither)."""
    oracles = task_oracles(task)
    for o in oracles:
        o.invalid_value = getattr(task, "raw_floor", o.invalid_value)  # invalid objects: the floor reward
        o.configure(settings)
    return bool(oracles)


def settings_record(task, run_dir: Path | None = None) -> dict | None:
    """The executor and store settings a task's oracles run with, for config.json, so that a
    resumed run scores the same way into the same store; None without a configured oracle. The
    run's own store (RUN/scores.sqlite) is recorded as None: a moved run folder still finds it."""
    from dataclasses import asdict

    from .store import STORE_FILE

    oracles = [o for o in task_oracles(task) if o.configured]
    if not oracles:
        return None
    rec = asdict(oracles[0].settings)  # configure_task gives every oracle of a task the same settings
    store = rec["store"]
    if store is not None:
        own = run_dir is not None and Path(store).resolve() == (Path(run_dir) / STORE_FILE).resolve()
        rec["store"] = None if own else str(Path(store).resolve())
    return rec


def oracle_counts(task) -> dict[str, int]:
    """New oracle calls and store hits since start, for tasks whose oracle has a score store."""
    total: dict[str, int] = {}
    for o in task_oracles(task):
        if o.store is not None:
            for k, v in o.counts().items():
                total[k] = total.get(k, 0) + v
    return total
