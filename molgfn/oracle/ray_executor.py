"""Oracle calls on Ray (optional extra ``molgfn[ray]``): one actor per worker slot.

The oracle function is put in Ray's object store once and held by each actor, so a chunk
ships only its objects. Local runs start a private Ray instance with ``workers`` CPUs;
``--ray-address auto`` or ``HOST:PORT`` joins an existing cluster (``ray start --head``),
``ray://HOST:PORT`` goes through Ray Client. Scheduling, timeouts, retries and replacing a
dead actor are the process pool's (``executors.schedule``); ``close`` kills every actor (and
with it any running chunk) and shuts down a Ray instance this executor started.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable

from ..errors import InputError, OracleError
from .contract import Outcome, run_chunk
from .executors import OnResult, check_workers, clamp_wait, schedule

INSTALL = 'pip install "molgfn[ray]"'


def _import_ray():
    try:
        import ray
    except ImportError:
        raise InputError(f"--executor ray needs Ray, which is not installed: {INSTALL}") from None
    return ray


def check_address(address: str) -> None:
    """Fail fast (Ray itself waits a minute or more) when HOST:PORT does not answer."""
    if address == "auto":
        return
    hostport = address.removeprefix("ray://")
    host, sep, port = hostport.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise InputError(f"--ray-address must be auto, HOST:PORT or ray://HOST:PORT, got {address!r}")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as e:
        raise InputError(f"cannot reach a Ray cluster at {address} ({e}); start one with `ray start --head` "
                         "or check --ray-address") from None


def preflight(address: str | None) -> None:
    """Ray installed, and the cluster (if one is named) answering: checked before a run starts."""
    _import_ray()
    if address:
        check_address(address)


class _Actor:
    def __init__(self, fn: Callable) -> None:
        import os
        import sys

        sys.stdout.flush()
        os.dup2(2, 1)  # an oracle's prints go to the worker's stderr log, never to a data stream
        sys.stdout = sys.stderr
        self.fn = fn

    def ready(self) -> bool:
        return True

    def run(self, objs: list[str]) -> list[Outcome]:
        return run_chunk(self.fn, objs)


class RayExecutor:
    kind = "ray"

    def __init__(self, fn: Callable, workers: int = 1, chunk_size: int | None = None, timeout: float | None = None,
                 retries: int = 0, ray_address: str | None = None, **_) -> None:
        ray = self.ray = _import_ray()
        self.workers, self.chunk_size = check_workers(workers), chunk_size
        self.timeout, self.retries = timeout, int(retries)
        self.started = False
        if not ray.is_initialized():
            if ray_address:
                check_address(ray_address)
            try:
                if ray_address:
                    ray.init(address=ray_address, log_to_driver=True)
                else:
                    ray.init(num_cpus=self.workers, include_dashboard=False, log_to_driver=True)
            except ConnectionError as e:
                raise InputError(f"cannot connect to Ray at {ray_address}: {e}") from None
            self.started = True
        self.fn_ref = ray.put(fn)
        self.actor_cls = ray.remote(num_cpus=1, max_restarts=0)(_Actor)
        self.actors: dict[int, object] = {}
        self.refs: dict[int, object] = {}

    @property
    def slots(self) -> list[int]:
        return list(range(self.workers))

    def submit(self, slot: int, objs: list[str]) -> None:
        if slot not in self.actors:
            actor = self.actors[slot] = self.actor_cls.remote(self.fn_ref)
            # a new actor takes seconds to start: that must not count against the chunk's timeout
            self.ray.get(actor.ready.remote())
        self.refs[slot] = self.actors[slot].run.remote(objs)

    def wait(self, slots: list[int], timeout: float | None) -> list[int]:
        by_ref = {self.refs[s]: s for s in slots}
        ready, _ = self.ray.wait(list(by_ref), num_returns=1, timeout=clamp_wait(timeout))
        return [by_ref[r] for r in ready]

    def fetch(self, slot: int) -> list[Outcome] | str:
        ref = self.refs.pop(slot)
        try:
            return self.ray.get(ref)
        except self.ray.exceptions.RayActorError as e:
            return f"Ray worker died ({type(e).__name__}: a crash, os._exit or out of memory)"
        except self.ray.exceptions.RayError as e:
            return f"Ray task failed: {str(e).splitlines()[0] if str(e) else type(e).__name__}"

    def restart(self, slot: int) -> None:
        ref = self.refs.pop(slot, None)
        if ref is not None:  # an actor task is stopped by killing its actor (force-cancel is for tasks)
            with contextlib.suppress(Exception):
                self.ray.cancel(ref)
        actor = self.actors.pop(slot, None)
        if actor is not None:
            self.ray.kill(actor, no_restart=True)

    def map(self, objects: list[str], on_result: OnResult) -> None:
        try:
            schedule(self, objects, self.chunk_size, self.timeout, self.retries, on_result)
        except OracleError:
            raise
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        for slot in list(self.actors):
            try:
                self.restart(slot)
            except Exception:  # Ray already shut down: nothing left to stop
                pass
        if self.started and self.ray.is_initialized():
            self.ray.shutdown()
            self.started = False
