"""The machinery of the fault-injection suite (tests/test_fault_injection.py).

Each case runs in a child forked from the test process (torch and the CLI already imported, so a
case costs milliseconds plus its own work, not a Python start-up): the child starts a new process
group and session, points fds 1 and 2 at a file, runs ``cli.app(argv)`` (or a library call) and
exits with its exit code. The parent runs a few children at a time and enforces a wall-clock
limit (an Interrupt first for the cases that may legitimately run long, then SIGKILL of the whole
process group: a "hang"). Every process a case starts carries an environment marker, so processes
left behind are found in /proc whoever their parent is now ("orphan"). Each case's folder is hashed
before and after, except the outputs the case may write ("lost file"). The output is searched for
tracebacks and "please report" messages, the exit code must be 0, 2, 130 or 143, and a successful
run's outputs are checked for sense ("silent wrong").

Signal cases need a real process tree (the signal must reach a real CLI at a random moment), so
they run ``python cli.py`` as a subprocess, under the same checks.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import hashlib
import io
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MARKER = "MOLGFN_FAULT_CASE"
OK_CODES = {0, 2, 130, 143}
SILENT_WRONG_EXIT = 97  # a library case that ran but returned something wrong
# finding classes, worst first (a case reports every class it shows)
CLASSES = ("hang", "orphan", "lost-file", "silent-wrong", "crash", "traceback", "unexpected", "wrong-exit",
           "misleading")
# the oracle blamed for what is the score store's, the disk's or a signal's doing
MISBLAMED = re.compile(r"oracle '[^']*' raised (OperationalError|DatabaseError|OSError|PermissionError)")


@dataclasses.dataclass
class Case:
    id: str
    group: str                      # options / oracle / api / runfiles / disk / signals
    owner: str                      # who fixes a finding: oracle / procs / files / bounds
    argv: list[str] | None = None   # CLI arguments; "{D}" is the case folder
    fn: Callable | None = None      # or a library call fn(case_dir) -> int exit code, run in the child
    setup: Callable | None = None   # setup(case_dir) before the run, in the parent
    outputs: tuple[str, ...] = ()   # paths (relative to the case folder, "dir/" = a whole folder) it may write
    check: Callable | None = None   # check(case_dir, result) -> list of "silent-wrong" details
    timeout: float = 20.0           # seconds before the process group is killed ("hang")
    interrupt_after: float | None = None  # long by design: SIGINT then, and a clean 130 is no finding
    ok_codes: frozenset = frozenset(OK_CODES)
    subprocess_argv: list[str] | None = None  # a real `python cli.py ...` (signal and Ray cases)
    driver: Callable | None = None  # driver(proc, case_dir) for subprocess cases: sends signals, may resume
    note: str = ""                  # why a finding cannot be fixed by design (kept in the table)
    bound: tuple[str, ...] = ()     # finding classes that are the documented behaviour (README: in-process oracles)
    fake_fs: dict | None = None     # {"dir": ..., "errno": ...}: the child's writes under dir fail with errno
    env: dict | None = None
    teardown: Callable | None = None  # teardown(case_dir) after the checks (unmount)

    def command(self) -> str:
        """The reproducing command, for the findings table."""
        if self.subprocess_argv is not None:
            return "python " + " ".join(_q(a) for a in self.subprocess_argv)
        if self.argv is not None:
            return "molgfn " + " ".join(_q(a) for a in self.argv)
        return f"(library) {getattr(self.fn, '__doc__', None) or getattr(self.fn, '__name__', 'call')}".strip()


def _q(a: str) -> str:
    a = str(a)
    if len(a) > 60:
        a = a[:25] + f"...({len(a)} chars)"
    if a == "" or any(c in a for c in " \t\n'\"$;&|<>()\\*?") or not a.isprintable():
        return repr(a)
    return a


@dataclasses.dataclass
class Result:
    case: Case
    code: int | None = None         # exit code, -N for death by signal N, None when killed for a hang
    output: str = ""
    wall: float = 0.0
    findings: list = dataclasses.field(default_factory=list)  # (class, detail)

    def tail(self, n: int = 3) -> str:
        lines = [ln for ln in self.output.splitlines() if ln.strip()]
        return " / ".join(ln.strip()[:160] for ln in lines[-n:])


# ---- files ---------------------------------------------------------------------------------------
def snapshot(root: Path, outputs: tuple[str, ...]) -> dict[str, str]:
    """{relative path: sha256 (files) or "dir"} of everything under root except the allowed outputs."""
    allowed = [o.rstrip("/") for o in outputs]
    snap = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        for name in dirnames + filenames:
            rel = os.path.normpath(os.path.join(rel_dir, name))
            if rel in (".case-output", ".cache") or rel.startswith(".cache/") or _allowed(rel, allowed):
                continue
            p = os.path.join(dirpath, name)
            if os.path.islink(p) or os.path.isdir(p):
                snap[rel] = "dir"
            else:
                h = hashlib.sha256()
                try:
                    with open(p, "rb") as f:
                        h.update(f.read())
                    snap[rel] = h.hexdigest()
                except OSError as e:
                    snap[rel] = f"unreadable {e.errno}"
    return snap


def _allowed(rel: str, allowed: list[str]) -> bool:
    if any(a.startswith("!") and rel == a[1:] for a in allowed):  # "!run/notes.txt": a user file inside an output
        return False
    return any(rel == a or rel.startswith(a + "/") or (a.endswith("*") and rel.startswith(a[:-1]))
               for a in allowed)


def lost_files(before: dict, after: dict) -> list[str]:
    """Files that were there before and are now changed or gone (new files are no loss)."""
    out = []
    for rel, h in before.items():
        if rel not in after:
            out.append(f"deleted {rel}")
        elif after[rel] != h:
            out.append(f"changed {rel}")
    return out


# ---- processes -----------------------------------------------------------------------------------
def marked_processes(tag: str) -> list[tuple[int, str]]:
    """(pid, command line) of live processes whose environment has MARKER=tag."""
    want = f"{MARKER}={tag}".encode()
    found = []
    me = os.getpid()
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == me:
            continue
        try:
            with open(f"/proc/{d}/environ", "rb") as f:
                env = f.read()
            if want not in env.split(b"\0"):
                continue
            with open(f"/proc/{d}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":  # a zombie holds nothing
                    continue
            with open(f"/proc/{d}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
            found.append((int(d), cmd[:120]))
        except OSError:
            continue
    return found


def _kill_all(pids) -> None:
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def leftovers(tag: str, grace: float = 2.0) -> list[tuple[int, str]]:
    """Processes of the case still alive ``grace`` seconds after it ended (then killed)."""
    t0 = time.monotonic()
    left = marked_processes(tag)
    while left and time.monotonic() - t0 < grace:
        time.sleep(0.1)
        left = marked_processes(tag)
    _kill_all(p for p, _ in left)
    return left


# ---- a fake filesystem layer (when no tmpfs / read-only mount can be made) -----------------------
def install_fake_fs(folder: str, err: int) -> None:
    """In the child: every open for writing, mkdir, rename, replace and unlink under ``folder``
    fails with ``err`` (ENOSPC or EROFS), as a full or read-only filesystem makes them fail.
    sqlite opens files itself (in C), so the store is redirected by refusing its folder too."""
    import builtins

    folder = os.path.realpath(folder)

    def under(p) -> bool:
        try:
            p = os.fspath(p)
        except TypeError:
            return False
        if isinstance(p, int):
            return False
        if isinstance(p, bytes):
            p = p.decode(errors="replace")
        return os.path.realpath(p) == folder or os.path.realpath(p).startswith(folder + os.sep)

    def fail(p):
        raise OSError(err, os.strerror(err), os.fspath(p))

    real_open, real_os_open = builtins.open, os.open

    def fake_open(file, mode="r", *a, **k):
        if under(file) and any(c in mode for c in "wax+"):
            fail(file)
        return real_open(file, mode, *a, **k)

    def fake_os_open(path, flags, *a, **k):
        if under(path) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC):
            fail(path)
        return real_os_open(path, flags, *a, **k)

    def refuse(real, n_paths=1):
        def f(*a, **k):
            if any(under(p) for p in a[:n_paths]):
                fail(a[0])
            return real(*a, **k)
        return f

    builtins.open = fake_open
    io.open = fake_open
    os.open = fake_os_open
    for name, n in (("mkdir", 1), ("makedirs", 1), ("rename", 2), ("replace", 2), ("unlink", 1), ("remove", 1),
                    ("rmdir", 1), ("link", 2), ("symlink", 2), ("truncate", 1)):
        setattr(os, name, refuse(getattr(os, name), n))
    import sqlite3

    real_connect = sqlite3.connect

    def connect(db, *a, **k):
        if under(db):
            fail(db)
        return real_connect(db, *a, **k)

    sqlite3.connect = connect


CLICK: dict = {}  # the app's click command, built once in the parent (typer builds it on every call)


def warm_up() -> None:
    """Before forking: build the click command, run each command's cheapest path once (lazy
    imports, rich's set-up) and freeze the heap, so that a child's garbage collector does not copy
    the parent's pages (a case then costs tens of milliseconds of overhead, not hundreds)."""
    import gc

    import typer

    from cli import app

    CLICK["cmd"] = cmd = typer.main.get_command(app)
    out, err = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = io.StringIO()
    try:
        for argv in (["train", "--hidden", "x"], ["design", "--hidden", "x"], ["sample", "/nonexistent/run"],
                     ["evaluate", "/nonexistent/run"], ["info", "/nonexistent/run"], ["report", "/nonexistent/run"],
                     ["score", "--task", "nosuch", "-i", "/nonexistent"], ["scores", "/nonexistent"],
                     ["bench", "--methods", "nosuch"], ["tasks"]):
            with contextlib.suppress(SystemExit):
                cmd.main(argv, prog_name="molgfn", standalone_mode=True)
    finally:
        sys.stdout, sys.stderr = out, err
        from molgfn import runs

        runs.unlock_all()
    gc.collect()
    gc.freeze()


