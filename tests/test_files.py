"""Files a user can trust (issue 17): outputs never land on a run's own files, on the file being
read, or on a file molgfn did not write (unless --force); --overwrite recognises a run by the files
molgfn writes together; every OS error (a name too long, a full or read-only disk) is one line
naming the path, exit 2, and the error handler never fails itself. Each case checks that no file of
the user changed (a hash of the folder before and after)."""

from __future__ import annotations

import errno
import hashlib
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli import app

ROOT = Path(__file__).resolve().parents[1]
GC = ["--task", "custom", "--oracle", "tests.durable_oracles:gc", "--length", 5, "--quiet", "--device", "cpu"]
LONG = "x" * 300  # one path component over the 255 bytes of every common file system
runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def flat(text: str) -> str:
    """Output without the wrapping of a terminal box (Click's usage errors) or of long lines."""
    return re.sub(r"[\s│╭╮╰╯─]+", " ", text)


def one_line_error(r, *needles, code=2):
    assert r.exit_code == code, (r.exit_code, r.output, r.exception)
    assert "Traceback" not in r.output, r.output
    assert code != 2 or "please include it" not in r.output, r.output  # the user's condition, not a bug
    text = flat(r.output)
    for n in needles:
        assert n in text, r.output


def digest(folder: Path) -> dict[str, str]:
    """Every entry under ``folder``: file contents hashed, links by their target."""
    out = {}
    for p in sorted(Path(folder).rglob("*")):
        key = str(p.relative_to(folder))
        if p.is_symlink():
            out[key] = "-> " + os.readlink(p)
        elif p.is_file():
            out[key] = hashlib.sha256(p.read_bytes()).hexdigest()
        else:
            out[key] = "dir"
    return out


@pytest.fixture(scope="module")
def base_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("base") / "run"
    r = run("train", *GC, "--rounds", 3, "--out", out)
    assert r.exit_code == 0, r.output
    return out


@pytest.fixture
def trained(base_run, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(base_run, out)
    return out


# ---- outputs never land on a run's files, the input, or a file molgfn did not write ------------------
@pytest.mark.parametrize("target", ["checkpoint.pt", "config.json", "metrics.csv", "seen.jsonl", "scores.sqlite",
                                    "dotted", "symlink"])
def test_sample_output_never_replaces_a_file_of_a_run(trained, tmp_path, monkeypatch, target):
    monkeypatch.chdir(tmp_path)
    if target == "dotted":  # the same file, spelled another way
        dest = "./run/../run/config.json"
    elif target == "symlink":  # a link to a run file
        os.symlink(trained / "checkpoint.pt", tmp_path / "samples.csv")
        dest = "samples.csv"
    else:
        dest = str(trained / target)
    before = digest(tmp_path)
    one_line_error(run("sample", trained, "-n", 3, "-o", dest), "of the molgfn run", "--force")
    assert digest(tmp_path) == before


def test_scores_and_score_never_replace_what_they_read(trained, tmp_path):
    before = digest(trained)
    one_line_error(run("scores", trained, "-o", trained / "scores.sqlite"), "scores.sqlite", "--force")
    one_line_error(run("scores", trained / "scores.sqlite", "-o", trained / "scores.sqlite"), "input file")
    assert digest(trained) == before
    inp = tmp_path / "in.txt"
    inp.write_text("ACGTA\nGGGGG\n")
    one_line_error(run("score", *GC[:6], "--input", inp, "-o", inp, "--workers", 1), "is the input file", "--force")
    assert inp.read_text() == "ACGTA\nGGGGG\n"
    r = run("score", *GC[:6], "--input", inp, "-o", inp, "--workers", 1, "--force")  # said so: replaced
    assert r.exit_code == 0, r.output
    assert inp.read_text().splitlines()[0].split(",")[:2] == ["sequence", "raw_score"]


def test_an_existing_file_molgfn_did_not_write_needs_force(trained, tmp_path):
    user = tmp_path / "user.csv"
    user.write_text("precious,data\n1,2\n")
    args = ("sample", trained, "-n", 3, "--trust-oracle")
    one_line_error(run(*args, "-o", user), "molgfn did not write", "--force")
    assert user.read_text() == "precious,data\n1,2\n"
    mine = tmp_path / "samples.csv"
    for _ in range(2):  # molgfn's own output is replaced without a word
        r = run(*args, "-o", mine)
        assert r.exit_code == 0, r.output
    (tmp_path / "empty.csv").touch()  # an empty file holds nothing to lose (mktemp)
    assert run(*args, "-o", tmp_path / "empty.csv").exit_code == 0
    r = run(*args, "-o", user, "--force")
    assert r.exit_code == 0, r.output
    assert "raw_score" in user.read_text()


def test_a_hard_link_to_a_run_file_is_never_written_through(trained, tmp_path):
    before = digest(trained)
    os.link(trained / "checkpoint.pt", tmp_path / "ck.csv")
    one_line_error(run("sample", trained, "-n", 3, "-o", tmp_path / "ck.csv"), "molgfn did not write")
    r = run("sample", trained, "-n", 3, "-o", tmp_path / "ck.csv", "--force")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "ck.csv").read_text().startswith("sequence")
    assert digest(trained) == before  # the write replaced the name, never the linked file


