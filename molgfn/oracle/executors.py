"""Executors: where oracle calls run. In-process (``local``), a process pool (``process``), Ray (``ray``).

Every executor maps a batch of objects to one ``Outcome`` per object and hands results to
``on_result`` chunk by chunk as they arrive (so the driver can store them at once). The
oracle function is given to the executor once, when it is built: process workers inherit it
by fork (or receive it once when spawned); Ray actors hold it as actor state.

The process pool and Ray share one scheduler (``schedule``). A chunk is one oracle call;
a chunk whose worker dies (segfault, ``os._exit``, OOM kill) or runs past ``timeout`` x its
length is killed, the worker replaced, and the chunk split into single objects, so the next
failure names exactly one object. A failed object is retried up to ``retries`` times, then
reported with its error. Worker stdout goes to stderr: an oracle's prints never reach a data
stream written to stdout.

No process outlives molgfn. A process worker (and a Ray actor) leads its own process group, so
the processes an oracle starts (``subprocess.Popen``, a shell pipeline) are in it, and stopping a
worker kills the whole group. A tiny watchdog in each group, told by the kernel when its worker
dies however it dies (``PR_SET_PDEATHSIG``; the worker itself dies with the driver, even by
kill -9), kills the rest of the group. In-process (``local``), the processes an oracle started
are stopped when molgfn exits (not on kill -9: nothing runs then). What no one can stop: a
process that leaves the group itself (``setsid``, a daemon) -- it is the oracle's to manage.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import sys
import time
import weakref
from collections import deque
from collections.abc import Callable

from ..errors import OracleError
from .contract import OracleTimedOut, Outcome, run_chunk

OnResult = Callable[[list[int], list[Outcome]], None]
STARTUP_TIMEOUT_S = 300.0
# the longest single wait: the scheduler wakes up at least this often and re-reads its deadlines, so no
# wait call ever sees a timeout it cannot hold (poll() takes milliseconds in a C int: 24.8 days)
MAX_WAIT_S = 60.0


def clamp_wait(seconds: float | None) -> float | None:
    """A wait's timeout within [0, MAX_WAIT_S] (None: wait without a deadline, also at most MAX_WAIT_S)."""
    if seconds is None:
        return MAX_WAIT_S
    return min(max(0.0, float(seconds)), MAX_WAIT_S)


def check_workers(workers) -> int:
    """The one check of a worker count, whichever way it was given (--workers, --task-option workers=,
    a TOML config, the library): a pool without workers would wait forever."""
    from ..errors import InputError

    try:
        n = int(workers)
        ok = n == workers and 1 <= n <= 4096
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok or isinstance(workers, bool):
        raise InputError(f"workers must be a whole number in [1, 4096], got {workers!r} (--workers, or "
                         "--task-option workers=N)")
    return n