# ---- running one case ----------------------------------------------------------------------------
def _child(case: Case, d: Path, out_path: Path) -> None:
    """In the forked child: never returns."""
    code = 1
    try:
        os.setsid()
        fd = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False))
        sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), write_through=True)
        sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), write_through=True)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE):
            signal.signal(s, signal.SIG_DFL)
        import faulthandler

        faulthandler.disable()  # pytest's, inherited: a user's molgfn has none unless it enables its own
        os.environ[MARKER] = case.id
        os.environ["XDG_CACHE_HOME"] = str(d / ".cache")
        os.environ["COLUMNS"] = "200"
        os.environ.update(case.env or {})
        os.chdir(d)
        if case.fake_fs:
            print(f"[fault layer: writes under {case.fake_fs['dir'].format(D=d)} fail with "
                  f"{errno.errorcode[case.fake_fs['errno']]}]", file=sys.stderr)
            install_fake_fs(case.fake_fs["dir"].format(D=d), case.fake_fs["errno"])
        if case.fn is not None:
            code = case.fn(d)
        else:
            if "cmd" not in CLICK:
                import typer

                from cli import app

                CLICK["cmd"] = typer.main.get_command(app)
            try:
                CLICK["cmd"].main([a.format(D=d) for a in case.argv], prog_name="molgfn", standalone_mode=True)
                code = 0
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
                if not isinstance(e.code, int) and e.code is not None:
                    print(e.code, file=sys.stderr)
    except SystemExit as e:  # a library call that exits
        code = e.code if isinstance(e.code, int) else 1
    except BaseException:  # noqa: BLE001 - anything escaping the CLI is a raw traceback
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        with contextlib.suppress(BaseException):
            sys.stdout.flush()
            sys.stderr.flush()
        with contextlib.suppress(BaseException):  # what the interpreter's exit would run (atexit): molgfn's cleanup
            if "molgfn.oracle.executors" in sys.modules:
                sys.modules["molgfn.oracle.executors"].close_all()
        os._exit(code if isinstance(code, int) and 0 <= code < 256 else 1)


