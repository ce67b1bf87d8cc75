"""Fault injection, generated: bad values for every option of every command, every oracle failure
mode under each executor and through the library, damaged run files, full and read-only disks,
and signals at random moments. Every case must end in a clean result: exit 0, 2, 130 or 143, no
raw traceback, no "please report" for the user's own condition, no process left behind, no file
outside the case's own outputs changed, and a successful run's outputs must make sense.

The cases run in children forked from this process (tests/faultlib.py), two at a time; one test
per case reports its findings, and the last test fails with the whole findings table (case,
owner, class, the reproducing command, the last lines of output) when any case has one.
FAULT_FINDINGS=FILE also writes that table to FILE; FAULT_PROGRESS=FILE a line per finished case;
FAULT_JOBS=N runs N cases at a time (default 2); FAULT_DISK=fake uses the fake filesystem layer for
the full / read-only disk cases even where a tmpfs can be mounted (the fallback otherwise).
"""

from __future__ import annotations

import errno
import os
import random
import shutil
import signal
import sys
import time
from enum import Enum
from pathlib import Path

import pytest
import typer

from . import faultlib as F
from .faultlib import Case
from .receptor_helpers import complex_pdb

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="fork, /proc and mounts: Linux only")

PY = sys.executable
CLI = str(F.ROOT / "cli.py")
GC = "tests.fault_oracles:ok"
TRAIN = ["--task", "custom", "--oracle", GC, "--length", "4", "--rounds", "2", "--batch-size", "8", "--hidden",
         "16", "--quiet", "--device", "cpu"]
TEMPLATES: dict[str, Path] = {}


# ---- setups ------------------------------------------------------------------------------------
def with_run(d: Path, name: str = "run", template: str = "run") -> Path:
    """A copy of a finished design run at d/name, with a user's notes inside it."""
    dst = d / name
    shutil.copytree(TEMPLATES[template], dst, ignore=shutil.ignore_patterns(".molgfn.lock"))
    (dst / "notes.txt").write_text("my notes on this run\n")
    return dst


def base_setup(d: Path) -> None:
    """Every option case: a run, a user file, a user folder, an input file for score."""
    with_run(d)
    (d / "afile").write_text("a user's file\n")
    (d / "adir").mkdir()
    (d / "adir" / "thesis.tex").write_text("years of work\n")
    (d / "in.csv").write_text("sequence\nACGT\nGGCC\nTTTT\nCAGA\n")
    (d / "lib.smi").write_text("CC(=O)Nc1ccc(O)cc1\nCC(=O)Oc1ccccc1C(=O)O\nCN1CCC[C@H]1c1cccnc1\n")  # fragments build
    complex_pdb(d / "protein.pdb")  # receptor prepare: a peptide with a ligand LIG, waters and ions
    for name, text in TOMLS.items():
        (d / f"{name}.toml").write_bytes(text if isinstance(text, bytes) else text.encode())


TOMLS = {
    "garbage": "this is = = not toml [[[\n",
    "binary": b"\x00\xff\xfe\x89PNG\r\n\x1a\n",
    "wrongtype": 'rounds = "many"\nhidden = [1, 2]\n',
    "negative": "rounds = -5\nbatch-size = 0\n",
    "huge": "hidden = 1000000000000\nrounds = 1e308\n",
    "nan": "lr = nan\nepsilon = inf\n",
    "unknown": "no-such-option = 1\n",
    "table": "[train]\nrounds = 2\n[[x]]\ny = 1\n",
    "empty": "",
    "deep": "a = " + "[" * 5000 + "]" * 5000 + "\n",
}


# ---- the options of every command ----------------------------------------------------------------
INT_BAD = [("neg", "-1"), ("zero", "0"), ("huge", "1000000000000"), ("sci", "1e12"), ("nan", "nan"), ("empty", ""),
           ("text", "12abc")]
FLOAT_BAD = [("neg", "-1"), ("zero", "0"), ("huge", "1e308"), ("neghuge", "-1e308"), ("nan", "nan"), ("inf", "inf"),
             ("neginf", "-inf"), ("empty", ""), ("text", "abc")]
STR_BAD = [("empty", ""), ("comma", ","), ("colon", ":"), ("nan", "nan"), ("ctl", "\x1b[31m\x07\u00e9\u2603\u202e"),
           ("long", "x" * 5000)]
PATH_BAD = [("nonexistent", "{D}/nope/deeper"), ("longname", "{D}/" + "x" * 300), ("afile", "{D}/afile"),
            ("adir", "{D}/adir"), ("runfile", "{D}/run/checkpoint.pt"), ("rundir", "{D}/run"), ("empty", ""),
            ("ctl", "{D}/ctl\x1b[2J\u00e9")]