def test_writing_to_a_pipe_writes_in_place(tmp_path):
    from molgfn.atomic import atomic_write_bytes

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(Path(fifo).read_bytes()), daemon=True)
    reader.start()
    atomic_write_bytes(fifo, b"a,b\n1,2\n")  # a rename over it would replace the pipe (or /dev/null) by a file
    reader.join(10)
    assert got == [b"a,b\n1,2\n"]
    assert fifo.is_fifo() and sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]


def test_report_never_replaces_a_report_molgfn_did_not_write(trained, tmp_path):
    d = tmp_path / "site"
    d.mkdir()
    (d / "report.html").write_text("<html>my own page</html>")
    before = digest(d)
    one_line_error(run("report", trained, "--out", d), "report.html", "molgfn did not write", "--force")
    assert digest(d) == before  # nothing written, not even the pictures
    (d / "report.html").write_text("")  # empty: nothing to lose
    for _ in range(2):  # then its own report, and the picture it tagged, are replaced without a word
        r = run("report", trained, "--out", d)
        assert r.exit_code == 0, r.output
    assert "molgfn report" in (d / "report.html").read_text()


def test_report_in_a_run_folder_replaces_its_own_pictures_only(trained):
    from molgfn.errors import InputError
    from molgfn.paths import check_output_dir

    names = ("report.html", "training_curves.png", "top_molecules.png")
    (trained / "training_curves.png").write_bytes(b"\x89PNG\r\n\x1a\n an older molgfn's picture, untagged")
    check_output_dir(trained, names, own_names=names[1:])  # a run's own picture names: molgfn's
    (trained / "report.html").write_text("<html>the user's page</html>")
    with pytest.raises(InputError, match="report.html"):
        check_output_dir(trained, names, own_names=names[1:])
    check_output_dir(trained, names, own_names=names[1:], force=True)


@pytest.mark.parametrize("marker", [".molgfn.lock", "seen.jsonl"])
def test_overwrite_of_a_user_folder_with_one_molgfn_file_name_deletes_nothing(tmp_path, marker):
    d = tmp_path / "mine"
    d.mkdir()
    (d / marker).write_text("")
    (d / "config.json").write_text('{"experiment": "mine"}')
    (d / "metrics.csv").write_text("week,weight\n1,70\n")
    (d / "candidates.csv").write_text("name\nalice\n")
    before = digest(d)
    for extra in (["--overwrite"], ["--resume"], []):
        one_line_error(run("train", *GC, "--rounds", 1, "--out", d, *extra), "not a molgfn run")
    assert digest(d) == before


def test_overwrite_needs_molgfns_config_and_checkpoint_together(trained, tmp_path):
    d = tmp_path / "copied"
    d.mkdir()
    shutil.copy(trained / "config.json", d)  # a run's config.json alone, beside the user's files
    (d / "metrics.csv").write_text("my,own\n")
    (d / "notes.txt").write_text("notes")
    before = digest(d)
    one_line_error(run("train", *GC, "--rounds", 1, "--out", d, "--overwrite"), "not a molgfn run")
    assert digest(d) == before
    (trained / "notes.txt").write_text("kept")  # a real run: --overwrite removes only molgfn's files
    r = run("train", *GC, "--rounds", 1, "--out", trained, "--overwrite")
    assert r.exit_code == 0, r.output
    assert (trained / "notes.txt").read_text() == "kept"