class Running:
    def __init__(self, case: Case, d: Path) -> None:
        self.case, self.d = case, d
        self.out_path = d / ".case-output"
        self.before = snapshot(d, case.outputs)
        self.t0 = time.monotonic()
        self.interrupted = False
        self.killed = False
        self.status = None
        self.proc = None
        if case.subprocess_argv is not None:
            env = {**os.environ, MARKER: case.id, "PYTHONPATH": str(ROOT), "XDG_CACHE_HOME": str(d / ".cache"),
                   "OMP_NUM_THREADS": "1", "COLUMNS": "200", **(case.env or {})}
            self.outf = open(self.out_path, "wb")  # noqa: SIM115
            self.proc = subprocess.Popen([a.format(D=d) for a in case.subprocess_argv], cwd=d, env=env,
                                         stdout=self.outf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True)
            self.pid = self.proc.pid
        else:
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                _child(case, d, self.out_path)
            self.pid = pid

    def poll(self) -> bool:
        """True once finished (exited, or killed after its time)."""
        if self.status is not None:
            return True
        if self.proc is not None and self.case.driver is not None:
            return False  # the driver thread decides
        pid, st = os.waitpid(self.pid, os.WNOHANG)
        if pid:
            self.status = st
            return True
        age = time.monotonic() - self.t0
        if self.case.interrupt_after is not None and not self.interrupted and age > self.case.interrupt_after:
            self.interrupted = True  # as Ctrl-C in a terminal: the whole foreground group
            with contextlib.suppress(OSError):
                os.killpg(self.pid, signal.SIGINT)
        if age > self.case.timeout:
            self.killed = True
            with contextlib.suppress(OSError):
                os.killpg(self.pid, signal.SIGKILL)
            _, self.status = os.waitpid(self.pid, 0)
            return True
        return False

    def finish(self) -> Result:
        case, d = self.case, self.d
        r = Result(case, wall=time.monotonic() - self.t0)
        if self.proc is not None:
            self.outf.close()
        st = self.status
        if self.killed:
            r.code = None
        elif os.WIFSIGNALED(st):
            r.code = -os.WTERMSIG(st)
        else:
            r.code = os.WEXITSTATUS(st)
        try:
            r.output = self.out_path.read_bytes().decode(errors="replace")
        except OSError:
            r.output = ""
        left = leftovers(case.id, grace=0.5 if self.killed else 2.0)
        with contextlib.suppress(OSError):
            os.killpg(self.pid, signal.SIGKILL)
        classify(r, left, snapshot(d, case.outputs), self.before, self.interrupted)
        if not any(c == "hang" for c, _ in r.findings) and case.check is not None and r.code == 0:
            try:
                for detail in case.check(d, r) or []:
                    r.findings.append(("silent-wrong", detail))
            except Exception as e:  # noqa: BLE001 - an output the check cannot even read is wrong too
                r.findings.append(("silent-wrong", f"output unreadable: {type(e).__name__}: {e}"[:200]))
        if case.teardown is not None:
            case.teardown(d)
        return r