ENUM_BAD = [("bogus", "bogus"), ("empty", "")]
# malformed specs, per option name (beside the generic values of its type)
SPECS = {
    "task_option": [("workers0", "workers=0"), ("workersneg", "workers=-1"), ("noeq", "length"), ("eq", "="),
                    ("lenhuge", "length=1000000000000"), ("unknown", "nosuch=1")],
    "oracle": [("nomod", "nosuchmodule_xyz:f"), ("noattr", "tests.fault_oracles:nosuch"),
               ("nofn", "tests.fault_oracles"),
               ("notcallable", "tests.fault_oracles:PER_OBJECT"), ("osmodule", "os:getcwd")],
    "alphabet": [("repeat", "AA"), ("unicode", "\u03b1\u03b2\u03b3\u03b4"), ("one", "A")],
    "objectives": [("dup", "gc,gc"), ("hole", "gc,,at"), ("three", "a,b,c")],
    "weights": [("overflow", "1e308,1e308"), ("nanw", "nan,1"), ("negw", "-1,1"), ("zeros", "0,0"), ("textw", "a,b"),
                ("count", "1,2,3")],
    "transform": [("badkind", "gc=bogus"), ("nanparam", "gc=sigmoid:nan,1,1"), ("noname", "=sigmoid:0,1,1"),
                  ("unknownobj", "zz=identity")],
    "preference_dist": [("zero", "dirichlet:0"), ("neg", "dirichlet:-1"), ("nanp", "dirichlet:nan"),
                        ("bogus", "bogus:1")],
    "beta_dist": [("zero", "fixed:0"), ("neg", "fixed:-1"), ("nanb", "fixed:nan"), ("infb", "fixed:inf"),
                  ("reversed", "uniform:5,1"), ("bogus", "bogus")],
    "beta": [("zero", "0"), ("neg", "-1"), ("list", "1,,2"), ("infb", "inf")],
    "filters": [("bogus", "bogus"), ("op", "mw>"), ("nanf", "mw<nan")],
    "preference": [("three", "1,0,0"), ("nanp", "nan,1"), ("neg", "-1,2"), ("zeros", "0,0")],
    "seeds": [("text", "a,b"), ("neg", "-1"), ("huge", "1000000000000")],
    "methods": [("bogus", "bogus")],
    "tasks": [("bogus", "bogus,custom")],
    "column": [("nosuch", "nosuch")],
    "config": [(n, "{D}/" + n + ".toml") for n in TOMLS],
    "output": [("runcheckpoint", "{D}/run/checkpoint.pt"), ("runconfig", "{D}/run/config.json"),
               ("runmetrics", "{D}/run/metrics.csv"), ("runstore", "{D}/run/scores.sqlite"),
               ("userfile", "{D}/afile"), ("weirdext", "{D}/out.weird")],
    "out_dir": [("userdirfile", "{D}/adir/thesis.tex")],
    "names": [("unknown", "no-such-asset"), ("traversal", "../../etc/passwd")],
}
# the values an option gets again under another command
FEW = {"neg", "huge", "nan", "text", "longname", "afile", "runfile", "empty", "ctl", "bogus"}
# options whose huge value is a long run by design: stopped by Ctrl-C, which must end it cleanly (130)
LONG_BY_DESIGN = {("train", "rounds"), ("design", "rounds"), ("bench", "rounds")}

BASE = {
    "tasks": [],
    "train": [*TRAIN, "--out", "{D}/out"],
    "design": [*TRAIN, "--num-samples", "8", "--num-candidates", "5", "--out", "{D}/out"],
    "sample": ["{D}/run", "-n", "5", "-o", "{D}/s.csv", "--trust-oracle"],
    "score": ["--task", "custom", "--oracle", GC, "--length", "4", "-i", "{D}/in.csv", "-o", "{D}/scored.csv"],
    "evaluate": ["{D}/run", "-n", "16", "--top-k", "4", "--trust-oracle"],
    "bench": ["--tasks", "custom", "--oracle", GC, "--length", "4", "--methods", "tb", "--seeds", "0", "--rounds", "2",
              "--workers", "1", "--progress", "none", "--out", "{D}/bench"],
    "report": ["{D}/run", "--out", "{D}/rep"],
    "info": ["{D}/run"],
    "scores": ["{D}/run/scores.sqlite", "-o", "{D}/sc.csv"],
    "data list": [],
    "data fetch": ["no-such-asset"],
    "data import": ["{D}/nope"],
    "fragments build": ["{D}/lib.smi", "-o", "{D}/blocks.json"],
    "receptor prepare": ["{D}/protein.pdb", "--out", "{D}/rec", "--ligand-resname", "LIG"],
}
STORE = "run/scores.sqlite*"  # scoring with a run's oracle adds to the run's own score store
OUTPUTS = {"train": ("out/",), "design": ("out/",), "sample": ("s.csv", STORE), "score": ("scored.csv",),
           "evaluate": ("run/evaluation.json", STORE), "bench": ("bench/",), "report": ("rep/",), "scores": ("sc.csv",),
           "fragments build": ("blocks.json",), "receptor prepare": ("rec/",)}
OWNER_BY_OPTION = {"oracle_timeout": "procs", "workers": "procs", "executor": "procs", "chunk_size": "procs",
                   "oracle_retries": "procs", "ray_address": "procs", "score_store": "oracle", "print_config": "bounds",
                   "output": "files", "out_dir": "files", "config": "files", "resume": "files", "overwrite": "files"}


def commands():
    """(command path, click params) for every command of the app."""
    from cli import app

    def walk(c, prefix=()):
        if hasattr(c, "commands"):
            for n, sc in c.commands.items():
                yield from walk(sc, (*prefix, n))
        else:
            yield " ".join(prefix), c.params

    yield from walk(typer.main.get_command(app))


def kind_of(param) -> str:
    ann = param.type_descriptor.annotation
    inner = getattr(ann, "__args__", None)
    if inner:  # list[X]
        ann = inner[0]
    if getattr(param, "is_flag", False):
        return "flag"
    if isinstance(ann, type) and issubclass(ann, Enum):
        return "enum"
    if ann is int:
        return "int"
    if ann is float:
        return "float"
    if ann is Path:
        return "path"
    return "str"


def strip_option(argv: list[str], param) -> list[str]:
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
            continue
        if a in param.opts:
            skip = True
            continue
        out.append(a)
    return out


def argval(argv: list[str], *names: str, default=None):
    val = default
    for i, a in enumerate(argv[:-1]):
        if a in names:
            val = argv[i + 1]
    return val


