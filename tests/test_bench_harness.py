"""bench/harness.py: its pieces (medians, tables, command line, interleaved turns, child processes), every
bench script built on it (or a listed exemption with its reason), and each converted script's --help."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"

# scripts not (yet) on the harness, each with its reason
EXEMPT = {
    "harness.py": "the harness itself",
    "oracles.py": "needs the xtb and vina programs to run at all (absent where the harness was written), so a "
                  "conversion could not be checked by running it",
}


def _load():
    spec = importlib.util.spec_from_file_location("bench_harness", BENCH / "harness.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


H = _load()


def _scripts() -> list[Path]:
    return sorted(p for p in BENCH.glob("*.py"))


def _uses_harness(path: Path) -> bool:
    return re.search(r"^(from harness import|import harness)\b", path.read_text(), re.M) is not None


def test_median_spread_summary():
    assert H.median([3, 1, 2]) == 2
    assert H.median(x for x in (4.0, 1.0, 2.0, 3.0)) == 2.5
    assert H.spread([3, 1, 2]) == (1, 3)
    assert H.summary([0.5, 0.25, 1.0], ".2f") == "0.50 (0.25-1.00)"


def test_table_is_markdown_with_one_row_per_row():
    text = H.table(["a", "b"], [(1, "x"), (2.5, "y")])
    assert text.splitlines() == ["| a | b |", "|---|---|", "| 1 | x |", "| 2.5 | y |"]


def test_print_table_puts_the_head_and_a_blank_line_first(capsys):
    H.print_table(["k", "v"], [("a", 1)], head="command: `x`")
    H.print_row("b", 2)
    assert capsys.readouterr().out.splitlines() == ["command: `x`", "", "| k | v |", "|---|---|", "| a | 1 |",
                                                    "| b | 2 |"]


def test_command_names_the_script_and_quotes_its_arguments(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["/some/where/bench/thing.py", "--n", "3", "--label", "my tree"])
    assert H.command("nice -n 10 python") == "nice -n 10 python bench/thing.py --n 3 --label 'my tree'"
    monkeypatch.setattr(sys, "argv", ["bench/thing.py"])
    assert H.command() == "python bench/thing.py"
    assert H.command("py", ["--x"], script="other.py") == "py bench/other.py --x"


def test_parser_adds_only_the_common_flags_asked_for():
    ap = H.parser("First line.\n\nMore.", repeats=3, seeds=[0, 1], device="cpu")
    assert ap.description == "First line."
    a = ap.parse_args([])
    assert (a.repeats, a.seeds, a.device) == (3, [0, 1], "cpu")
    assert not hasattr(a, "threads") and not hasattr(a, "csv") and not hasattr(a, "seed")
    a = ap.parse_args(["--repeats", "5", "--seeds", "4", "5", "6"])
    assert (a.repeats, a.seeds) == (5, [4, 5, 6])
    with pytest.raises(SystemExit):
        ap.parse_args(["--threads", "2"])
    assert H.parser("A.\n\nB.", first="paragraph").description == "A."
    assert H.parser("A.\nB.\n\nC.", first="paragraph").description == "A.\nB."


def test_interleave_takes_turns_and_times_each_call():
    calls = []
    times = H.interleave({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, 2, per_turn=2,
                         before=lambda name: calls.append(name.upper()))
    assert calls == ["A", "a", "a", "B", "b", "b"] * 2
    assert {k: len(v) for k, v in times.items()} == {"a": 4, "b": 4}
    assert all(t >= 0 for v in times.values() for t in v)
    med, out = H.timed(lambda: 42, 3)
    assert out == 42 and med >= 0


def test_child_returns_the_last_json_line_and_reports_failures(tmp_path):
    script = tmp_path / "c.py"
    script.write_text("import json, os, sys\nprint('noise')\nprint(json.dumps({'x': int(sys.argv[1]), "
                      "'env': os.environ.get('HARNESS_T')}))\nsys.exit(int(sys.argv[2]))\n")
    assert H.child([script, 7, 0], env={"HARNESS_T": "yes"}) == {"x": 7, "env": "yes"}
    with pytest.raises(RuntimeError, match="failed"):
        H.child([script, 1, 3])


def test_every_bench_script_uses_the_harness_or_is_listed():
    names = {p.name for p in _scripts()}
    assert set(EXEMPT) <= names, f"exempt scripts that no longer exist: {set(EXEMPT) - names}"
    missing = [p.name for p in _scripts() if p.name not in EXEMPT and not _uses_harness(p)]
    assert not missing, f"bench scripts neither on bench/harness.py nor listed in EXEMPT with a reason: {missing}"
    listed_but_converted = [n for n in EXEMPT if n != "harness.py" and _uses_harness(BENCH / n)]
    assert not listed_but_converted, f"now on the harness, drop from EXEMPT: {listed_but_converted}"


_HELP_ALL = """
import contextlib, io, json, runpy, sys
paths, res = sys.argv[1:], {}
sys.path.insert(0, paths[0].rsplit("/", 1)[0])  # bench/, as for a script run from there
for path in paths:
    sys.argv, out = [path, "--help"], io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            runpy.run_path(path, run_name="__main__")
        res[path] = ["did not exit", out.getvalue()[:300]]
    except SystemExit as e:
        res[path] = [e.code, out.getvalue()[:300]]
    except BaseException as e:
        res[path] = [repr(e), ""]
print(json.dumps(res))
"""


def test_each_converted_script_answers_help():
    # one child process runs every script's --help in turn (torch is imported once, not once per script)
    converted = [str(p) for p in _scripts() if p.name not in EXEMPT]
    run = subprocess.run([sys.executable, "-c", _HELP_ALL, *converted], capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    res = json.loads(run.stdout.strip().splitlines()[-1])
    assert sorted(res) == converted
    bad = {Path(p).name: r for p, r in res.items() if r[0] not in (0, None) or not r[1].startswith("usage:")}
    assert not bad, f"--help failed: {bad}"


def test_the_checkout_comes_before_site_packages_and_after_pythonpath(tmp_path):
    code = ("import sys, importlib.util; spec = importlib.util.spec_from_file_location('h', sys.argv[1]); "
            "spec.loader.exec_module(importlib.util.module_from_spec(spec)); "
            "print(sys.path.index(sys.argv[2]), sys.path.index(sys.argv[3]), "
            "min(i for i, p in enumerate(sys.path) if 'site-packages' in p))")
    other = tmp_path / "other_tree"  # what PYTHONPATH names (not the working folder)
    other.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run = subprocess.run([sys.executable, "-c", code, str(BENCH / "harness.py"), str(other), str(ROOT)],
                         capture_output=True, text=True, env={**env, "PYTHONPATH": str(other)}, cwd=tmp_path)
    given, root, site = map(int, run.stdout.split())
    assert given < root < site
