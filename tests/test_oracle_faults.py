"""Every way an oracle can fail costs the objects it failed on, or stops the run with one error,
under every executor; worker stdout never reaches stdout; close() leaves no process behind."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from molgfn.errors import OracleError
from molgfn.oracle import CachedOracle, OracleSettings
from tests import oracle_faults as F

ROOT = Path(__file__).resolve().parents[1]
OBJS = ["CCGG", "ACGT", "GGCA", "TTTT", "AGGG"]  # the oracles fail on the two starting with "A"
FLOOR = 1e-3
EXPECTED = [F.gc(o) if not o.startswith("A") else FLOOR for o in OBJS]
WHY = {"raise": "raised RuntimeError: docking server unreachable", "nan": "returned nan",
       "hang": "timed out after 1 s", "sys.exit": "called sys.exit(3)", "os._exit": "worker exited with code 0",
       "segfault": "SIGSEGV", "KeyboardInterrupt": "raised KeyboardInterrupt"}
RAY_WHY = {"os._exit": "Ray worker died", "segfault": "Ray worker died"}
# in-process, a dead oracle is a dead run: that is what the process pool is for (a hung one ends at
# its timeout: the local executor's alarm)
LOCAL_UNSURVIVABLE = {"os._exit", "segfault", "KeyboardInterrupt"}


def ray_or_skip():
    try:
        import ray
    except ImportError:
        pytest.skip('Ray is not installed: pip install "molgfn[ray]"')
    if not ray.is_initialized():  # one small local Ray for the whole test session
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    return ray


def make(fault: str, executor: str, workers: int, on_error: str = "invalid", **kw) -> CachedOracle:
    if executor == "ray":
        ray_or_skip()
    o = CachedOracle(f"fault-{fault}", F.FAULTS[fault], allow_negative=False, workers=workers)
    o.configure(OracleSettings(executor=executor, workers=workers, timeout=1, on_error=on_error, **kw))
    return o


CASES = [(f, ex, w) for f in F.FAULTS for ex, w in (("local", 1), ("process", 1), ("process", 2), ("ray", 2))
         if not (ex == "local" and f in LOCAL_UNSURVIVABLE)]


def ray_slow(cases):
    """Ray's parametrisations (a Ray runtime and its actors, seconds each) run in the slow step (`make test-slow`)."""
    return [pytest.param(*c, marks=pytest.mark.slow) if "ray" in c else c for c in cases]


@pytest.mark.parametrize("fault,executor,workers", ray_slow(CASES))
def test_failure_costs_exactly_the_failing_objects(fault, executor, workers):
    o = make(fault, executor, workers)
    try:
        raw = o(OBJS)
        assert raw.tolist() == pytest.approx(EXPECTED)
        assert set(o.errors) == {"ACGT", "AGGG"}
        why = RAY_WHY.get(fault, WHY[fault]) if executor == "ray" else WHY[fault]
        assert all(why in e for e in o.errors.values()), o.errors
        assert o(["CCCC"]).tolist() == [1.0]  # the executor still works after the failures
    finally:
        o.close()


@pytest.mark.parametrize("fault,executor,workers", ray_slow([c for c in CASES if c[2] == 1 or c[1] == "ray"]))
def test_failure_stops_with_one_error_naming_the_oracle(fault, executor, workers):
    o = make(fault, executor, workers, on_error="stop")
    try:
        with pytest.raises(OracleError) as e:
            o(OBJS)
        msg = str(e.value)
        assert f"fault-{fault}" in msg and "'ACGT'" in msg and "\n" not in msg
        assert "'CCGG'" not in msg
    finally:
        o.close()


def test_local_executor_lets_keyboard_interrupt_through():
    # in-process an oracle's KeyboardInterrupt cannot be told from Ctrl-C: it stops the run as Ctrl-C does
    o = make("KeyboardInterrupt", "local", 1)
    with pytest.raises(KeyboardInterrupt):
        o(OBJS)