def option_cases() -> list[Case]:
    cases = []
    covered = set()  # train's options are not tried again under design
    tried_names = set()
    for cmd, params in commands():
        base = BASE[cmd]
        for p in params:
            if cmd == "design" and p.name in covered:
                continue
            if cmd == "train":
                covered.add(p.name)
            k = kind_of(p)
            if k == "flag":
                continue  # no value to get wrong (their combinations are the other groups' cases)
            generic = {"int": INT_BAD, "float": FLOAT_BAD, "str": STR_BAD, "path": PATH_BAD, "enum": ENUM_BAD}[k]
            if p.name in ("output",):  # a path given as a string
                generic = PATH_BAD
            if p.name in tried_names:  # the same option of another command: a few values (it parses alike)
                generic = [v for v in generic if v[0] in FEW]
            tried_names.add(p.name)
            values = generic + [(f"spec-{lab}", v) for lab, v in SPECS.get(p.name, [])]
            positional = not getattr(p, "opts", [""])[0].startswith("-")
            for label, value in values:
                if positional:
                    argv = [value, *base[1:]] if base and not base[0].startswith("-") else [value, *base]
                else:
                    argv = [*strip_option(base, p), p.opts[0], value]
                cid = f"opt:{cmd.replace(' ', '-')}:{p.name}:{label}"
                outputs = OUTPUTS.get(cmd, ())
                if p.name == "score_store":
                    outputs = (*outputs, value.replace("{D}/", ""))  # a store is shared on purpose
                long = (cmd, p.name) in LONG_BY_DESIGN and label == "huge"
                cases.append(Case(cid, "options", OWNER_BY_OPTION.get(p.name, "bounds"), argv=[cmd.split()[0]] +
                                  cmd.split()[1:] + argv, setup=base_setup, outputs=outputs, check=check_cli,
                                  interrupt_after=8 if long else None))
    return cases


# ---- checks of a successful run --------------------------------------------------------------------
def check_cli(d: Path, r: F.Result) -> list[str]:
    import pandas as pd

    argv = [a.format(D=d) for a in r.case.argv]
    cmd = argv[0]
    bad = []
    if cmd in ("train", "design") and "--print-config" not in argv:
        out = d / argval(argv, "--out", default="runs/latest")
        for f in ("config.json", "checkpoint.pt", "metrics.csv"):
            if not (out / f).exists():
                bad.append(f"exit 0 but no {f}")
        if bad:
            return bad
        rounds = argval(argv, "--rounds")
        m = pd.read_csv(out / "metrics.csv")
        if rounds is not None and not r.case.interrupt_after and len(m) != int(rounds):
            bad.append(f"metrics.csv has {len(m)} rows for --rounds {rounds}")
        if cmd == "design":
            c = pd.read_csv(out / "candidates.csv")
            bad += F.finite_column(c, "reward")
            n = int(argval(argv, "--num-candidates", default="100"))
            betas = max(1, len([b for b in str(argval(argv, "--beta", default="")).split(",") if b.strip()]))
            oracle = argval(argv, "--oracle", default="")
            every_call_fails = (oracle.startswith("tests.fault_oracles:") and oracle.split(":")[1].removeprefix(
                "vec_").removeprefix("scalar_") in BATCH_FAULTS)  # no valid object: an empty list is right
            if (len(c) == 0 and not every_call_fails) or len(c) > n * betas:  # several betas: a list per beta
                bad.append(f"candidates.csv has {len(c)} rows for --num-candidates {n} and {betas} beta(s)")
            bad += invalid_objects(c, argv)
    elif cmd == "sample":
        o = argval(argv, "-o", "--output", default="-")
        if o != "-" and Path(o).suffix == ".csv":
            s = pd.read_csv(d / o)
            n = int(argval(argv, "-n", "--num-samples", default="100"))
            if len(s) != n:
                bad.append(f"{len(s)} samples written for -n {n}")
            if "reward" in s.columns:
                bad += F.finite_column(s, "reward")
    elif cmd == "score":
        o = argval(argv, "-o", "--output", default="-")
        if o != "-" and Path(o).suffix == ".csv":
            s = pd.read_csv(d / o)
            if len(s) != 4:
                bad.append(f"{len(s)} rows scored for 4 objects")
    elif cmd == "report":
        o = d / argval(argv, "--out", default=str(argv[1]))  # relative: to the case folder, its working directory
        if not (o / "report.html").exists():
            bad.append("exit 0 but no report.html")
    return bad


def invalid_objects(c, argv) -> list[str]:
    """Candidates of the custom task: each a word of --length over the --alphabet, and none of the
    objects a faulty oracle failed on (those start with 'A' in tests/fault_oracles.py)."""
    col = "sequence" if "sequence" in c.columns else c.columns[1]
    objs = [str(o) for o in c[col]]
    alphabet = argval(argv, "--alphabet", default="ACGT")
    length = int(argval(argv, "--length", default="8"))
    wrong = [o for o in objs if len(o) != length or any(ch not in alphabet for ch in o)]
    out = [f"{len(wrong)} candidate(s) not of the task: {wrong[:3]}"] if wrong else []
    oracle = argval(argv, "--oracle", default="")
    name = oracle.split(":")[1] if oracle.startswith("tests.fault_oracles:") else "ok"
    if name.removeprefix("vec_").removeprefix("scalar_") in BATCH_FAULTS and objs:
        out.append(f"{len(objs)} candidate(s) though the oracle failed on every call: {objs[:3]}")
    elif name not in FAULTLESS:
        failed = [o for o in objs if o.startswith("A")]
        if failed:
            out.append(f"{len(failed)} candidate(s) the oracle failed on: {failed[:3]}")
    return out


# faults of the whole call: every object fails (re-run one by one, each call is still wrong)
BATCH_FAULTS = {"short", "long", "returns_none", "width", "dict"}
# faults that do not fail on any object (they are slow, noisy, huge or spawn a process)
FAULTLESS = {"ok", "vec_ok", "noisy", "vec_noisy", "spawns", "vec_spawns", "slow", "huge", "vec_huge"}