def classify(r: Result, left, after: dict, before: dict, interrupted: bool) -> None:
    case = r.case
    if r.code is None:
        r.findings.append(("hang", f"killed after {case.timeout:.0f} s"
                           + (f" (SIGINT at {case.interrupt_after:.0f} s did not stop it)" if interrupted else "")))
    elif r.code < 0:
        r.findings.append(("crash", f"died of signal {signal.Signals(-r.code).name}"))
    elif r.code == SILENT_WRONG_EXIT:  # a library case's own check of its result failed
        r.findings.append(("silent-wrong", r.tail(1)))
    elif r.code not in case.ok_codes:
        cls = "unexpected" if r.code == 1 else "wrong-exit"
        r.findings.append((cls, f"exit {r.code}"))
    if interrupted and r.code is not None and r.code != 130 and case.interrupt_after is not None:
        if r.code >= 0 and r.code in case.ok_codes and r.code != 0:
            r.findings.append(("wrong-exit", f"exit {r.code} after Ctrl-C (130 expected)"))
    if MISBLAMED.search(r.output):
        r.findings.append(("misleading", "a store / disk / signal condition reported as the oracle's error"))
    if "Traceback (most recent call last)" in r.output:
        r.findings.append(("traceback", "raw traceback in the output"))
    low = r.output.lower()
    if "please include it when reporting" in low or "please report" in low:
        r.findings.append(("unexpected", "'unexpected error, please report' for this case"))
    if left:
        r.findings.append(("orphan", "; ".join(f"{p}: {c[:60]}" for p, c in left[:3]) +
                           (f" (+{len(left) - 3})" if len(left) > 3 else "")))
    lost = lost_files(before, after)
    if lost:
        r.findings.append(("lost-file", ", ".join(lost[:4]) + (f" (+{len(lost) - 4})" if len(lost) > 4 else "")))