def chunks_of(n: int, chunk_size: int | None, workers: int) -> list[list[int]]:
    # default: one chunk (one oracle call) per worker and batch, the fewest calls
    size = chunk_size or max(1, -(-n // max(workers, 1)))
    return [list(range(i, min(i + size, n))) for i in range(0, n, size)]


@contextlib.contextmanager
def stdout_to_stderr():
    """Send fd 1 (Python and C-level prints) to stderr for the duration."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def _alarm_guard(fn: Callable, seconds: float | None) -> Callable:
    """``fn`` under an interval timer: a call on n objects raises ``OracleTimedOut`` after n x ``seconds``.

    Only in the main thread of a process whose own interval timer is free (a signal handler can only
    be set there, and a caller's timer is never clobbered); elsewhere ``fn`` runs unguarded. Python
    code and C code that checks for signals (``time.sleep``, I/O waits) stop at the deadline; a
    C loop that never returns to Python cannot be stopped in-process."""
    import threading

    usable = (seconds is not None and hasattr(signal, "setitimer")
              and threading.current_thread() is threading.main_thread())
    if not usable:
        return fn

    def guarded(objs: list[str]):
        if signal.getitimer(signal.ITIMER_REAL) != (0.0, 0.0):
            return fn(objs)

        def on_alarm(signum, frame):
            raise OracleTimedOut(f"timed out after {seconds:g} s (--oracle-timeout)")

        old = signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, seconds * max(len(objs), 1))
        try:
            return fn(objs)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)

    return guarded


class LocalExecutor:
    """In the driver process: no isolation. A hang ends at ``timeout`` x the chunk's length (an alarm,
    ``_alarm_guard``; the chunk is then retried object by object, as ``run_chunk`` does with any
    failure), but an oracle that kills its process (``os._exit``, segfault) takes the run with it: use
    the process pool for such oracles. ``KeyboardInterrupt`` is left to propagate: in-process it
    cannot be told from Ctrl-C."""

    kind = "local"
    workers = 1

    def __init__(self, fn: Callable, chunk_size: int | None = None, timeout: float | None = None, **_) -> None:
        self.fn, self.chunk_size = _alarm_guard(fn, timeout), chunk_size

    def map(self, objects: list[str], on_result: OnResult) -> None:
        for idx in chunks_of(len(objects), self.chunk_size or max(len(objects), 1), 1):
            before = child_pids()
            try:
                with stdout_to_stderr():
                    res = run_chunk(self.fn, [objects[i] for i in idx], catch=(Exception, SystemExit))
            finally:  # what the oracle started and left running: stopped when molgfn exits
                now = child_pids()
                _oracle_children.intersection_update(now)  # reaped ones go: their pids may be reused
                _oracle_children.update(now - before)
            on_result(idx, res)

    def close(self) -> None:
        pass


# -- processes: find, group, stop ----------------------------------------------------------
_oracle_children: set[int] = set()  # started by in-process oracle calls; stopped at exit


def child_pids(pid: int | None = None) -> set[int]:
    """The live child processes of ``pid`` (this process by default), from /proc (Linux)."""
    pid = os.getpid() if pid is None else pid
    kids: set[int] = set()
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                kids.update(int(c) for c in f.read().split())
        return kids
    except OSError:  # no /proc (macOS) or no children file: scan every process's parent
        return {c for c, pp in _parents().items() if pp == pid}


def _parents() -> dict[int, int]:
    out = {}
    with contextlib.suppress(OSError):
        for name in os.listdir("/proc"):
            if name.isdigit():
                try:
                    with open(f"/proc/{name}/stat") as f:
                        out[int(name)] = int(f.read().rpartition(")")[2].split()[1])
                except (OSError, ValueError, IndexError):
                    pass
    return out


def _descendants(pid: int) -> list[int]:
    parents = _parents()
    out, todo = [], [pid]
    while todo:
        cur = todo.pop()
        kids = [c for c, pp in parents.items() if pp == cur and c not in out]
        out.extend(kids)
        todo.extend(kids)
    return out


def stop_oracle_children(only: set[int] | None = None) -> None:
    """Kill what in-process oracle calls started and left running (their process trees, and the
    groups they lead), then reap them. Only processes that are still this process's children (and,
    with ``only``, among those pids)."""
    mine = child_pids() & _oracle_children
    if only is not None:
        mine &= only
    _oracle_children.difference_update(mine)
    for pid in mine:
        for p in [*_descendants(pid), pid]:
            with contextlib.suppress(OSError):
                os.kill(p, signal.SIGKILL)
        with contextlib.suppress(OSError):
            if os.getpgid(pid) == pid:
                os.killpg(pid, signal.SIGKILL)
    deadline = time.monotonic() + 2.0  # reap without blocking on a child stuck in the kernel
    for pid in mine:
        while True:
            try:  # ChildProcessError: the oracle's Popen reaped it already
                if os.waitpid(pid, os.WNOHANG)[0] or time.monotonic() > deadline:
                    break
            except OSError:
                break
            time.sleep(0.01)


def started() -> tuple[set, set[int]]:
    """The live executors and recorded oracle children now (``close_started_since`` stops what came after)."""
    return set(_live), set(_oracle_children)


def close_started_since(before: tuple[set, set[int]] | None) -> None:
    """Close the executors and stop the oracle children that appeared since ``started()`` returned
    ``before`` (None: everything): a command stops what it started, not its caller's."""
    old_live, old_kids = before if before is not None else (set(), set())
    for ex in [e for e in list(_live) if e not in old_live]:
        with contextlib.suppress(Exception):
            ex.close()
    stop_oracle_children(only=set(_oracle_children) - old_kids)


def _prctl_pdeathsig(sig: int) -> bool:
    if sys.platform != "linux":
        return False
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl(1, int(sig), 0, 0, 0) == 0  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return False


def _watchdog(leader: int) -> None:
    """The watchdog's life: when ``leader`` dies, however it dies, kill the group.

    Two processes, because Ray kills an actor's direct children (but not theirs) when it stops
    the actor: a keeper (the leader's child, dies with it) and the watchdog (the keeper's child),
    told by the kernel when the keeper dies."""
    try:
        os.closerange(3, 65536)  # hold none of the worker's pipes or the run's lock
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        if not (_prctl_pdeathsig(signal.SIGKILL) and os.getppid() == leader):
            os.killpg(os.getpgrp(), signal.SIGKILL)  # no parent-death signal, or the leader died already
        keeper = os.getpid()
        if os.fork() != 0:
            while True:  # the keeper: waits to die with the leader
                signal.pause()
        signal.signal(signal.SIGUSR1, lambda *_: _kill_group_but(leader))
        if _prctl_pdeathsig(signal.SIGUSR1) and os.getppid() == keeper:
            while True:
                signal.pause()
        _kill_group_but(leader)
    finally:
        os._exit(0)


def _kill_group_but(leader: int) -> None:
    """Kill every process of this group but its leader, and then this one. The leader is dead, or
    dying on its own terms (a Ray actor stopping kills its direct children, the keeper among them,
    first): killing it too would make Ray report an unexpected worker death."""
    group, me = os.getpgrp(), os.getpid()
    for _ in range(5):  # a process may fork while we look: look again
        found = False
        with contextlib.suppress(OSError):
            for name in os.listdir("/proc"):
                if not name.isdigit() or int(name) in (leader, me):
                    continue
                try:
                    with open(f"/proc/{name}/stat") as f:
                        if int(f.read().rpartition(")")[2].split()[2]) != group:
                            continue
                    os.kill(int(name), signal.SIGKILL)
                    found = True
                except (OSError, ValueError, IndexError):
                    pass
        if not found:
            break
    os._exit(0)


def lead_process_group() -> None:
    """Make this process (an oracle worker) the leader of a new process group, which the processes
    its oracle starts join, and start the group's watchdog (see the module docstring)."""
    if not hasattr(os, "setpgid"):
        return
    try:
        os.setpgid(0, 0)
    except OSError:  # a session leader (a Ray worker may be one) already leads its group
        if os.getpgrp() != os.getpid():
            return
    if sys.platform != "linux":  # the watchdog needs the parent-death signal
        return
    leader = os.getpid()
    sys.stdout.flush()
    sys.stderr.flush()
    if os.fork() == 0:
        _watchdog(leader)


def kill_process_group(pid: int) -> None:
    """Kill the group a worker leads (its oracle's processes and its watchdog with it)."""
    with contextlib.suppress(OSError):
        if os.getpgid(pid) != pid:  # not (yet) a group leader: the process alone
            os.kill(pid, signal.SIGKILL)
            return
    with contextlib.suppress(OSError):
        os.killpg(pid, signal.SIGKILL)


_live: weakref.WeakSet = weakref.WeakSet()  # executors with workers: closed at exit, whatever the exit


@atexit.register
def close_all() -> None:
    """Close every live executor and stop the processes in-process oracle calls left running."""
    close_started_since(None)


def describe_death(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"worker died with signal {signal.Signals(-code).name}"
        except ValueError:
            return f"worker died with signal {-code}"
    return f"worker exited with code {code} (os._exit or a crash)"


def schedule(backend, objects: list[str], chunk_size: int | None, timeout: float | None, retries: int,
             on_result: OnResult) -> None:
    """Run ``objects`` over ``backend``'s worker slots; see the module docstring.

    ``backend`` provides ``slots`` (a list of slot ids), ``submit(slot, objs)``,
    ``wait(slots, timeout) -> ready slots``, ``fetch(slot) -> list[Outcome] | str`` (a str:
    the worker died, with why) and ``restart(slot)`` (kill and replace its worker).
    """
    if not backend.slots:
        raise OracleError("the oracle executor has no worker (workers must be >= 1)")
    queue: deque[tuple[list[int], int]] = deque((c, 0) for c in chunks_of(len(objects), chunk_size,
                                                                            len(backend.slots)))
    running: dict = {}  # slot -> (indices, attempt, deadline)

    def failed(idx: list[int], attempt: int, why: str) -> None:
        if len(idx) > 1:  # isolate: the culprit is one object of the chunk
            queue.extendleft(([i], attempt) for i in reversed(idx))
        elif attempt < retries:
            queue.appendleft((idx, attempt + 1))
        else:
            on_result(idx, [Outcome(None, why)])

    while queue or running:
        for slot in backend.slots:
            if slot not in running and queue:
                idx, attempt = queue.popleft()
                backend.submit(slot, [objects[i] for i in idx])
                deadline = time.monotonic() + timeout * len(idx) if timeout else None
                running[slot] = (idx, attempt, deadline)
        deadlines = [d for _, _, d in running.values() if d is not None]
        wait_s = clamp_wait(min(deadlines) - time.monotonic() if deadlines else None)
        for slot in backend.wait(list(running), wait_s):
            idx, attempt, _ = running.pop(slot)
            res = backend.fetch(slot)
            if isinstance(res, str):
                backend.restart(slot)
                failed(idx, attempt, res)
                continue
            if res and all(r.whole_call for r in res) and attempt < retries:
                queue.appendleft((idx, attempt + 1))  # a wrong number of values: the call failed, retry it whole
                continue
            retry = [k for k, r in enumerate(res) if not r.ok and not r.invalid and attempt < retries]
            done = [k for k in range(len(idx)) if k not in set(retry)]
            if done:
                on_result([idx[k] for k in done], [res[k] for k in done])
            queue.extendleft(([idx[k]], attempt + 1) for k in reversed(retry))
        now = time.monotonic()
        for slot, (idx, attempt, deadline) in list(running.items()):
            if deadline is not None and now >= deadline:
                del running[slot]
                backend.restart(slot)
                failed(idx, attempt, f"timed out after {timeout:g} s (--oracle-timeout)")


# -- the process pool ----------------------------------------------------------------------
def _set_parent_death_signal() -> None:
    """Linux: the worker is killed when the driver dies, even by kill -9 (no orphans)."""
    _prctl_pdeathsig(signal.SIGKILL)


def _worker_main(fn: Callable, conn, parent_end) -> None:
    if parent_end is not None:
        parent_end.close()
    _set_parent_death_signal()
    lead_process_group()
    # the driver's handlers (checkpoint on SIGTERM, Ctrl-C) are not the worker's business: the
    # driver stops its workers itself
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.stdout.flush()
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    conn.send("ready")
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        conn.send(run_chunk(fn, msg))


THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


@contextlib.contextmanager
def _env(names: tuple[str, ...], value: str):
    """Set environment variables the user has not set, for the duration (a spawned child copies them)."""
    added = [n for n in names if n not in os.environ]
    os.environ.update({n: value for n in added})
    try:
        yield
    finally:
        for n in added:
            os.environ.pop(n, None)


class _Proc:
    def __init__(self, ctx, fn: Callable) -> None:
        parent, child = ctx.Pipe()
        fork = ctx.get_start_method() == "fork"
        self.proc = ctx.Process(target=_worker_main, args=(fn, child, parent if fork else None), daemon=True)
        sys.stdout.flush()
        sys.stderr.flush()
        with contextlib.ExitStack() as stack:
            if not fork:  # one worker, one core (as Ray does): thread pools read this when they load
                stack.enter_context(_env(THREAD_VARS, "1"))
            self.proc.start()
        child.close()
        self.conn = parent
        # a spawned worker imports the oracle's modules first (seconds): that must not count
        # against the first chunk's timeout, and a worker that cannot start is one clear error
        try:
            ready = parent.poll(STARTUP_TIMEOUT_S) and parent.recv() == "ready"
        except (EOFError, OSError):
            ready = False
        if not ready:
            self.kill()
            raise OracleError(f"an oracle worker process failed to start ({describe_death(self.proc.exitcode)}); "
                              "a script that drives molgfn needs an `if __name__ == \"__main__\":` guard, or use "
                              "--executor local")

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.close()
        if self.proc.pid is not None:  # the worker, its oracle's processes and its watchdog
            kill_process_group(self.proc.pid)
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(5)


class ProcessExecutor:
    """A pool of worker processes that survives its workers: one dies or hangs, it is replaced."""

    kind = "process"

    def __init__(self, fn: Callable, workers: int = 1, chunk_size: int | None = None, timeout: float | None = None,
                 retries: int = 0, **_) -> None:
        import multiprocessing as mp

        self.fn, self.workers, self.chunk_size = fn, check_workers(workers), chunk_size
        self.timeout, self.retries = timeout, int(retries)
        # fork on Linux: workers start in milliseconds, a user's script needs no
        # `if __name__ == "__main__"` guard, and the oracle is inherited, not pickled. An oracle
        # that runs OpenMP code says ``fork_safe = False``: a forked child of a process whose
        # OpenMP pool was running (torch and tblite share libgomp) waits forever at its first
        # parallel region, so it gets fresh (spawned) workers, sent the oracle once.
        fork = sys.platform == "linux" and getattr(fn, "fork_safe", True)
        self.ctx = mp.get_context("fork" if fork else "spawn")
        self.procs: dict[int, _Proc] = {}
        _live.add(self)

    # backend interface for ``schedule``
    @property
    def slots(self) -> list[int]:
        return list(range(self.workers))

    def _proc(self, slot: int) -> _Proc:
        p = self.procs.get(slot)
        if p is None or not p.proc.is_alive():
            if p is not None:
                p.kill()
            p = self.procs[slot] = _Proc(self.ctx, self.fn)
        return p

    def submit(self, slot: int, objs: list[str]) -> None:
        try:
            self._proc(slot).conn.send(objs)
        except (BrokenPipeError, OSError):  # died between chunks: its death is read by fetch
            pass

    def wait(self, slots: list[int], timeout: float | None) -> list[int]:
        from multiprocessing.connection import wait

        handles = {}
        for s in slots:
            p = self.procs[s]
            handles[p.conn] = s
            handles[p.proc.sentinel] = s
        ready = wait(list(handles), timeout)
        return list(dict.fromkeys(handles[h] for h in ready))

    def fetch(self, slot: int) -> list[Outcome] | str:
        p = self.procs[slot]
        try:
            if p.conn.poll():
                return p.conn.recv()
        except (EOFError, OSError):
            pass
        p.proc.join(5)
        return describe_death(p.proc.exitcode)

    def restart(self, slot: int) -> None:
        p = self.procs.pop(slot, None)
        if p is not None:
            p.kill()

    def map(self, objects: list[str], on_result: OnResult) -> None:
        try:
            schedule(self, objects, self.chunk_size, self.timeout, self.retries, on_result)
        except BaseException:
            self.close()  # a chunk may still be running: do not leave it to finish unseen
            raise

    def close(self) -> None:
        for slot in list(self.procs):
            self.restart(slot)