# ---- oracles -----------------------------------------------------------------------------------------
def oracle_cases() -> list[Case]:
    from . import fault_oracles as O

    cases = []
    # the default executor for a Python oracle is the process pool (auto), so process + stop is the default
    variants = [("default", [], "stop"), ("local", ["--executor", "local"], "stop"),
                ("process", ["--executor", "process"], "invalid")]
    for form, names in (("scalar", O.ALL), ("vector", O.VEC_ALL)):
        for fault in names:
            fn = fault if form == "scalar" else "vec_" + fault
            if form == "scalar" and fault == "dict":
                fn = "scalar_dict"
            obj = ["--objectives", "gc,at"] if form == "vector" else []
            for ex, ex_args, on_err in variants:
                argv = ["design", "--task", "custom", "--oracle", f"tests.fault_oracles:{fn}", "--length", "4",
                        "--rounds", "2", "--batch-size", "8", "--hidden", "16", "--quiet", "--device", "cpu",
                        "--num-samples", "8", "--num-candidates", "5", "--oracle-timeout", "1",
                        "--on-oracle-error", on_err, *obj, *ex_args, "--out", "{D}/out"]
                note, bound = "", ()
                if ex == "local" and fault in ("os_exit", "segfault"):  # the README's documented bound
                    note = "in-process by request (--executor local): the oracle's exit or crash is the process's"
                    bound = ("crash", "silent-wrong")
                cases.append(Case(f"oracle:{form}:{fault}:{ex}:{on_err}", "oracle", "oracle" if form == "vector"
                                  else "procs", argv=argv, outputs=("out/",), check=check_cli, note=note,
                                  bound=bound, timeout=60.0 if fault == "hang" else 20.0))
    # the oracle's module itself misbehaves
    modules = {"importerror": "import nosuchmodule_xyz\n", "syntaxerror": "def f(seqs:\n    return 1\n",
               "raisesonimport": "raise RuntimeError('no licence server')\n",
               "slowimport": "import time\ntime.sleep(2)\n",
               "exitonimport": "import sys\nsys.exit(4)\n"}
    for label, head in modules.items():
        for form in ("scalar", "vector"):
            for ex in ("default", "process"):
                mod = f"usermod_{label}"
                body = head + ("def f(seqs):\n    return [[s.count('G') / len(s), 0.5] for s in seqs]\n" if form ==
                               "vector" else "def f(seqs):\n    return [s.count('G') / len(s) for s in seqs]\n")

                def setup(d, mod=mod, body=body):
                    (d / f"{mod}.py").write_text(body)

                argv = ["design", "--task", "custom", "--oracle", f"{mod}:f", "--length", "4", "--rounds", "2",
                        "--batch-size", "8", "--hidden", "16", "--quiet", "--device", "cpu", "--num-samples", "8",
                        "--num-candidates", "5", "--out", "{D}/out",
                        *(["--objectives", "gc,at"] if form == "vector" else []),
                        *(["--executor", "process"] if ex == "process" else [])]
                cases.append(Case(f"module:{form}:{label}:{ex}", "oracle", "files", argv=argv, setup=setup,
                                  outputs=("out/", "__pycache__/"), check=check_cli))
    return cases


def ray_available() -> bool:
    try:
        import importlib.util

        return importlib.util.find_spec("ray") is not None
    except (ImportError, ValueError):
        return False


def ray_cases() -> list[Case]:
    """Few (Ray starts in seconds): real processes, so that Ray's own processes are found too."""
    cases = []
    for form, fault in (("scalar", "segfault"), ("vector", "hang")):
        fn = fault if form == "scalar" else "vec_" + fault
        argv = [PY, CLI, "design", "--task", "custom", "--oracle", f"tests.fault_oracles:{fn}", "--length", "4",
                "--rounds", "2", "--batch-size", "8", "--hidden", "16", "--quiet", "--device", "cpu", "--num-samples",
                "8", "--num-candidates", "5", "--executor", "ray", "--workers", "2", "--oracle-timeout", "1",
                "--on-oracle-error", "invalid" if fault == "segfault" else "stop",
                *(["--objectives", "gc,at"] if form == "vector" else []), "--out", "{D}/out"]

        def check(d, r, argv=argv):
            return check_cli(d, F.Result(Case("x", "", "", argv=argv[2:]), code=0))

        cases.append(Case(f"ray:{form}:{fault}", "oracle", "oracle" if form == "vector" else "procs",
                          subprocess_argv=argv, outputs=("out/",),
                          check=check, timeout=120))
    return cases


# ---- the library API ------------------------------------------------------------------------------
def api_cases() -> list[Case]:
    from . import fault_oracles as O

    cases = []
    for form, names in (("scalar", O.ALL), ("vector", O.VEC_ALL)):
        for fault in names:
            fn_name = fault if form == "scalar" else "vec_" + fault
            if form == "scalar" and fault == "dict":
                fn_name = "scalar_dict"
            for variant in ("default", "process"):
                def call(d, fn_name=fn_name, form=form, variant=variant):
                    return api_design(d, fn_name, form, variant)

                call.__doc__ = (f"design(FunctionTask(tests.fault_oracles.{fn_name}, length=4"
                                + (", objectives='gc,at'" if form == "vector" else "") + ")"
                                + (", after configure_task(task, OracleSettings(executor='process', workers=2, "
                                   "timeout=1, on_error='invalid'))" if variant == "process" else "")
                                + ", out, rounds=2, batch_size=8, hidden=16, num_samples=8, num_candidates=5)")
                inproc = variant == "default" and fault in ("hang", "os_exit", "segfault")
                note = ("the library's default runs a small batch in-process (README: an oracle's crash or exit is "
                        "the caller's; a hang ends at the 600 s per-object timeout)" if inproc else "")
                cases.append(Case(f"api:{form}:{fault}:{variant}", "api", "oracle" if form == "vector" else "procs",
                                  fn=call, outputs=("out/",), note=note,
                                  bound=("crash", "silent-wrong", "hang") if inproc else (),
                                  timeout=60.0 if fault == "hang" and not inproc else 20.0))
    # bad arguments to the library's verbs
    for label, kw in (("n_neg", {"n": -5}), ("n_zero", {"n": 0}), ("n_huge", {"n": 10 ** 12}), ("beta_nan",
                      {"beta": float("nan")}), ("beta_neg", {"beta": -1.0}), ("n_float", {"n": 2.5})):
        def call(d, kw=kw):
            return api_sample(d, kw)

        call.__doc__ = f"sample(load_run(RUN, FunctionTask(ok, length=4)), **{kw})"
        cases.append(Case(f"api:sample:{label}", "api", "bounds", fn=call, setup=lambda d: with_run(d)))
    for label, kw in (("rounds_neg", {"rounds": -1}), ("batch_zero", {"batch_size": 0}),
                      ("lr_nan", {"lr": float("nan")}),
                      ("hidden_huge", {"hidden": 16384, "n_layers": 64}), ("unknown", {"roundz": 2}),
                      ("seed_neg", {"seed": -1}), ("weights_overflow", {"objectives": "gc,at",
                                                                       "weights": "1e308,1e307"})):
        def call(d, kw=kw):
            return api_bad_settings(d, kw)

        call.__doc__ = f"design(FunctionTask(ok, length=4), out, **{kw})"
        cases.append(Case(f"api:settings:{label}", "api", "bounds", fn=call, outputs=("out/",)))
    return cases