def run_cases(cases: list[Case], root: Path, jobs: int = 2, say: Callable | None = None) -> dict[str, Result]:
    """Run the cases, ``jobs`` at a time; {case id: Result}."""
    results: dict[str, Result] = {}
    queue = list(cases)
    running: list[Running] = []
    try:
        _run_all(queue, running, results, root, jobs, say)
    finally:  # interrupted: no case may outlive the suite
        for rn in running:
            if rn.pid:
                with contextlib.suppress(OSError):
                    os.killpg(rn.pid, signal.SIGKILL)
            _kill_all(p for p, _ in marked_processes(rn.case.id))
    return results


def _run_all(queue, running, results, root, jobs, say) -> None:
    while queue or running:
        while queue and len(running) < jobs:
            c = queue.pop(0)
            d = root / case_dirname(c.id)
            if d.exists():
                shutil.rmtree(d, ignore_errors=True)
            d.mkdir(parents=True)
            try:
                if c.setup is not None:
                    c.setup(d)
            except Exception as e:  # noqa: BLE001 - a broken case is a test error, reported as such
                results[c.id] = Result(c, code=None, output=f"setup failed: {type(e).__name__}: {e}",
                                       findings=[("setup", f"{type(e).__name__}: {e}")])
                if c.teardown is not None:
                    c.teardown(d)
                continue
            if c.driver is not None:  # a thread drives the real process; it counts as one of the jobs
                running.append(Driven(c, d))
                continue
            running.append(Running(c, d))
        time.sleep(0.02)
        for rn in list(running):
            if rn.poll():
                running.remove(rn)
                res = rn.finish()
                results[rn.case.id] = res
                if say:
                    say(res)


def case_dirname(cid: str) -> str:
    """A plain folder name (rich renders ":name:" in a printed path as an emoji)."""
    return "".join(ch if ch.isalnum() or ch in "-." else "_" for ch in cid)


class Driven:
    """A subprocess case run by its driver in a thread (only once no more children are forked)."""

    def __init__(self, case: Case, d: Path) -> None:
        import threading

        self.case, self.d, self.pid, self.result = case, d, 0, None
        self.thread = threading.Thread(target=self._go, daemon=True)
        self.thread.start()

    def _go(self) -> None:
        try:
            self.result = run_driven(self.case, self.d)
        except Exception as e:  # noqa: BLE001 - a broken driver is reported as the case's failure
            self.result = Result(self.case, code=None, output=f"driver failed: {type(e).__name__}: {e}",
                                 findings=[("setup", f"driver failed: {type(e).__name__}: {e}")])

    def poll(self) -> bool:
        return not self.thread.is_alive()

    def finish(self) -> Result:
        return self.result


def run_driven(case: Case, d: Path) -> Result:
    """A subprocess case whose driver sends signals and may run follow-up commands; the driver
    returns (exit code or None for a hang, output, extra findings)."""
    before = snapshot(d, case.outputs)
    t0 = time.monotonic()
    env = {**os.environ, MARKER: case.id, "PYTHONPATH": str(ROOT), "XDG_CACHE_HOME": str(d / ".cache"),
           "OMP_NUM_THREADS": "1", "COLUMNS": "200", **(case.env or {})}
    code, output, extra = case.driver(d, env)
    r = Result(case, code=code, output=output, wall=time.monotonic() - t0)
    left = leftovers(case.id)
    classify(r, left, snapshot(d, case.outputs), before, False)
    if case.teardown is not None:
        case.teardown(d)
    r.findings.extend(extra)
    return r


def spawn(argv: list[str], d: Path, env: dict, log: Path) -> subprocess.Popen:
    """A real CLI process in its own session, its output in ``log`` (a file, not a pipe: a
    grandchild holding a pipe open would keep a reader waiting after the CLI itself exited)."""
    with open(log, "ab") as f:
        return subprocess.Popen(argv, cwd=d, env=env, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)


def wait_or_kill(p: subprocess.Popen, timeout: float) -> int | None:
    """The exit code (negative: the signal), or None after killing its group at ``timeout``."""
    try:
        return p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(OSError):
            os.killpg(p.pid, signal.SIGKILL)
        p.wait()
        return None


# ---- disks ---------------------------------------------------------------------------------------
def _mount(*args: str) -> bool:
    try:
        r = subprocess.run(["mount", *args], capture_output=True, timeout=20)
        return r.returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def umount(path: Path) -> None:
    with contextlib.suppress(OSError, subprocess.TimeoutExpired):
        subprocess.run(["umount", "-l", str(path)], capture_output=True, timeout=20)


