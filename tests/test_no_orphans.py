"""No process molgfn starts outlives it, and no oracle's own processes outlive their worker:
on close, on an oracle error, on SIGTERM (exit 143 with a checkpoint) and on kill -9 of molgfn,
under every executor; `bench` with a crashing oracle ends with one error instead of hanging.

Each test marks the processes it causes with MOLGFN_TEST_MARK=<random> in their environment
(children inherit it) and checks /proc for any left alive."""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from molgfn.oracle import CachedOracle, OracleSettings
from tests import oracle_faults as F

ROOT = Path(__file__).resolve().parents[1]
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def marked(mark: str) -> list[tuple[int, str]]:
    """(pid, command line) of every live process whose environment carries the mark."""
    tag = f"MOLGFN_TEST_MARK={mark}".encode()
    out = []
    for p in Path("/proc").iterdir():
        if not p.name.isdigit() or int(p.name) == os.getpid():
            continue
        try:
            if tag not in (p / "environ").read_bytes():
                continue
            state = (p / "stat").read_text().rpartition(")")[2].split()[0]
            cmd = (p / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        if state != "Z":
            out.append((int(p.name), cmd))
    return out


def wait_for(cond, timeout: float) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(0.1)
    return cond()


def sleeps(mark: str) -> list[int]:
    return [pid for pid, cmd in marked(mark) if cmd.startswith("sleep 1000")]


def cmdline(pid: int | str) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def running(pid: int | str) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def descendants(root: int) -> dict[tuple[int, str], str]:
    """{(pid, start time): command line} of every live descendant of root."""
    procs = {}
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            f = (p / "stat").read_text().rpartition(")")[2].split()
            cmd = (p / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except (OSError, ValueError):
            continue
        procs[int(p.name)] = (int(f[1]), f[19], cmd)
    found, todo = {}, [root]
    while todo:
        cur = todo.pop()
        for pid, (parent, start, cmd) in procs.items():
            if parent == cur and (pid, start) not in found:
                found[(pid, start)] = cmd
                todo.append(pid)
    return found


def assert_none_alive(procs: dict[tuple[int, str], str], timeout: float = 15) -> None:
    def alive():
        out = []
        for (pid, start), cmd in procs.items():
            try:
                f = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
            except OSError:
                continue
            if f[19] == start and f[0] != "Z":
                out.append((pid, cmd))
        return out
    wait_for(lambda: not alive(), timeout)
    left = alive()
    for pid, _ in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    assert not left, f"processes left behind: {left}"


def assert_nothing_left(mark: str, timeout: float = 15) -> None:
    wait_for(lambda: not marked(mark), timeout)
    left = marked(mark)
    for pid, _ in left:  # do not leave them to the next test
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    assert not left, f"processes left behind: {left}"


def start_cli(mark: str, *args) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MOLGFN_TEST_MARK": mark}
    return subprocess.Popen([sys.executable, "-c", "from cli import app; app()", *map(str, args)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def train_args(tmp_path, oracle: str, executor: str, *extra) -> list:
    return ["train", "--task", "custom", "--oracle", f"tests.oracle_faults:{oracle}", "--length", 6, "--rounds",
            100000, "--batch-size", 8, "--workers", 2, "--executor", executor, "--out", tmp_path / "run",
            "--quiet", "--device", "cpu", *extra]


@linux_only
def test_closing_the_pool_stops_what_its_oracle_started(monkeypatch):
    mark = uuid.uuid4().hex
    monkeypatch.setenv("MOLGFN_TEST_MARK", mark)  # the oracle's children inherit it
    o = CachedOracle("spawns", F.spawns, allow_negative=False, workers=2)
    o.configure(OracleSettings(executor="process", workers=2))
    try:
        assert o(["CCGG", "GGCA", "TTTT", "CCCC"]).tolist() == [1.0, 0.75, 0.0, 1.0]
        assert sleeps(mark), "the oracle started no process"
    finally:
        o.close()
    assert_nothing_left(mark, timeout=10)


@linux_only
def test_a_dead_worker_takes_its_oracles_processes_with_it(monkeypatch):
    mark = uuid.uuid4().hex
    monkeypatch.setenv("MOLGFN_TEST_MARK", mark)
    o = CachedOracle("spawns", F.spawns_then_segfaults, allow_negative=False, workers=1)
    o.configure(OracleSettings(executor="process", workers=1, on_error="invalid"))
    try:
        assert o(["ACGT"]).tolist() == [1e-3]  # the only worker died on it and was replaced
        assert "SIGSEGV" in o.errors["ACGT"]
        assert_nothing_left(mark, timeout=10)  # before close: they died with their worker
    finally:
        o.close()


@linux_only
@pytest.mark.slow  # a real molgfn process, stopped or crashed: end to end, in the slow step
@pytest.mark.parametrize("executor", ["local", "process"])
def test_sigterm_exits_143_with_a_checkpoint_and_leaves_nothing(tmp_path, executor):
    mark = uuid.uuid4().hex
    p = start_cli(mark, *train_args(tmp_path, "spawns", executor))
    try:
        assert wait_for(lambda: sleeps(mark) or p.poll() is not None, 120) and p.poll() is None, p.stderr.read()
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=60)
    finally:
        p.kill()
    assert p.returncode == 143, err
    assert "SIGTERM received: stopped after round" in err and "with a checkpoint" in err
    assert (tmp_path / "run" / "checkpoint.pt").is_file()
    assert_nothing_left(mark)


@linux_only
@pytest.mark.slow  # a real molgfn process, stopped or crashed: end to end, in the slow step
def test_kill_9_of_molgfn_leaves_no_worker_and_no_oracle_process(tmp_path):
    mark = uuid.uuid4().hex
    p = start_cli(mark, *train_args(tmp_path, "spawns", "process"))
    try:
        assert wait_for(lambda: sleeps(mark) or p.poll() is not None, 120) and p.poll() is None, p.stderr.read()
        p.send_signal(signal.SIGKILL)
        p.wait(30)
    finally:
        p.kill()
    assert_nothing_left(mark)


@linux_only
@pytest.mark.slow  # a real molgfn process, stopped or crashed: end to end, in the slow step
def test_an_oracle_error_stops_the_run_and_everything_it_started(tmp_path):
    mark = uuid.uuid4().hex
    p = start_cli(mark, *train_args(tmp_path, "spawns_then_fails", "process"))
    _, err = p.communicate(timeout=120)
    assert p.returncode == 2 and "docking server unreachable" in err, err
    assert_nothing_left(mark)


@linux_only
@pytest.mark.slow  # a real molgfn process, stopped or crashed: end to end, in the slow step
def test_bench_with_a_segfaulting_oracle_ends_with_one_error(tmp_path):
    mark = uuid.uuid4().hex
    p = start_cli(mark, "bench", "--oracle", "tests.oracle_faults:segfault", "--length", 4, "--rounds", 1, "--seeds",
                  0, "--methods", "tb", "--workers", 2, "--out", tmp_path / "b")
    try:
        _, err = p.communicate(timeout=120)  # it used to wait forever for the run whose process died
    finally:
        p.kill()
    assert p.returncode == 2, err
    assert "failed on" in err and "SIGSEGV" in err and "Traceback" not in err
    assert_nothing_left(mark)


@pytest.mark.slow  # a real molgfn process, stopped or crashed: end to end, in the slow step
def test_bench_run_whose_process_dies_is_an_error_naming_it(tmp_path):
    from molgfn.bench import PRESETS, run_grid
    from molgfn.errors import MolgfnError

    with pytest.raises(MolgfnError, match=r"bench run custom/tb/seed 0 died \(worker exited with code 9"):
        run_grid(PRESETS["small"], tmp_path, workers=2, tasks=["custom"], methods=["tb"], seeds=[0], rounds=1,
                 make_task=F.bench_task_that_dies)


def ray_or_skip():
    pytest.importorskip("ray", reason='Ray is not installed: pip install "molgfn[ray]"')


@linux_only
@pytest.mark.slow  # a real molgfn process, stopped or crashed: end to end, in the slow step
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_ray_run_stopped_by_a_signal_leaves_no_ray_process(tmp_path, sig):
    # everything a local Ray started carries the mark too (GCS, raylet, agents, actors and the oracle's children),
    # but Ray's agents and workers rename themselves, which zeroes their environment: the mark is then unreadable,
    # so the driver's process tree seen before the signal is checked as well
    ray_or_skip()
    mark = uuid.uuid4().hex
    p = start_cli(mark, *train_args(tmp_path, "spawns", "ray"))
    try:
        assert wait_for(lambda: sleeps(mark) or p.poll() is not None, 180) and p.poll() is None, p.stderr.read()
        tree = descendants(p.pid)
        assert any(cmd.startswith("ray::") for cmd in tree.values()), tree  # the actors and agents are in it
        p.send_signal(sig)
        _, err = p.communicate(timeout=60)
    finally:
        p.kill()
    if sig == signal.SIGTERM:  # Ray's own handlers (exit 15, or a C++ abort) no longer replace molgfn's
        assert p.returncode == 143, err
        assert "SIGTERM received: stopped after round" in err and "with a checkpoint" in err
    assert_nothing_left(mark, timeout=30)
    assert_none_alive(tree, timeout=30)


# a driver that starts a Ray sweeper (from its main thread, or from a thread that then ends as a Ray executor's
# thread may, or as the main thread ends first on kill -9) and two processes as Ray's would be: one keeps the mark,
# one is known by the file it writes under Ray's temp dir only (Ray's logs)
SWEPT_DRIVER = """
import os, subprocess, sys, threading, time
from molgfn.oracle.ray_executor import _Sweeper
made = []
if sys.argv[1] == "thread":
    t = threading.Thread(target=lambda: made.append(_Sweeper()))
    t.start()
    t.join()
else:
    made.append(_Sweeper())
s = made[0]
with s.marking():
    keeps = subprocess.Popen(["sleep", "1000"])
# started unmarked, as a Ray process that renamed itself (which zeroes its environment) before the sweeper looked
log = open(os.path.join(s.temp_dir, "w.log"), "a")
writes = subprocess.Popen(["sleep", "1000"], stdout=log)
print(s.proc.pid, keeps.pid, writes.pid, s.mark, s.temp_dir, flush=True)
time.sleep(1000)
"""


@linux_only
@pytest.mark.parametrize("where", ["main", "thread"])
def test_the_ray_sweeper_kills_what_a_killed_driver_started_and_nothing_that_looks_like_it(tmp_path, where):
    from molgfn.oracle.ray_executor import MARK_VAR

    mark = uuid.uuid4().hex
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MOLGFN_TEST_MARK": mark}
    env.pop(MARK_VAR, None)
    d = subprocess.Popen([sys.executable, "-c", SWEPT_DRIVER, where], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                         text=True)
    lookalikes = []
    try:
        sweeper, keeps, writes, ray_mark, temp_dir = d.stdout.readline().split()
        assert Path(temp_dir).is_dir()
        # not this Ray's: a process of a mark that merely starts like this one's, renamed as Ray's agent,
        # and one that reads a file under this Ray's temp dir (as `tail -f` on its log would)
        other = {**env, MARK_VAR: ray_mark + "0"}
        lookalikes.append(subprocess.Popen(["bash", "-c", "exec -a ray::DashboardAgent sleep 1000"], env=other))
        lookalikes.append(subprocess.Popen(["bash", "-c", f"exec sleep 1000 < {temp_dir}/w.log"], env=env))
        execed = lambda: all(cmdline(q.pid).startswith(("ray::", "sleep")) for q in lookalikes)  # noqa: E731
        assert wait_for(execed, 10) and len(sleeps(mark)) == 3  # keeps, writes, the reader
        assert running(sweeper) and running(keeps) and running(writes)  # nothing swept while the driver lived
        d.kill()
        d.wait(10)
        assert wait_for(lambda: not running(sweeper), 20), "the sweeper did not finish"
        assert not running(keeps) and not running(writes)
        assert all(running(q.pid) for q in lookalikes), "the sweeper killed a process that is not this Ray's"
        assert not Path(temp_dir).exists()
    finally:
        d.kill()
        for q in lookalikes:
            q.kill()
            q.wait()
    assert_nothing_left(mark)


@linux_only
@pytest.mark.slow  # a real molgfn process, stopped or crashed: end to end, in the slow step
def test_sigterm_during_score_is_an_interruption_not_an_oracle_error(tmp_path):
    mark = uuid.uuid4().hex
    f = tmp_path / "in.txt"
    f.write_text("CCGG\nACGT\n")  # the oracle hangs on ACGT
    p = start_cli(mark, "score", "--task", "custom", "--oracle", "tests.oracle_faults:hangs", "--length", 4,
                  "--input", f, "--executor", "process", "--workers", 2)
    try:
        workers = lambda: [pid for pid, _ in marked(mark) if pid != p.pid]  # noqa: E731
        assert wait_for(lambda: workers() or p.poll() is not None, 120) and p.poll() is None, p.stderr.read()
        time.sleep(1)  # the oracle is running (and hangs on ACGT)
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=60)
    finally:
        p.kill()
    assert p.returncode == 143, err
    assert err.strip() == "interrupted: SIGTERM received: stopped"
    assert_nothing_left(mark)