def test_retries_recover_a_transient_crash(tmp_path, monkeypatch):
    monkeypatch.setenv("CRASH_ONCE_DIR", str(tmp_path))
    for retries, expect in ((0, FLOOR), (1, 0.5)):
        for f in tmp_path.iterdir():
            f.unlink()
        o = CachedOracle("once", crash_once, allow_negative=False, workers=1)
        o.configure(OracleSettings(executor="process", workers=1, retries=retries, on_error="invalid"))
        try:
            assert o(["ACGT"]).tolist() == [expect]
        finally:
            o.close()


def crash_once(seqs):
    marks = Path(os.environ["CRASH_ONCE_DIR"])
    for s in seqs:
        if not (marks / s).exists():
            (marks / s).touch()
            os._exit(1)
    return [F.gc(s) for s in seqs]


def worker_pid(seqs):
    return [float(os.getpid()) for _ in seqs]


def _stat(pid: int) -> list[str] | None:
    try:  # /proc/PID/stat: "pid (comm) state ppid ..."; comm may hold spaces
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None


def gone(pid: int) -> bool:
    st = _stat(pid)
    return st is None or st[0] == "Z"


def descendants(pid: int) -> set[int]:
    parent = {int(p.name): int(st[1]) for p in Path("/proc").iterdir() if p.name.isdigit()
              if (st := _stat(int(p.name))) is not None}
    out, todo = set(), [pid]
    while todo:
        cur = todo.pop()
        kids = {c for c, pp in parent.items() if pp == cur}
        todo.extend(kids - out)
        out |= kids
    return out


@pytest.mark.parametrize("executor", ["process", pytest.param("ray", marks=pytest.mark.slow)])
def test_close_leaves_no_worker_process(executor):
    if executor == "ray":
        ray_or_skip()
    o = CachedOracle("pid", worker_pid, allow_negative=False, workers=2)
    o.configure(OracleSettings(executor=executor, workers=2, chunk_size=1))
    pids = {int(p) for p in o(["A", "C", "G", "T"])}
    assert os.getpid() not in pids and len(pids) >= 1
    o.close()
    # a patience for a loaded machine, not a timing check: a CI rehearsal under 3x load once saw a Ray worker
    # outlive 20 s (not reproduced alone); a leaked worker would still be there after a minute
    deadline = time.time() + 60
    while time.time() < deadline and not all(gone(p) for p in pids):
        time.sleep(0.2)
    left = [(p, _stat(p)) for p in pids if not gone(p)]
    assert not left, f"worker processes left after close: {left}"


def cli(*args, **kw):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", "from cli import app; app()", *map(str, args)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300, **kw)


@pytest.mark.parametrize("executor", ["local", "process", pytest.param("ray", marks=pytest.mark.slow)])
def test_oracle_stdout_never_reaches_the_data_stream(tmp_path, executor):
    if executor == "ray":
        ray_or_skip()
    f = tmp_path / "in.txt"
    f.write_text("ACGT\nCCGG\n")
    r = cli("score", "--task", "custom", "--oracle", "tests.oracle_faults:noisy", "--length", 4, "--input", f,
            "--executor", executor, "--workers", 1)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["sequence,raw_score,reward", "ACGT,0.5,0.5", "CCGG,1.0,1.0"]
    if executor != "ray":  # Ray sends worker logs to its own files
        assert "NOISE from print" in r.stderr and "NOISE from fd 1" in r.stderr


@pytest.mark.slow  # eight real molgfn processes: end to end, in the slow step
@pytest.mark.parametrize("fault", ["os._exit", "segfault", "sys.exit", "KeyboardInterrupt"])
@pytest.mark.parametrize("workers", [1, 2])
def test_cli_crashing_oracle_is_one_line_error_not_exit_0(tmp_path, fault, workers):
    name = {"os._exit": "os_exit", "sys.exit": "sys_exit", "KeyboardInterrupt": "keyboard"}.get(fault, fault)
    f = tmp_path / "in.txt"
    f.write_text("CCGG\nACGT\n")
    r = cli("score", "--task", "custom", "--oracle", f"tests.oracle_faults:{name}", "--length", 4, "--input", f,
            "--workers", workers)
    assert r.returncode == 2 and r.stdout == ""
    assert f"oracle 'tests.oracle_faults:{name}' failed on 1 object(s): 'ACGT'" in r.stderr
    assert "Traceback" not in r.stderr
    r = cli("score", "--task", "custom", "--oracle", f"tests.oracle_faults:{name}", "--length", 4, "--input", f,
            "--workers", workers, "--on-oracle-error", "invalid")
    assert r.returncode == 0, r.stderr
    rows = [line.split(",") for line in r.stdout.splitlines()[1:]]
    assert [(s, float(raw)) for s, raw, _ in rows] == [("CCGG", 1.0), ("ACGT", 0.001)]