def can_mount(probe: Path) -> bool:
    """Whether this process may mount a tmpfs (root in a sandbox that allows it)."""
    probe.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    ok = _mount("-t", "tmpfs", "-o", "size=64k", "tmpfs", str(probe))
    if ok:
        try:
            with open(probe / "x", "wb") as f:
                f.write(b"x" * 200_000)
            ok = False  # a size limit that is not enforced is no full disk
        except OSError as e:
            ok = e.errno == errno.ENOSPC
        umount(probe)
    return ok


def full_tmpfs(path: Path, free: int, before: Callable | None = None) -> None:
    """A tmpfs at ``path`` with about ``free`` bytes left (a filler file takes the rest; it must
    survive); ``before(path)`` puts files there first (a run to resume)."""
    path.mkdir(parents=True, exist_ok=True)
    size = 4 << 20
    if not _mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)):
        raise OSError("mount failed")
    if before is not None:
        before(path)
    st = os.statvfs(path)
    avail = st.f_bavail * st.f_frsize
    with open(path / "filler.bin", "wb", buffering=0) as f:  # unbuffered: a failed write leaves nothing to flush
        f.write(b"\0" * max(0, avail - free - 8192))
        if free == 0:  # to the last block
            with contextlib.suppress(OSError):
                while True:
                    f.write(b"\0" * 512)


def read_only(path: Path) -> None:
    """Make the folder ``path`` read-only by a read-only bind mount onto itself."""
    if not _mount("--bind", str(path), str(path)):
        raise OSError("bind mount failed")
    if not _mount("-o", "remount,ro,bind", str(path)):
        umount(path)
        raise OSError("read-only remount failed")


# ---- checks of results ---------------------------------------------------------------------------
def finite_column(df, col: str) -> list[str]:
    if col not in df.columns:
        return [f"no {col} column"]
    import pandas as pd

    vals = pd.to_numeric(df[col], errors="coerce")
    bad = int((~vals.map(lambda v: isinstance(v, float) and math.isfinite(v))).sum())
    return [f"{bad} non-finite {col} value(s)"] if bad else []


PROCS_WORDS = ("workers", "executor", "timeout", "ray", "retries", "chunk")
OS_WORDS = ("OSError", "Errno", "File name too long", "Read-only", "No space", "PermissionError", "IsADirectory",
            "NotADirectory")


def route(r: Result, cls: str) -> str:
    """Who fixes a finding: the case's owner, unless its class or output says otherwise."""
    if cls == "misleading":
        return "files" if r.case.group == "disk" else "oracle"
    if cls == "lost-file" or (cls in ("traceback", "unexpected") and any(w in r.output for w in OS_WORDS)):
        return "files"
    if cls == "orphan":
        return "procs"
    if cls == "silent-wrong" and any("failed on" in d for c, d in r.findings if c == cls):
        return "bounds"  # objects the oracle failed on among the candidates
    if cls == "hang" and r.case.group == "options":
        return "procs" if any(w in r.case.id for w in PROCS_WORDS) else "bounds"
    return r.case.owner


def findings_table(results: list[Result]) -> str:
    """One row per case: its classes (worst first), who fixes it, the command, the last output."""
    rows = ["| case | owner | class | detail | command | last output |", "|---|---|---|---|---|---|"]
    items = []
    for r in results:
        f = sorted(r.findings, key=lambda f: CLASSES.index(f[0]) if f[0] in CLASSES else 99)
        owner = route(r, f[0][0])
        classes = "+".join(dict.fromkeys(c for c, _ in f))
        detail = "; ".join(dict.fromkeys(dt for _, dt in f)) + (f" (note: {r.case.note})" if r.case.note else "")
        items.append((owner, CLASSES.index(f[0][0]) if f[0][0] in CLASSES else 99, r.case.id, classes, detail, r))
    for owner, _, cid, classes, detail, r in sorted(items, key=lambda t: t[:3]):
        rows.append(f"| {cid} | {owner} | {classes} | {_md(detail)} | `{_md(r.case.command())}` | {_md(r.tail(2))} |")
    return "\n".join(rows)


def _md(s: str) -> str:
    return str(s).replace("|", "\\|").replace("\n", " ").replace("`", "'")[:300]
