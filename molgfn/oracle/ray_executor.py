"""Oracle calls on Ray (optional extra ``molgfn[ray]``): one actor per worker slot.

The oracle function is put in Ray's object store once and held by each actor, so a chunk
ships only its objects. Local runs start a private Ray instance with ``workers`` CPUs (its sessions,
logs and sockets in a temp dir of its own, removed on close);
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


# the sweeper: a small process that outlives the driver. When the driver dies (kill -9 included)
# or asks (SIGUSR1, after ray.shutdown), it kills every process of the local Ray instance this
# driver started (GCS, raylet, dashboard and runtime-env agents, workers) and what their oracles
# started, then removes Ray's private temp dir. Which processes those are, Ray's renaming cannot
# hide: setproctitle zeroes a process's environment block (the MARK_VAR mark is then unreadable:
# the agents and workers rename themselves a few seconds after they start), so a process is ours
# when it carries the mark, or has a file under the private temp dir open for writing (Ray's
# logs; inherited by every child), or descends from one of those (seen now, or recorded every
# second while the driver lived). Another Ray instance or molgfn run has another dir and mark.
# The kernel's parent-death signal comes when the *thread* that started the sweeper ends, which
# on kill -9 of a multithreaded driver can be before the process is gone, and otherwise also
# when that thread merely ends: it only wakes the sweeper, which sweeps once the driver is dead.
_SWEEPER = r"""
import ctypes, os, shutil, signal, sys, time
driver, born, var, mark, tmp = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
me, uid, tag = os.getpid(), os.getuid(), (var + "=" + mark).encode()
for s in (signal.SIGINT, signal.SIGHUP):
    signal.signal(s, signal.SIG_IGN)
ASK, WAKE = {signal.SIGUSR1, signal.SIGTERM}, {signal.SIGUSR2}
signal.pthread_sigmask(signal.SIG_BLOCK, ASK | WAKE)  # taken with sigtimedwait
def stat(pid):  # (parent, start time, state)
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rpartition(")")[2].split()
        return int(fields[1]), fields[19], fields[0]
    except (OSError, ValueError, IndexError):
        return None
def table():  # every live process but this one and the driver
    procs = {}
    for n in os.listdir("/proc"):
        if n.isdigit() and int(n) not in (me, driver):
            st = stat(int(n))
            if st is not None and st[2] not in ("Z", "X"):
                procs[int(n)] = st
    return procs
def writes_under_tmp(pid):
    if not tmp:
        return False
    fds = "/proc/%d/fd/" % pid
    try:
        names = os.listdir(fds)
    except OSError:
        return False
    for fd in names:
        try:
            if not os.readlink(fds + fd).startswith(tmp + "/"):
                continue
            with open("/proc/%d/fdinfo/%s" % (pid, fd)) as f:
                flags = int(f.read().split("flags:")[1].split()[0], 8)
        except (OSError, ValueError, IndexError):
            continue
        if flags & 3:  # O_WRONLY or O_RDWR: a reader of Ray's logs (tail -f) is not Ray's
            return True
    return False
def marked(pid):
    try:
        if os.stat("/proc/%d" % pid).st_uid != uid:
            return False
        with open("/proc/%d/environ" % pid, "rb") as f:
            return tag in f.read().split(b"\0")
    except OSError:
        return False
def below_driver(pid, procs):  # the driver's child that pid descends from, or None
    seen = set()
    while pid in procs and pid not in seen:
        seen.add(pid)
        if procs[pid][0] == driver:
            return pid
        pid = procs[pid][0]
    return None
def ours(pid, procs, alive):
    if known.get(pid) == procs[pid][1] or marked(pid):
        return True
    if not writes_under_tmp(pid):
        return False
    top = below_driver(pid, procs) if alive else None
    # a process the live driver forked after Ray started (a process pool) inherits Ray's log files too
    return top is None or known.get(top) == procs[top][1] or marked(top)
def tree(roots, procs):  # the roots and all their descendants
    kids = {}
    for pid, st in procs.items():
        kids.setdefault(st[0], []).append(pid)
    found, todo = set(roots), list(roots)
    while todo:
        for pid in kids.get(todo.pop(), ()):
            if pid not in found:
                found.add(pid)
                todo.append(pid)
    return found