def test_cli_hanging_oracle_times_out(tmp_path):
    f = tmp_path / "in.txt"
    f.write_text("CCGG\nACGT\n")
    t0 = time.time()
    r = cli("score", "--task", "custom", "--oracle", "tests.oracle_faults:hangs", "--length", 4, "--input", f,
            "--oracle-timeout", 1)
    assert r.returncode == 2 and "'ACGT': timed out after 1 s" in r.stderr
    assert time.time() - t0 < 60


@pytest.mark.parametrize("args,msg", [
    (["--executor", "dask"], "--executor must be one of auto, local, process, ray"),
    (["--on-oracle-error", "ignore"], "--on-oracle-error must be stop or invalid"),
    (["--oracle-timeout", "0"], "--oracle-timeout must be a positive number"),
    (["--chunk-size", "0"], "--chunk-size must be >= 1"),
    (["--ray-address", "127.0.0.1:1"], "--ray-address needs --executor ray"),
    (["--executor", "ray", "--ray-address", "127.0.0.1:1"], "cannot reach a Ray cluster at 127.0.0.1:1"),
    (["--executor", "ray", "--ray-address", "nonsense"], "--ray-address must be auto, HOST:PORT"),
])
def test_bad_oracle_options_are_one_line_errors(tmp_path, args, msg):
    if "ray" in args:
        ray_or_skip()
    out = tmp_path / "run"
    r = cli("train", "--task", "custom", "--oracle", "tests.oracle_faults:noisy", "--length", 4, "--rounds", 1,
            "--out", out, *args)
    assert r.returncode == 2 and msg in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not out.exists()  # refused before anything was written


def test_executor_ray_without_ray_says_how_to_install(monkeypatch):
    from molgfn.errors import InputError
    from molgfn.oracle.ray_executor import preflight

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(InputError, match=r'pip install "molgfn\[ray\]"'):
        preflight(None)


def test_sigterm_leaves_no_worker_behind(tmp_path):
    log = tmp_path / "calls.txt"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ORACLE_LOG": str(log)}
    args = ["train", "--task", "custom", "--oracle", "tests.oracle_faults:counting", "--length", 8, "--rounds",
            100000, "--workers", 2, "--out", tmp_path / "run", "--quiet", "--device", "cpu"]
    p = subprocess.Popen([sys.executable, "-c", "from cli import app; app()", *map(str, args)],
                         cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    children: set[int] = set()
    deadline = time.time() + 120
    while time.time() < deadline and len(children) < 2:
        children |= descendants(p.pid)
        time.sleep(0.1)
    assert len(children) >= 2, "the pool never started"
    p.terminate()
    p.wait(60)
    deadline = time.time() + 20
    while time.time() < deadline and not all(gone(c) for c in children):
        time.sleep(0.2)
    assert all(gone(c) for c in children)



@pytest.mark.parametrize("fault", ["segfault", "hang", "os._exit"])
def test_spawned_workers_survive_the_same_faults(fault):
    o = CachedOracle(f"spawned-{fault}", F.Spawned(fault), allow_negative=False, workers=2)
    # 1 s per object: a spawned worker's start-up (imports) must not count against it
    o.configure(OracleSettings(executor="process", workers=2, timeout=1, on_error="invalid"))
    try:
        assert o(OBJS).tolist() == pytest.approx(EXPECTED)
        assert set(o.errors) == {"ACGT", "AGGG"} and all(WHY[fault] in e for e in o.errors.values())
    finally:
        o.close()