def _api_errors(fn):
    """Run a library call the way a user's script does: a MolgfnError (or ValueError/TypeError
    naming the bad argument) is the clean outcome, exit 2; anything else propagates (exit 1,
    traceback: a finding)."""
    from molgfn.errors import MolgfnError

    try:
        return fn()
    except MolgfnError as e:
        msg = str(e)
        print(f"error: {msg}", file=sys.stderr)
        if "\n" in msg.strip():
            print("(finding: a multi-line error)", file=sys.stderr)
            return 1
        return 2


def api_design(d: Path, fn_name: str, form: str, variant: str) -> int:
    import math

    from molgfn import FunctionTask, design
    from molgfn.oracle.cached import OracleSettings, configure_task

    from . import fault_oracles as O

    def go():
        task = FunctionTask(getattr(O, fn_name), alphabet="ACGT", length=4,
                            objectives="gc,at" if form == "vector" else None)
        if variant == "process":
            configure_task(task, OracleSettings(executor="process", workers=2, timeout=1, on_error="invalid"))
        df = design(task, d / "out", rounds=2, batch_size=8, hidden=16, num_samples=8, num_candidates=5,
                    device="cpu")
        wrong = []
        fault = fn_name.removeprefix("vec_")
        if fault in BATCH_FAULTS and len(df):
            wrong.append(f"{len(df)} candidates though the oracle failed on every call")
        elif fn_name not in FAULTLESS and any(str(s).startswith("A") for s in df["sequence"]):
            wrong.append("a candidate the oracle failed on")
        if not all(math.isfinite(float(v)) for v in df["reward"]):
            wrong.append("a non-finite reward")
        if len(df) > 5:
            wrong.append(f"{len(df)} candidates for num_candidates=5")
        if wrong:
            print("SILENT-WRONG: " + "; ".join(wrong), file=sys.stderr)
            return F.SILENT_WRONG_EXIT
        return 0

    return _api_errors(go)


def api_sample(d: Path, kw: dict) -> int:
    from molgfn import FunctionTask, load_run, sample

    from . import fault_oracles as O

    def go():
        tr = load_run(d / "run", FunctionTask(O.ok, alphabet="ACGT", length=4), device="cpu")
        df = sample(tr, **kw)
        n = kw.get("n", 100)
        if not isinstance(n, int) or n < 0 or len(df) != n:  # n=0: an empty table is the right answer
            print(f"SILENT-WRONG: sample(**{kw}) returned {len(df)} rows", file=sys.stderr)
            return F.SILENT_WRONG_EXIT
        return 0

    return _api_errors(go)


def api_bad_settings(d: Path, kw: dict) -> int:
    from molgfn import FunctionTask, design

    from . import fault_oracles as O

    def go():
        kw2 = dict(kw)
        objectives, weights = kw2.pop("objectives", None), kw2.pop("weights", None)
        fn = O.vec_ok if objectives else O.ok
        task = FunctionTask(fn, alphabet="ACGT", length=4, objectives=objectives, weights=weights)
        settings = {"rounds": 2, "batch_size": 8, "hidden": 16, "device": "cpu", **kw2}
        df = design(task, d / "out", num_samples=8, num_candidates=5, **settings)
        import math

        if not all(math.isfinite(float(v)) for v in df["reward"]) or df["reward"].nunique() <= 1 < len(df):
            print(f"SILENT-WRONG: rewards {df['reward'].tolist()[:5]}", file=sys.stderr)
            return F.SILENT_WRONG_EXIT
        return 0

    return _api_errors(go)


# ---- damaged run files ------------------------------------------------------------------------------
def with_rounds(argv: list[str], n: int) -> list[str]:
    i = argv.index("--rounds")
    return [*argv[:i + 1], str(n), *argv[i + 2:]]


RUN_FILES = ("config.json", "checkpoint.pt", "metrics.csv", "seen.jsonl", "scores.sqlite", "candidates.csv")


def damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "garbage":
        path.write_bytes(bytes(random.Random(path.name).randrange(256) for _ in range(min(len(data), 4096)) or b"\xff"))
    elif how == "wrongjson":
        path.write_text("[1, 2, 3]\n")
    elif how == "deleted":
        path.unlink()


