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
from .executors import OnResult, _live, check_workers, clamp_wait, schedule

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


# the sweeper: a small process that outlives the driver. When the driver dies (kill -9
# included: the kernel tells it, PR_SET_PDEATHSIG) or asks (SIGUSR1), it kills every process of
# this user that carries the driver's mark in its environment: all the local Ray instance started
# (GCS, raylet, dashboard and runtime-env agents, workers) and what their oracles started.
_SWEEPER = r"""
import ctypes, os, signal, sys, time
driver, var, mark = int(sys.argv[1]), sys.argv[2], sys.argv[3].encode()
signal.signal(signal.SIGINT, signal.SIG_IGN)
def is_marked(pid):
    try:
        if os.stat("/proc/%d" % pid).st_uid != os.getuid():
            return False
        with open("/proc/%d/environ" % pid, "rb") as f:
            return var.encode() + b"=" + mark in f.read()
    except OSError:
        return False
def marked():
    return [int(n) for n in os.listdir("/proc") if n.isdigit() and int(n) not in (os.getpid(), driver)
            and is_marked(int(n))]
def stat(pid):
    try:
        f = open("/proc/%d/stat" % pid).read().rpartition(")")[2].split()
        return int(f[1]), f[19]  # parent, start time
    except (OSError, ValueError, IndexError):
        return None
known = {}  # Ray's processes and their descendants (pid -> start time), seen every second: a mark may be
# unreadable when it matters (a process renaming itself can overwrite its environment block)
def look():
    procs = {int(n): stat(int(n)) for n in os.listdir("/proc") if n.isdigit()}
    todo = [p for p, st in procs.items() if st is not None and st[0] == driver and is_marked(p)]
    found = {p: procs[p][1] for p in todo}
    while todo:
        cur = todo.pop()
        for pid, st in procs.items():
            if st is not None and st[0] == cur and pid not in found and pid != os.getpid():
                found[pid] = st[1]
                todo.append(pid)
    known.update(found)
def sweep(*_):
    signal.signal(signal.SIGUSR1, signal.SIG_IGN)
    if os.getppid() == driver:  # asked by a live driver (ray.shutdown done): the marked processes only
        known.clear()
    quiet, deadline = 0, time.monotonic() + 10
    while quiet < 3 and time.monotonic() < deadline:  # Ray may start a process while we look: look again
        pids = list(marked()) + [p for p, t in known.items() if (stat(p) or (0, None))[1] == t]
        known.clear()
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        quiet = 0 if pids else quiet + 1
        time.sleep(0.2)
    os._exit(0)
signal.signal(signal.SIGUSR1, sweep)
signal.signal(signal.SIGTERM, sweep)
try:
    ctypes.CDLL(None).prctl(1, int(signal.SIGUSR1), 0, 0, 0)  # PR_SET_PDEATHSIG
except (OSError, AttributeError):
    pass
sys.stdout.write("ready\n")
sys.stdout.flush()
while os.getppid() == driver:  # without a parent-death signal: notice the driver is gone
    look()
    time.sleep(1.0)
sweep()
"""
MARK_VAR = "MOLGFN_RAY_OWNER"


class _Sweeper:
    def __init__(self) -> None:
        import os
        import subprocess
        import sys
        import uuid

        self.mark = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self.proc = None
        if not sys.platform.startswith("linux"):  # /proc/PID/environ: Linux
            return
        env = {k: v for k, v in os.environ.items() if k != MARK_VAR}
        try:
            self.proc = subprocess.Popen([sys.executable, "-c", _SWEEPER, str(os.getpid()), MARK_VAR, self.mark],
                                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, env=env)
            self.proc.stdout.readline()  # its parent-death signal is set: Ray may start
        except OSError:
            self.proc = None

    @contextlib.contextmanager
    def marking(self):
        """Processes started meanwhile (Ray's) carry the mark in their environment."""
        import os

        os.environ[MARK_VAR] = self.mark
        try:
            yield
        finally:
            os.environ.pop(MARK_VAR, None)

    def sweep(self) -> None:
        import signal

        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        with contextlib.suppress(OSError):
            proc.send_signal(signal.SIGUSR1)
        try:
            proc.wait(10)
        except Exception:
            proc.kill()
            proc.wait()
        with contextlib.suppress(OSError):
            proc.stdout.close()


@contextlib.contextmanager
def _keep_signal_handlers():
    """``ray.init`` replaces the driver's SIGTERM handler twice (Python: ``sys.exit(15)``; its C++
    core: log and abort, exit 134): put back the one molgfn set (training checkpoints and exits 143)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for s, h in saved.items():
            signal.signal(s, h if h is not None else signal.SIG_DFL)


class _Actor:
    def __init__(self, fn: Callable) -> None:
        import os
        import sys

        from .executors import lead_process_group

        sys.stdout.flush()
        os.dup2(2, 1)  # an oracle's prints go to the worker's stderr log, never to a data stream
        sys.stdout = sys.stderr
        lead_process_group()  # the oracle's own processes die with this actor, however it dies
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
        self.started, self.sweeper = False, None
        if not ray.is_initialized():
            if ray_address:
                check_address(ray_address)
            self.sweeper = None if ray_address else _Sweeper()
            with _keep_signal_handlers(), (self.sweeper.marking() if self.sweeper else contextlib.nullcontext()):
                try:
                    if ray_address:
                        ray.init(address=ray_address, log_to_driver=True)
                    else:
                        ray.init(num_cpus=self.workers, include_dashboard=False, log_to_driver=True)
                except ConnectionError as e:
                    raise InputError(f"cannot connect to Ray at {ray_address}: {e}") from None
                except BaseException:
                    if self.sweeper is not None:
                        self.sweeper.sweep()
                    raise
            self.started = True
            _live.add(self)
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
            with contextlib.suppress(Exception):
                self.ray.shutdown()
            self.started = False
        if self.sweeper is not None:  # what Ray's shutdown left running (its agents do outlive it)
            self.sweeper.sweep()
            self.sweeper = None