known = {}  # pid -> start time: Ray's processes and their descendants, while the driver lived
def look():
    procs = table()
    for pid in [p for p in known if p not in procs or procs[p][1] != known[p]]:
        del known[pid]
    roots = [p for p, st in procs.items() if st[0] == driver and marked(p)]
    known.update((p, procs[p][1]) for p in tree(roots, procs))
def driver_alive():
    st = stat(driver)
    return st is not None and st[1] == born and st[2] not in ("Z", "X")
def kill(pids, sig):
    for pid in pids:
        try:
            os.kill(pid, sig)
        except OSError:
            pass
def sweep():
    alive = driver_alive()
    quiet, deadline = 0, time.monotonic() + 8
    while quiet < 3 and time.monotonic() < deadline:  # Ray may start a process while we look: look again
        procs = table()
        pids = tree([p for p in procs if ours(p, procs, alive)], procs)
        kill(pids, signal.SIGSTOP)  # none of them starts another process meanwhile
        procs = table()
        pids = tree([p for p in pids if p in procs], procs)
        kill(pids, signal.SIGKILL)
        known.clear()
        quiet = 0 if pids else quiet + 1
        time.sleep(0.1)
    if tmp and os.path.basename(tmp).startswith("molgfn-ray-"):  # the dir the driver made for this Ray
        shutil.rmtree(tmp, ignore_errors=True)
    os._exit(0)
try:
    ctypes.CDLL(None).prctl(1, int(signal.SIGUSR2), 0, 0, 0)  # PR_SET_PDEATHSIG
except (OSError, AttributeError):
    pass
sys.stdout.write("ready\n")
sys.stdout.flush()
pause = 1.0
while driver_alive():
    look()
    got = signal.sigtimedwait(ASK | WAKE, pause)
    if got is not None and got.si_signo in ASK:
        break
    # woken: the driver is dying (look every 50 ms until it is gone) or one of its threads ended
    pause = 0.05 if got is not None else min(1.0, pause * 2)
sweep()
"""
MARK_VAR = "MOLGFN_RAY_OWNER"
# Ray's longest socket path is TEMP/session_<date>_<time>_<usec>_<pid>/sockets/plasma_store, at most 64
# characters after TEMP; a Unix socket path has 107: TEMP = BASE/molgfn-ray-XXXXXXXX fits when BASE has 23
_MAX_BASE = 23


def _private_temp_dir() -> str | None:
    """A new directory for one local Ray instance (its sessions, logs and sockets); None if none can be made."""
    import os
    import tempfile

    for base in (os.environ.get("RAY_TMPDIR"), "/tmp"):
        if base and len(os.path.abspath(base)) <= _MAX_BASE:
            try:
                return tempfile.mkdtemp(prefix="molgfn-ray-", dir=os.path.abspath(base))
            except OSError:
                continue
    return None


def _start_time(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rpartition(")")[2].split()[19]


class _Sweeper:
    def __init__(self) -> None:
        import os
        import shutil
        import subprocess
        import sys
        import uuid

        self.mark = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self.proc = None
        self.temp_dir = None
        if not sys.platform.startswith("linux"):  # /proc: Linux
            return
        env = {k: v for k, v in os.environ.items() if k != MARK_VAR}
        temp_dir = _private_temp_dir()
        try:
            self.proc = subprocess.Popen([sys.executable, "-c", _SWEEPER, str(os.getpid()), _start_time(os.getpid()),
                                          MARK_VAR, self.mark, temp_dir or ""],
                                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, env=env,
                                         start_new_session=True)  # the terminal's signals are the driver's
            self.proc.stdout.readline()  # its parent-death signal is set: Ray may start
            self.temp_dir = temp_dir
        except OSError:
            self.proc = None
            if temp_dir:
                shutil.rmtree(temp_dir, ignore_errors=True)

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
        import shutil
        import signal

        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        with contextlib.suppress(OSError):
            proc.send_signal(signal.SIGUSR1)
        try:
            proc.wait(15)
        except Exception:
            proc.kill()
            proc.wait()
        with contextlib.suppress(OSError):
            proc.stdout.close()
        if self.temp_dir:  # the sweeper removes it; not if it was killed first
            shutil.rmtree(self.temp_dir, ignore_errors=True)
            self.temp_dir = None


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
                        private = {"_temp_dir": self.sweeper.temp_dir} if self.sweeper.temp_dir else {}
                        ray.init(num_cpus=self.workers, include_dashboard=False, log_to_driver=True, **private)
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