RUNFILE_COMMANDS = {
    "sample": (["sample", "{D}/run", "-n", "5", "-o", "{D}/s.csv", "--trust-oracle"], ("s.csv", STORE)),
    "evaluate": (["evaluate", "{D}/run", "-n", "16", "--top-k", "4", "--trust-oracle"], ("run/evaluation.json", STORE)),
    "info": (["info", "{D}/run"], ()),
    "info-json": (["info", "{D}/run", "--format", "json"], ()),
    "report": (["report", "{D}/run", "--out", "{D}/rep"], ("rep/",)),
    "resume": (["train", *with_rounds(TRAIN, 3), "--out", "{D}/run", "--resume"], ("run/", "!run/notes.txt")),
}


def runfile_cases() -> list[Case]:
    cases = []
    for f in RUN_FILES:
        for how in ("truncated", "empty", "garbage", "wrongjson", "deleted"):
            for name, (argv, outputs) in RUNFILE_COMMANDS.items():
                def setup(d, f=f, how=how):
                    damage(with_run(d) / f, how)

                cases.append(Case(f"runfile:{f}:{how}:{name}", "runfiles", "files", argv=argv, setup=setup,
                                  outputs=outputs, check=check_cli))
    return cases


# ---- full and read-only disks ----------------------------------------------------------------------------
_MODE: dict[str, str] = {}


def disk_mode(probe_root: Path) -> str:
    """'mount' when a small tmpfs and read-only bind mounts can be made here, else 'fake' (a layer
    in the child that fails the writes): chosen at run time and named in every case's output."""
    if "mode" not in _MODE:
        forced = os.environ.get("FAULT_DISK")  # "fake": the fallback layer even where mounting works
        _MODE["mode"] = forced if forced in ("mount", "fake") else (
            "mount" if F.can_mount(probe_root / "probe") else "fake")
    return _MODE["mode"]


def disk_cases() -> list[Case]:
    cases = []
    specs = {
        "train-new": (["train", *TRAIN, "--out", "{D}/disk/out"], False),
        "design-new": (["design", *TRAIN, "--num-samples", "8", "--num-candidates", "5", "--out", "{D}/disk/out"],
                       False),
        "resume": (["train", *with_rounds(TRAIN, 4), "--checkpoint-every", "1", "--out", "{D}/disk/run",
                    "--resume"], True),
        "sample-o": (["sample", "{D}/disk/run", "-n", "5", "-o", "{D}/disk/s.csv", "--trust-oracle"], True),
        "evaluate": (["evaluate", "{D}/disk/run", "-n", "16", "--top-k", "4", "--trust-oracle"], True),
        "report": (["report", "{D}/disk/run"], True),
        "score-o": (["score", "--task", "custom", "--oracle", GC, "--length", "4", "-i", "{D}/in.csv", "-o",
                     "{D}/disk/scored.csv"], False),
        "score-store": (["score", "--task", "custom", "--oracle", GC, "--length", "4", "-i", "{D}/in.csv",
                         "--score-store", "{D}/disk/store.sqlite"], False),
        "scores-o": (["scores", "{D}/disk/run/scores.sqlite", "-o", "{D}/disk/x.csv"], True),
        "info": (["info", "{D}/disk/run"], True),
        "sample-elsewhere": (["sample", "{D}/disk/run", "-n", "5", "-o", "{D}/s.csv", "--trust-oracle"], True),
        "bench": (["bench", *BASE["bench"][:-1], "{D}/disk/bench"], False),
    }
    for name, (argv, needs_run) in specs.items():
        for cond, free in (("full0", 0), ("full16k", 16 << 10), ("full200k", 200 << 10), ("readonly", None)):
            if free and name not in ("train-new", "design-new", "resume"):
                continue  # a partly full disk matters where several files are written

            def setup(d, needs_run=needs_run, free=free, case_ref=[None]):  # noqa: B006 - filled below
                case = case_ref[0]
                (d / "in.csv").write_text("sequence\nACGT\nGGCC\nTTTT\nCAGA\n")
                disk = d / "disk"
                disk.mkdir()
                mode = disk_mode(d.parent)
                (d / ".disk-mode").write_text(mode)
                if mode == "mount":
                    if free is None:
                        if needs_run:
                            with_run(disk)
                        F.read_only(disk)
                    else:
                        F.full_tmpfs(disk, free, before=with_run if needs_run else None)
                else:
                    if needs_run:
                        with_run(disk)
                    case.fake_fs = {"dir": "{D}/disk", "errno": errno.EROFS if free is None else errno.ENOSPC}

            def teardown(d):
                if (d / ".disk-mode").exists() and (d / ".disk-mode").read_text() == "mount":
                    F.umount(d / "disk")

            outs = ("disk/out/", "disk/s.csv", "disk/scored.csv", "disk/store.sqlite", "disk/x.csv", "disk/bench/",
                    "disk/run/", "!disk/run/notes.txt", "!disk/filler.bin")
            # reading a run needs no room and no write access: these must work on a full or read-only disk
            must_work = name in ("info", "sample-elsewhere")
            c = Case(f"disk:{name}:{cond}", "disk", "files", argv=argv, setup=setup, teardown=teardown,
                     outputs=(*outs, "s.csv"), check=check_cli, timeout=40,
                     ok_codes=frozenset({0}) if must_work else frozenset(F.OK_CODES))
            setup.__defaults__[-1][0] = c
            cases.append(c)
    return cases