# ---- OS errors: one line naming the path, exit 2; the handler never fails ---------------------------
@pytest.mark.parametrize("case", ["train-out", "resume", "sample", "evaluate", "info", "report", "report-out",
                                  "sample-o", "score-input", "scores", "config", "bench-out"])
def test_a_name_over_255_bytes_is_one_line(trained, tmp_path, monkeypatch, case):
    monkeypatch.chdir(tmp_path)
    argv = {"train-out": ["train", *GC, "--rounds", 1, "--out", LONG],
            "resume": ["train", *GC, "--rounds", 1, "--out", LONG, "--resume"],
            "sample": ["sample", LONG], "evaluate": ["evaluate", LONG], "info": ["info", LONG],
            "report": ["report", LONG], "report-out": ["report", trained, "--out", LONG],
            "sample-o": ["sample", trained, "-n", 2, "-o", LONG + ".csv"],
            "score-input": ["score", *GC[:6], "--input", LONG],
            "scores": ["scores", LONG],
            "config": ["train", "--config", LONG + ".toml", "--out", "x"],
            "bench-out": ["bench", "--oracle", "tests.durable_oracles:gc", "--rounds", 1, "--seeds", 0,
                          "--methods", "tb", "--workers", 1, "--out", LONG]}[case]
    before = digest(tmp_path)
    r = run(*argv)
    assert r.exit_code == 2, (r.output, r.exception)
    assert "Traceback" not in r.output and "please include" not in r.output
    assert "too long" in flat(r.output) or "longer than" in flat(r.output), r.output
    assert digest(tmp_path) == before


@pytest.mark.slow  # a real molgfn process
def test_a_name_over_255_bytes_prints_one_line_and_no_traceback(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, str(ROOT / "cli.py"), "train", *map(str, GC), "--rounds", "1", "--out",
                        LONG], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "File name too long" in lines[0], r.stderr


def test_the_error_handler_never_fails_itself(trained, tmp_path, monkeypatch):
    import tempfile

    import cli
    import molgfn.commands.scoring

    class Odd(Exception):
        def __str__(self):
            raise RuntimeError("even the message is broken")

    def boom(*a, **k):
        raise Odd()

    monkeypatch.setattr(molgfn.commands.scoring, "_read_objects", boom)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / LONG))  # no log file can be written anywhere
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / LONG))
    (tmp_path / "in.txt").write_text("ACGTA\n")
    r = run("score", *GC[:6], "--input", tmp_path / "in.txt")
    assert r.exit_code == 1, (r.output, r.exception)
    assert "error: unexpected" in r.output and "Traceback" not in r.output
    monkeypatch.setattr(molgfn.commands.scoring, "_read_objects",
                        lambda *a, **k: (_ for _ in ()).throw(ValueError("a bug")))
    r = run("score", *GC[:6], "--input", tmp_path / "in.txt")
    one_line_error(r, "unexpected ValueError: a bug", "no log file could be written", code=1)

    def broken_print(*a, **k):  # stderr is gone: the handler still ends with the right code
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(cli.console, "print", broken_print)
    assert run("sample", tmp_path / "nothing").exit_code == 2


def test_os_error_messages_name_the_path_and_what_to_do():
    from molgfn.paths import os_error_message

    for code, words in ((errno.ENAMETOOLONG, "shorter"), (errno.ENOSPC, "disk is full"),
                        (errno.EROFS, "read-only"), (errno.EACCES, "permission"), (errno.ENOTDIR, "not a folder"),
                        (errno.EISDIR, "folder"), (errno.ELOOP, "symbolic links"), (errno.EFBIG, "ulimit")):
        msg = os_error_message(OSError(code, os.strerror(code), "/some/where.csv"))
        assert msg is not None and "/some/where.csv" in msg and words in msg and "\n" not in msg, msg
    assert os_error_message(OSError(errno.EBADF, "Bad file descriptor")) is None  # a bug of ours, not the user's


def _fail_fsync_of(monkeypatch, name: str, code: int = errno.ENOSPC) -> None:
    """Make every fsync of a file named ``name`` (or its temp file) fail as a full disk would."""
    real = os.fsync

    def fsync(fd):
        if f".{name}." in os.readlink(f"/proc/self/fd/{fd}") or os.readlink(f"/proc/self/fd/{fd}").endswith(name):
            raise OSError(code, os.strerror(code))
        return real(fd)

    monkeypatch.setattr(os, "fsync", fsync)


needs_proc = pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc/self/fd (Linux)")


@needs_proc
@pytest.mark.parametrize("name", ["config.json", "checkpoint.pt"])
def test_disk_full_during_a_run_is_one_line_and_leaves_nothing_half_written(tmp_path, monkeypatch, name):
    _fail_fsync_of(monkeypatch, name)
    out = tmp_path / "run"
    one_line_error(run("train", *GC, "--rounds", 2, "--out", out), f"{out / name}", "disk is full")
    assert not (out / name).exists()
    assert not [p.name for p in out.iterdir() if p.name.endswith(".tmp")]


@needs_proc
def test_disk_full_at_a_checkpoint_keeps_the_previous_one(trained, monkeypatch):
    before = (trained / "checkpoint.pt").read_bytes()
    _fail_fsync_of(monkeypatch, "checkpoint.pt")
    one_line_error(run("train", *GC, "--rounds", 6, "--out", trained, "--resume"), "checkpoint.pt", "disk is full")
    assert (trained / "checkpoint.pt").read_bytes() == before
    assert not [p.name for p in trained.iterdir() if p.name.endswith(".tmp")]
    monkeypatch.undo()
    r = run("train", *GC, "--rounds", 6, "--out", trained, "--resume")  # space again: it simply continues
    assert r.exit_code == 0, r.output


@pytest.mark.slow  # a real molgfn process under a file size limit
def test_a_file_size_limit_during_a_run_is_one_line(trained, tmp_path):
    """The real kernel, no root: RLIMIT_FSIZE makes the checkpoint write fail (EFBIG)."""
    resource = pytest.importorskip("resource")
    import signal

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))  # the checkpoint is larger

    before = (trained / "checkpoint.pt").read_bytes()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, str(ROOT / "cli.py"), "train", *map(str, GC), "--rounds", "5", "--out",
                        str(trained), "--resume"], env=env, capture_output=True, text=True, timeout=120,
                       preexec_fn=limit)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and "checkpoint.pt" in r.stderr and "ulimit" in r.stderr
    assert (trained / "checkpoint.pt").read_bytes() == before
    assert not [p.name for p in trained.iterdir() if p.name.endswith(".tmp")]


def _mount(*args) -> bool:
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    return subprocess.run(["mount", *args], capture_output=True).returncode == 0


def test_a_full_tmpfs_during_a_run_is_one_line(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    if not _mount("-t", "tmpfs", "-o", "size=200k", "tmpfs", str(disk)):
        pytest.skip("cannot mount a tmpfs here (needs root and mount permission)")
    try:
        one_line_error(run("train", *GC, "--rounds", 2, "--out", disk / "run"), "checkpoint.pt", "disk is full")
        assert not (disk / "run" / "checkpoint.pt").exists()
        assert not [p.name for p in (disk / "run").iterdir() if p.name.endswith(".tmp")]
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)


def test_evaluate_on_a_read_only_run_prints_its_metrics(trained, monkeypatch):
    import tempfile

    def read_only(*a, dir=None, **k):
        raise OSError(errno.EROFS, "Read-only file system", dir)

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    r = run("evaluate", trained, "--trust-oracle", "-n", 20, "--top-k", 5, "--format", "json")
    one_line_error(r, "top_k_mean_raw", "not saved", "evaluation.json", "read-only")
    assert not (trained / "evaluation.json").exists()