# ---- signals at random moments -------------------------------------------------------------------------------
def signal_cases() -> list[Case]:
    cases = []
    combos = [("SIGINT", "default"), ("SIGTERM", "default"), ("SIGKILL", "default"), ("SIGINT", "process"),
              ("SIGTERM", "process"), ("SIGKILL", "process"), ("SIGTERM", "local"), ("SIGKILL", "local")]
    if ray_available():
        combos += [("SIGTERM", "ray")]
    for sig, ex in combos:
        rng = random.Random(f"{sig}-{ex}")
        at_row = rng.randint(1, 12)  # the moment: after this many rounds are in metrics.csv
        fault = "spawns" if ex in ("process", "ray") else "slow"
        argv = [PY, CLI, "train", "--task", "custom", "--oracle", f"tests.fault_oracles:{fault}", "--length", "4",
                "--rounds", "16", "--batch-size", "8", "--hidden", "16", "--checkpoint-every", "3", "--quiet",
                "--device", "cpu", "--out", "{D}/out", *(["--executor", ex] if ex != "default" else []),
                *(["--workers", "2"] if ex in ("process", "ray") else [])]

        def driver(d, env, argv=argv, sig=sig, at_row=at_row):
            return drive_signal(d, env, argv, sig, at_row)

        cases.append(Case(f"signal:{sig}:{ex}:at{at_row}", "signals", "procs", subprocess_argv=argv, driver=driver,
                          outputs=("out/",), timeout=120,
                          note="SIGKILL: only the OS can stop the children (process group / parent-death signal)"
                          if sig == "SIGKILL" else ""))
    return cases


def drive_signal(d: Path, env: dict, argv: list[str], sig: str, at_row: int):
    argv = [a.format(D=d) for a in argv]
    extra = []
    log = d / ".case-output"
    p = F.spawn(argv, d, env, log)
    metrics = d / "out" / "metrics.csv"
    t0 = time.monotonic()
    while time.monotonic() - t0 < 90 and p.poll() is None:
        try:
            rows = max(0, len(metrics.read_text().splitlines()) - 1)
        except OSError:
            rows = 0
        if rows >= at_row:
            break
        time.sleep(0.02)
    finished_early = p.poll() is not None
    if not finished_early:
        s = getattr(signal, sig)
        try:  # Ctrl-C reaches the terminal's whole process group; a scheduler's SIGTERM / kill -9 the main process
            os.killpg(p.pid, s) if sig == "SIGINT" else os.kill(p.pid, s)
        except OSError:
            pass
    code = F.wait_or_kill(p, 60)
    out = log.read_bytes().decode(errors="replace")
    want = {"SIGINT": 130, "SIGTERM": 143, "SIGKILL": -9}[sig]
    if code is None:
        return None, out, extra
    if finished_early:
        extra.append(("wrong-exit", f"the run ended (exit {code}) before the signal at round {at_row}"))
    elif code != want:
        extra.append(("wrong-exit", f"exit {code} after {sig} ({want} expected)"))
    if sig != "SIGKILL" and code == want and "resume" not in out.lower():
        extra.append(("silent-wrong", f"no line saying how to resume after {sig}"))
    left = F.leftovers(env[F.MARKER], grace=3.0)
    if left:
        extra.append(("orphan", f"after {sig}: " + "; ".join(f"{p_}: {c[:60]}" for p_, c in left[:3])))
    if not (d / "out" / "checkpoint.pt").exists():  # stopped before its first checkpoint: start again
        if sig != "SIGKILL":
            extra.append(("silent-wrong", f"no checkpoint written on {sig}"))
        argv = [*argv, "--overwrite"]
    else:
        argv = [*argv, "--resume"]
    # then the run must finish: every round once
    with open(log, "ab") as f:
        f.write(b"\n--- resume ---\n")
    p2 = F.spawn(argv, d, env, log)
    code2 = F.wait_or_kill(p2, 90)
    out = log.read_bytes().decode(errors="replace")
    if code2 is None:
        return None, out, extra
    if code2 != 0:
        extra.append(("silent-wrong" if code2 == 2 else "unexpected", f"{argv[-1]} after {sig}: exit {code2}"))
        return 0 if code2 in (0, 2) else code2, out, extra
    import pandas as pd

    m = pd.read_csv(metrics)
    rounds = m["round"].tolist() if "round" in m.columns else []
    first = min(rounds or [0])
    if sorted(rounds) != list(range(first, first + 16)):
        extra.append(("silent-wrong", f"after {sig} and --resume metrics.csv has rounds {rounds[:20]}"))
    return 0, out, extra


# ---- the suite ------------------------------------------------------------------------------------------------
def all_cases() -> list[Case]:
    cases = option_cases() + oracle_cases() + api_cases() + runfile_cases() + disk_cases() + signal_cases()
    if ray_available():
        cases += ray_cases()
    ids = [c.id for c in cases]
    assert len(ids) == len(set(ids)), [i for i in ids if ids.count(i) > 1][:5]
    return cases


CASES = all_cases()
BY_ID = {c.id: c for c in CASES}


@pytest.fixture(scope="module")
def results(request, tmp_path_factory):
    """Run the selected cases (all, or those -k picked), two at a time."""
    wanted = [item.callspec.params["case_id"] for item in request.session.items
              if item.module is request.module and hasattr(item, "callspec") and "case_id" in item.callspec.params]
    root = tmp_path_factory.mktemp("faults")
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():  # another module's Ray: its threads must not be forked with us
        ray.shutdown()
    make_templates(root / "templates")
    F.warm_up()
    jobs = int(os.environ.get("FAULT_JOBS", "2"))
    forked = [BY_ID[i] for i in wanted if BY_ID[i].driver is None]
    driven = [BY_ID[i] for i in wanted if BY_ID[i].driver is not None]
    t0 = time.monotonic()
    log = os.environ.get("FAULT_PROGRESS")  # a line per finished case, to watch a long run

    def say(r: F.Result) -> None:
        if log:
            with open(log, "a") as f:
                f.write(f"{time.monotonic() - t0:7.1f} {r.wall:5.1f} {r.case.id} {[c for c, _ in r.findings]}\n")

    res = F.run_cases(forked, root / "cases", jobs=jobs, say=say)
    res.update(F.run_cases(driven, root / "cases", jobs=jobs, say=say))  # threads: after the last fork
    wall = time.monotonic() - t0
    failing = [r for r in res.values() if r.findings]
    table = F.findings_table(failing) if failing else "(no findings)"
    path = os.environ.get("FAULT_FINDINGS")
    if path:
        summary = summarize(res, wall)
        Path(path).write_text(summary + "\n\n" + table + "\n")
    return {"results": res, "table": table, "wall": wall}