def test_a_read_only_run_folder_samples_evaluates_and_refuses_in_one_line(trained, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    if not _mount("--bind", str(trained), str(ro)):
        pytest.skip("cannot bind-mount here (needs root and mount permission)")
    try:
        if not _mount("-o", "remount,ro,bind", str(ro)):
            pytest.skip("cannot remount read-only here")
        before = digest(trained)
        r = run("evaluate", ro, "--trust-oracle", "-n", 20, "--top-k", 5)
        one_line_error(r, "top_k_mean_raw", "not saved", "read-only")
        r = run("sample", ro, "-n", 3, "--trust-oracle")
        assert r.exit_code == 0 and "raw_score" in r.output, r.output
        one_line_error(run("report", ro), "cannot write the report", "--out")
        one_line_error(run("train", *GC, "--rounds", 5, "--out", ro, "--resume"), "Read-only")
        assert digest(trained) == before
    finally:
        subprocess.run(["umount", str(ro)], capture_output=True)


# ---- damaged or missing run files ------------------------------------------------------------------
def test_resume_with_config_json_deleted_is_one_line(trained):
    (trained / "config.json").unlink()
    before = digest(trained)
    one_line_error(run("train", *GC, "--rounds", 5, "--out", trained, "--resume"), "no config.json", "backup")
    one_line_error(run("train", *GC, "--rounds", 5, "--out", trained, "--overwrite"), "config.json")
    assert digest(trained) == before


@pytest.mark.parametrize("damage", ["[1,2,3]", "truncated", "binary", "folder"])
def test_a_damaged_config_is_one_line_for_every_command(trained, damage):
    cfg = trained / "config.json"
    text = cfg.read_text()
    cfg.unlink()
    if damage == "folder":
        cfg.mkdir()
    else:
        cfg.write_bytes({"[1,2,3]": b"[1,2,3]", "truncated": text[: len(text) // 2].encode(),
                         "binary": bytes(range(256))}[damage])
    before = digest(trained)
    for argv in (["report", trained], ["info", trained], ["sample", trained], ["evaluate", trained, "--trust-oracle"],
                 ["train", *GC, "--rounds", 5, "--out", trained, "--resume"]):
        one_line_error(run(*argv), "config.json")
    assert digest(trained) == before


def test_an_oracle_module_that_fails_to_import_is_one_line(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    tag = f"m{os.getpid()}_{abs(hash(str(tmp_path))) % 10**6}"
    (tmp_path / f"{tag}_raises.py").write_text("x = 1\nraise RuntimeError('no licence server')\n")
    (tmp_path / f"{tag}_syntax.py").write_text("def f(seqs):\n    return [0 for s in seqs\n")
    (tmp_path / f"{tag}_exits.py").write_text("import sys\nsys.exit(3)\n")
    (tmp_path / f"{tag}_needs.py").write_text("import no_such_package_xyz\n")
    cases = {"raises": ("RuntimeError", "no licence server", f"{tag}_raises.py:2"),
             "syntax": ("syntax error", f"{tag}_syntax.py:2"),
             "exits": ("SystemExit",),
             "needs": ("no_such_package_xyz", "install")}
    for kind, needles in cases.items():
        argv = ["train", "--task", "custom", "--oracle", f"{tag}_{kind}:f", "--length", 4, "--rounds", 1,
                "--out", tmp_path / f"out_{kind}"]
        one_line_error(run(*argv), f"{tag}_{kind}", *needles)
        assert not (tmp_path / f"out_{kind}").exists()


def test_bench_out_naming_a_file_or_a_foreign_results_file_is_one_line(tmp_path):
    f = tmp_path / "notes.txt"
    f.write_text("mine")
    bench = ["bench", "--oracle", "tests.durable_oracles:gc", "--rounds", 1, "--seeds", 0, "--methods", "tb",
             "--workers", 1]
    one_line_error(run(*bench, "--out", f), "is a file")
    assert f.read_text() == "mine"
    d = tmp_path / "paper"
    d.mkdir()
    (d / "results.md").write_text("# my results\n")
    before = digest(d)
    one_line_error(run(*bench, "--out", d), "results.md", "--force")
    assert digest(d) == before