def summarize(res: dict, wall: float) -> str:
    from collections import Counter

    by_class, by_owner, by_group = Counter(), Counter(), Counter()
    for r in res.values():
        for cls in {c for c, _ in r.findings}:
            by_class[cls] += 1
            by_owner[(F.route(r, cls), cls)] += 1
        by_group[(r.case.group, bool(r.findings))] += 1
    lines = [f"{len(res)} cases in {wall:.0f} s; {sum(1 for r in res.values() if r.findings)} with findings",
             "by class: " + ", ".join(f"{k} {v}" for k, v in by_class.most_common()),
             "by owner: " + ", ".join(f"{o}/{c} {v}" for (o, c), v in sorted(by_owner.items())),
             "by group (with findings / clean): " + ", ".join(
                 f"{g} {by_group[(g, True)]}/{by_group[(g, False)]}" for g in sorted({g for g, _ in by_group}))]
    return "\n".join(lines)


def receptor_template(d: Path) -> list[list[str]]:
    """`receptor prepare` once, where meeko and gemmi are installed (their imports then come preloaded)."""
    import importlib.util

    if any(importlib.util.find_spec(m) is None for m in ("meeko", "gemmi")):
        return []
    return [["receptor", "prepare", str(complex_pdb(d / "protein.pdb")), "--out", f"{d}/rec", "--ligand-resname",
             "LIG"]]


def make_templates(root: Path) -> None:
    """The run the cases copy, made in a child; that child also runs each command once and lists
    the modules they import, which this process then imports so that every forked case starts
    with them loaded (a case then costs its own work, not seconds of imports)."""
    def build(d: Path) -> int:
        from cli import app

        (d / "in.csv").write_text("sequence\nACGT\nGGCC\n")
        for argv in (["design", *TRAIN, "--checkpoint-every", "1", "--num-samples", "8", "--num-candidates", "5",
                      "--out", f"{d}/run"],
                     ["design", *TRAIN, "--oracle", "tests.fault_oracles:vec_ok", "--objectives", "gc,at",
                      "--num-samples", "8", "--num-candidates", "5", "--out", f"{d}/vrun"],
                     ["sample", f"{d}/run", "-n", "3", "-o", f"{d}/s.csv"],
                     ["evaluate", f"{d}/vrun", "-n", "8", "--trust-oracle"],
                     ["report", f"{d}/run", "--out", f"{d}/rep"], ["info", f"{d}/run"],
                     ["score", "--task", "custom", "--oracle", GC, "--length", "4", "-i", f"{d}/in.csv"],
                     ["scores", f"{d}/run/scores.sqlite"], ["tasks"], *receptor_template(d)):
            try:
                app(argv, prog_name="molgfn", standalone_mode=True)
            except SystemExit as e:
                if e.code:
                    print(f"template command {argv[0]} failed", file=sys.stderr)
                    return 1
        (d / "modules.txt").write_text("\n".join(sorted(sys.modules)))
        return 0

    build.__doc__ = "the template runs"
    tpl = Case("template-run", "setup", "", fn=build, outputs=("run/",), timeout=300)
    res = F.run_cases([tpl], root)["template-run"]
    assert res.code == 0 and not res.findings, res.output
    TEMPLATES["run"] = root / "template-run" / "run"
    for f in RUN_FILES:
        assert (TEMPLATES["run"] / f).exists(), f
    import importlib
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in (root / "template-run" / "modules.txt").read_text().split():
            if name not in sys.modules and not name.startswith(("__main__", "ray", "_pytest", "pytest")):
                try:
                    importlib.import_module(name)
                except Exception:  # noqa: BLE001, S112 - a module that only imports in its own context
                    continue


def test_the_suite_is_large_and_covers_every_option_of_every_command():
    assert len(CASES) >= 300
    tried = {(c.argv[0], a) for c in CASES if c.group == "options" for a in c.argv if a.startswith("-")}
    for cmd, params in commands():
        top = cmd.split()[0]
        for p in params:
            if kind_of(p) == "flag" or not getattr(p, "opts", [""])[0].startswith("-"):
                continue
            if cmd == "design" and any(("train", o) in tried for o in p.opts):
                continue
            assert any((top, o) in tried for o in p.opts), f"{cmd} {p.opts[0]} has no case"
    groups = {c.group for c in CASES}
    assert {"options", "oracle", "api", "runfiles", "disk", "signals"} <= groups


def _param(c: Case):
    """A case that runs molgfn as a real process (signals at random moments, Ray) takes tens of seconds
    where a forked one takes a fraction of one: those are in the slow step (`make test-slow`)."""
    return pytest.param(c.id, marks=pytest.mark.slow) if c.subprocess_argv else c.id


@pytest.mark.parametrize("case_id", [_param(c) for c in CASES])
def test_case(case_id, results):
    r = results["results"][case_id]
    findings = [(c, d) for c, d in r.findings if c not in r.case.bound]  # a documented bound is no finding
    if findings:
        detail = "; ".join(f"{c}: {d}" for c, d in findings)
        pytest.fail(f"{detail}\n  command: {r.case.command()}\n  owner: {r.case.owner}"
                    + (f"\n  note: {r.case.note}" if r.case.note else "") + f"\n  output: {r.tail(6)}", pytrace=False)


def test_findings_table(results):
    """Last: the whole table, for routing each finding to whoever fixes it."""
    failing = [r for r in results["results"].values() if any(c not in r.case.bound for c, _ in r.findings)]
    assert not failing, f"{len(failing)} case(s) with findings:\n{results['table']}"
