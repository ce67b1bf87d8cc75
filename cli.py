"""molgfn command line: a thin layer over molgfn/ and tasks/."""

from __future__ import annotations

import functools
import inspect
import json
import re
import sys
from enum import Enum, StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperCommand

try:  # recent typer vendors its own click
    from typer._click.exceptions import BadParameter
except ImportError:
    from click.exceptions import BadParameter

app = typer.Typer(help="Design molecules and biological sequences with GFlowNets.", no_args_is_help=True,
                  pretty_exceptions_enable=False, context_settings={"help_option_names": ["-h", "--help"]})
data_app = typer.Typer(help="Third-party data assets: list, fetch, import.", no_args_is_help=True)
app.add_typer(data_app, name="data")
console = Console(stderr=True)
out = Console()


class Command(TyperCommand):
    """molgfn's commands. A command still reads the old spellings of its renamed options (``renamed``:
    old -> new, hidden from --help), each with a one-line deprecation note on stderr, so that scripts
    keep working. Only option names are rewritten: not the values of options, nor anything after ``--``.
    A value outside an option's fixed choices is one line naming them (Click's is a box of four).

    Its --help leaves out the ``--no-X`` form of flags (it still works; a help text names it where it
    matters): at 80 columns that column would leave the help text a third of the width."""

    renamed: dict[str, str] = {}
    shown_negatives = ("local_search",)  # off in train, on in design's recipes: --no-local-search matters

    def format_help(self, ctx, formatter) -> None:
        quiet = [(p, p.secondary_opts) for p in self.params if getattr(p, "is_flag", False) and p.secondary_opts
                 and p.name not in self.shown_negatives]
        for p, _ in quiet:
            p.secondary_opts = []
        try:
            super().format_help(ctx, formatter)
        finally:
            for p, opts in quiet:
                p.secondary_opts = opts

    def parse_args(self, ctx, args: list[str]) -> list[str]:
        takes_value = {o for p in self.params if p.param_type_name == "option" and not p.is_flag and not p.count
                       for o in (*p.opts, *p.secondary_opts)}
        new: list[str] = []
        rest = list(args)
        while rest:
            a = rest.pop(0)
            if a == "--":
                new += [a, *rest]
                break
            name, eq, value = a.partition("=") if a.startswith("--") else (a, "", "")
            if name not in self.renamed and len(a) > 2 and a[:2] in self.renamed and a[1] != "-":
                name, eq, value = a[:2], "", ""  # -oVALUE: the value becomes the next token
                rest.insert(0, a[2:])
            if name in self.renamed:
                if not ctx.resilient_parsing:
                    console.print(f"note: {name} is deprecated and will be removed; use {self.renamed[name]}",
                                  highlight=False)
                name = self.renamed[name]
            new.append(name + eq + value)
            if name in takes_value and not eq and rest:
                new.append(rest.pop(0))  # the option's value, whatever it looks like
        try:
            return super().parse_args(ctx, new)
        except BadParameter as e:
            choices = _choice_values(e.param)
            if not choices:
                raise
            flag = max(e.param.opts, key=len)
            got = re.search(r"('.*'|\".*\") is not one of", e.message or "")
            need = " or ".join(choices) if len(choices) == 2 else "one of " + ", ".join(choices)
            from rich.markup import escape

            console.print(f"[bold red]error:[/] {flag} must be {need}" + (f", got {escape(got[1])}" if got else ""),
                          highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None


def _choice_values(param) -> list[str]:
    """The values of an option typed by an Enum (or an optional one, or a list of one); [] otherwise."""
    import types
    import typing

    ann = getattr(getattr(param, "type_descriptor", None), "annotation", None)
    while typing.get_origin(ann) in (list, typing.Union, types.UnionType):
        ann = [a for a in typing.get_args(ann) if a is not type(None)][0]
    return [m.value for m in ann] if isinstance(ann, type) and issubclass(ann, Enum) else []


def renamed(mapping: dict[str, str]) -> type[Command]:
    """The command class for ``@app.command(cls=renamed({"--old": "--new"}))``."""
    return type("Command", (Command,), {"renamed": mapping})


OUT_DIR_RENAMED = {"-o": "--out"}  # -o is --output (a file) everywhere; run folders are --out


def _print_version(value: bool) -> None:
    if value:
        from molgfn import __version__

        out.print(f"molgfn {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def _main(version: Annotated[bool, typer.Option("--version", is_eager=True, callback=_print_version,
                                                help="Print the molgfn version and exit.")] = False) -> None:
    """Design molecules and biological sequences with GFlowNets."""


def friendly(fn):
    """Print MolgfnError (and bad values) as one clear line and exit 2, without a traceback.

    SIGINT / SIGTERM exit 130 / 143 with one line (training checkpoints first and says how to
    resume); any other exception is one line too, its traceback written to a log file in the
    run folder (or the user cache when there is none)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        import signal
        import warnings

        from rich.markup import escape

        from molgfn.errors import Interrupted, MolgfnError

        def say(msg: str) -> None:
            _print_error(escape(msg), msg)  # never raises, even with stderr gone

        def on_term(signum, frame):  # outside training (which checkpoints first): stop like Ctrl-C
            raise Interrupted(signum, "SIGTERM received: stopped")

        def show(message, category, *a, **k):  # warnings as one line, not file:line: source
            say(f"warning: {message}")

        # what this command starts (oracle workers, an in-process oracle's processes) stops with it; what was
        # there before (a notebook's or a test session's) is left alone, and so is torch's thread count
        ex_mod = sys.modules.get("molgfn.oracle.executors")
        before = ex_mod.started() if ex_mod is not None else None
        torch_mod = sys.modules.get("torch")
        threads_before = torch_mod.get_num_threads() if torch_mod is not None else None

        old_term = signal.signal(signal.SIGTERM, on_term) if _main_thread() else None
        old_show = warnings.showwarning
        warnings.showwarning = show
        try:
            return fn(*args, **{k: _plain(v) for k, v in kwargs.items()})
        except Interrupted as e:
            say(f"interrupted: {e}")
            raise typer.Exit(128 + e.signum) from None
        except KeyboardInterrupt:
            say("interrupted (Ctrl-C): stopped")
            raise typer.Exit(130) from None
        except MolgfnError as e:
            _print_error(f"[bold red]error:[/] {escape(str(e))}", f"error: {e}")
            raise typer.Exit(2) from None
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except Exception as e:  # an OS error is the user's (one line, exit 2); anything else a bug: its log
            raise typer.Exit(_report_error(e, kwargs)) from None
        finally:
            from molgfn import runs

            try:
                runs.unlock_all()  # a command run in-process (tests, notebooks) lets go of its run folder
            except OSError:
                pass
            try:  # the command is over: its oracle workers and what its oracles started stop with it
                from molgfn.oracle.executors import close_started_since

                close_started_since(before)
                if threads_before is not None:
                    torch_mod.set_num_threads(threads_before)
            except Exception:
                pass
            warnings.showwarning = old_show
            if old_term is not None:
                signal.signal(signal.SIGTERM, old_term)

    return wrapper


def _print_error(markup: str, plain: str) -> None:
    """The error line on stderr; never raises (a broken stderr gets the bare line, or nothing)."""
    import os

    try:
        console.print(markup, highlight=False, soft_wrap=True)
    except Exception:
        try:
            os.write(2, (plain + "\n").encode(errors="replace"))
        except (OSError, ValueError):
            pass


def _report_error(e: Exception, kwargs: dict) -> int:
    """Print an error that is not a MolgfnError as one line and return the exit code; never raises.
    An OS error the user can act on (a name too long, a full or read-only disk, no permission) is
    exit 2 naming the path (``molgfn.paths.os_error_message``); a closed pipe (``| head``) ends
    quietly; anything else is a bug: one line, its traceback in a log file, exit 1."""
    import os

    say = _print_error
    try:
        from rich.markup import escape

        from molgfn.paths import os_error_message

        if isinstance(e, BrokenPipeError):  # the reader went away: nothing to say, and no one to say it to
            try:
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            except (OSError, ValueError):
                pass
            return 141
        msg = os_error_message(e) if isinstance(e, OSError) else None
        if msg is not None:
            say(f"[bold red]error:[/] {escape(msg)}", f"error: {msg}")
            return 2
        log = _write_error_log(kwargs)
        where = f"the traceback is in {log}" if log else "no log file could be written"
        text = str(e)
        first = text.splitlines()[0][:200] if text.strip() else ""
        say(f"[bold red]error:[/] unexpected {type(e).__name__}: {escape(first)} ({escape(where)}; please include it "
            "when reporting this)", f"error: unexpected {type(e).__name__}: {first} ({where})")
    except Exception:  # the handler must never fail itself: the shortest possible line
        say("error: unexpected error", f"error: unexpected {type(e).__name__}")
    return 1


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _write_error_log(kwargs: dict) -> Path | None:
    """Append the current traceback to molgfn-error.log in the command's run folder when it is a
    molgfn run, else in the user cache (~/.cache/molgfn/logs) or the temp folder."""
    import datetime
    import tempfile
    import traceback

    from molgfn import runs

    text = (f"--- {datetime.datetime.now(datetime.timezone.utc).isoformat()} molgfn {' '.join(sys.argv[1:])}\n"
            + traceback.format_exc())
    dirs = []
    for d in (kwargs.get("run"), kwargs.get("out_dir")):
        try:  # a path the user gave may be anything (too long, unreadable): never fail here
            if d is not None and Path(d).is_dir() and runs.is_run_dir(Path(d)):
                dirs.append(Path(d))
        except (OSError, ValueError, TypeError):
            continue
    try:
        from molgfn.assets import cache_dir

        dirs.append(cache_dir() / "logs")
    except Exception:  # a broken cache setting ($XDG_CACHE_HOME) must not hide the error being reported
        pass
    for d in [*dirs, Path(tempfile.gettempdir()) / "molgfn-logs"]:
        try:
            d.mkdir(parents=True, exist_ok=True)
            with open(d / runs.ERROR_LOG, "a") as f:
                f.write(text)
            return d / runs.ERROR_LOG
        except (OSError, ValueError):
            continue
    return None


# ---- fixed choices: `--help` lists them; commands receive plain strings (see `friendly`), so
# config.json and checkpoints hold the same str values as before. tests/test_cli_conventions.py
# keeps each in sync with the library's own tuple.
class Objective(StrEnum):  # molgfn.objectives.OBJECTIVES
    tb = "tb"
    db = "db"
    subtb = "subtb"
    fldb = "fldb"
    rkl = "rkl"
    fkl = "fkl"
    kl_mix = "kl-mix"
    renyi = "renyi"
    tsallis = "tsallis"


class Conditioning(StrEnum):  # molgfn.policies.CONDITIONINGS
    none = "none"
    logit = "logit"
    layer = "layer"


class LSFilter(StrEnum):  # molgfn.local_search.FILTERS
    greedy = "greedy"
    greedy_strict = "greedy-strict"
    mh = "mh"
    barker = "barker"


class ControlVariate(StrEnum):  # molgfn.objectives.common.CONTROL_VARIATES
    none = "none"
    loo = "loo"
    logz = "logz"


class Device(StrEnum):  # molgfn.config.resolve_device
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


class Executor(StrEnum):  # molgfn.oracle.EXECUTORS
    auto = "auto"
    local = "local"
    process = "process"
    ray = "ray"


class OnOracleError(StrEnum):  # molgfn.oracle.cached.ON_ERROR
    stop = "stop"
    invalid = "invalid"


class ListFormat(StrEnum):  # molgfn.chem.descriptors.FORMATS
    csv = "csv"
    sdf = "sdf"
    parquet = "parquet"


class Preset(StrEnum):  # molgfn.bench.PRESETS
    small = "small"
    results = "results"
    paper = "paper"
    pmo = "pmo"


def _plain(value):
    """A choice as its plain string (lists too): the library and the run files only ever see str."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


# ---- shared options ---------------------------------------------------------------------
TaskOpt = Annotated[str, typer.Option("--task", "-t", help="Task name (see `molgfn tasks`).")]
DeviceOpt = Annotated[Device, typer.Option(help="Where the sampler runs: auto (cuda when torch sees a GPU), cpu "
                                          "or cuda.")]
DataDirOpt = Annotated[
    Path | None, typer.Option(help="Folder with asset files; searched before $MOLGFN_DATA and the cache.")]
# \\[ in help: rich would read [str] as markup and drop it
OracleOpt = Annotated[str | None, typer.Option(
    help="Your oracle as package.module:function (list\\[str] -> list\\[float]); use with --task custom.")]
AlphabetOpt = Annotated[str, typer.Option(help="Alphabet of a custom task (one character per token).")]
LengthOpt = Annotated[int, typer.Option(help="Sequence length of a custom task.")]
ExpOpt = Annotated[float, typer.Option(help="Reward exponent b of a custom task, in (0, 100]: R = R_max * "
                                       "(max(r, 0.001)/raw_max)^b. Raw scores at or below the floor 0.001 all get "
                                       "the same reward (a warning says so); negative scores are refused unless "
                                       "--task-option allow_negative=true.")]
WorkersOpt = Annotated[int | None, typer.Option(help="Processes for CPU oracles (default: all cores).")]
ExecutorOpt = Annotated[Executor | None, typer.Option(
    help="Where oracle calls run: local (in-process), process (a pool that survives crashing or hanging calls; "
         "default for Python oracles) or ray (pip install \"molgfn\\[ray]\").")]
RayAddressOpt = Annotated[str | None, typer.Option(help="--executor ray: an existing cluster, auto, HOST:PORT or "
                                                   "ray://HOST:PORT (default: a local Ray with --workers CPUs).")]
ChunkSizeOpt = Annotated[int | None, typer.Option(help="Objects per oracle call on a worker (default: a batch "
                                                  "split evenly, one call per worker).")]
OracleTimeoutOpt = Annotated[float, typer.Option(help="Seconds an oracle call may take per object (process and "
                                                 "ray executors); then it fails like any oracle error.")]
OracleRetriesOpt = Annotated[int, typer.Option(help="Retries of a failed object (exception, timeout, dead "
                                               "worker) before it counts as failed.")]
OnOracleErrorOpt = Annotated[OnOracleError, typer.Option(
    help="A failed object: stop (one error naming the oracle and the objects; the checkpoint is kept) or invalid "
         "(floor reward, error recorded in the score store).")]
ScoreStoreOpt = Annotated[Path | None, typer.Option(help="SQLite score store shared across runs (default: "
                                                    "RUN/scores.sqlite; score: none). Stored scores are reused, "
                                                    "not recomputed.")]
ReuseScoresOpt = Annotated[bool, typer.Option(help="Reuse stored scores written by another version of the oracle's "
                                             "code (default: an edited oracle module is a new oracle, scored anew).")]
TaskOptionOpt = Annotated[list[str] | None, typer.Option(
    help="A task's own option as KEY=VALUE, repeatable (e.g. qm9str modes=diverse, sehstr modes=published).")]
VocabOpt = Annotated[Path | None, typer.Option(help="Fragment tasks: your block vocabulary JSON (block_smi, block_r; "
                                               "default: the 105 blocks of seh-frag-blocks).")]
MaxBlocksOpt = Annotated[int, typer.Option(help="Fragment tasks: most blocks per molecule.")]
FilterOpt = Annotated[str | None, typer.Option(
    "--filter", help="Fragment tasks: design constraints, comma-separated from pains, brenk, lipinski, veber; a "
    "failing molecule gets the floor reward (no oracle call) and is never a candidate.")]
# one line per objective (molgfn.objectives.OBJECTIVES; tests/test_objectives.py keeps them in sync)
OBJECTIVE_HELP = "\n\n".join([
    "Training objective:",
    "tb: trajectory balance (Malkin et al. 2022)",
    "db: detailed balance (Bengio et al. 2023)",
    "subtb: SubTB(lambda), --subtb-lambda (Madan et al. 2023)",
    "fldb: forward-looking DB, --fldb-partial (Pan et al. 2023)",
    "rkl: reverse KL(q||pi), REINFORCE (Zimmermann et al. 2023)",
    "fkl: forward KL(pi||q), SNIS (Zimmermann et al. 2023)",
    "kl-mix: mix of both KLs, --kl-mix-lambda (Zimmermann et al. 2023)",
    "renyi: Renyi-alpha D(q||pi), --alpha (da Silva et al. 2024)",
    "tsallis: Tsallis-alpha T(q||pi), --alpha (da Silva et al. 2024)",
])
ObjectiveOpt = Annotated[Objective, typer.Option(help=OBJECTIVE_HELP, metavar="NAME")]  # the help lists them
SubTBLambdaOpt = Annotated[float, typer.Option(help="SubTB: weight lambda^(j-i) of a sub-trajectory (subtb).")]
AlphaOpt = Annotated[float, typer.Option(help="Order alpha of the renyi / tsallis divergences (not 0 or 1; "
                                               "< 0 mass-covering, > 1 mode-seeking).")]
KLMixOpt = Annotated[float, typer.Option(help="kl-mix: weight lambda of KL(pi||q) in [0, 1].")]
ControlVariateOpt = Annotated[ControlVariate, typer.Option(
    help="Score-function objectives (rkl, fkl, kl-mix, renyi, tsallis): none, loo (leave-one-out batch "
         "baseline) or logz (the learned log Z).")]
FLDBPartialOpt = Annotated[bool, typer.Option(help="fldb: train on incomplete (randomly cut) trajectories.")]


class Format(str, Enum):
    table = "table"
    json = "json"


class ProgressMode(str, Enum):
    auto = "auto"
    bar = "bar"
    plain = "plain"
    none = "none"


class Logger(str, Enum):
    tensorboard = "tensorboard"
    mlflow = "mlflow"


FormatOpt = Annotated[Format, typer.Option("--format", help="table (for people) or json (for scripts, on stdout).")]


def _print_json(obj) -> None:
    """Strict JSON on stdout (NaN and inf become null), for scripts."""
    import math

    def clean(v):
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, dict):
            return {str(k): clean(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        return v

    sys.stdout.write(json.dumps(clean(obj), indent=2, allow_nan=False, default=str) + "\n")


def parse_task_options(items: list[str] | None) -> dict:
    """``--task-option KEY=VALUE`` pairs; values are read as int, float or bool when they look like one."""
    from molgfn.errors import InputError

    out: dict = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InputError(f"--task-option must look like KEY=VALUE, got {item!r}")
        low = value.lower()
        if low in ("true", "false"):
            out[key] = low == "true"
            continue
        for cast in (int, float):
            try:
                out[key] = cast(value)
                break
            except ValueError:
                continue
        else:
            out[key] = value
    return out


def _check_task_numbers(reward_exponent: float, workers: int | None, length: int) -> None:
    import math

    from molgfn.errors import InputError

    if not (math.isfinite(reward_exponent) and 0 < reward_exponent <= 100):
        raise InputError(f"--reward-exponent must be a finite number in (0, 100], got {reward_exponent}")
    _check_ranges(("--length", length, 1, 100_000))
    if workers is not None:
        _check_ranges(("--workers", workers, 1, 4096))


def _task(task: str, oracle: str | None, alphabet: str, length: int, reward_exponent: float,
          workers: int | None, frag: dict | None = None, task_option: list[str] | None = None):
    from tasks import get_task

    _check_task_numbers(reward_exponent, workers, length)
    opts: dict = {}
    if task == "custom-frag":  # fragment molecules scored by the user's function of SMILES
        if not oracle:
            from molgfn.errors import InputError

            raise InputError("--task custom-frag needs --oracle package.module:function (list of SMILES -> floats)")
        opts = {"oracle": oracle, "reward_exponent": reward_exponent}
        if workers is not None:
            opts["workers"] = workers
    elif oracle and task != "custom":
        from molgfn.errors import InputError

        other = "custom-frag" if task.endswith("-frag") else "custom"
        raise InputError(f"--oracle plugs your function into --task {other}; task {task!r} has its own oracle")
    elif task == "custom":
        if not oracle:
            from molgfn.errors import InputError

            raise InputError("--task custom needs --oracle package.module:function")
        task = "custom"
        opts = {"oracle": oracle, "alphabet": alphabet, "length": length, "reward_exponent": reward_exponent}
        if workers is not None:
            opts["workers"] = workers
    elif workers is not None and task.startswith("rna"):
        opts["workers"] = workers
    moo = {k: frag.pop(k) for k in ("objectives", "weights", "transforms") if frag and k in frag}
    opts.update(moo)  # --objectives, --weights, --transform: checked to be a custom task by the caller
    if frag:  # --vocab / --max-blocks go to fragment tasks only
        from tasks import registry

        if getattr(registry().get(task), "kind", None) == "fragment":
            opts.update(frag)
    opts.update(parse_task_options(task_option))
    return task, opts, get_task(task, **opts)


def _oracle_settings(executor, workers, ray_address, chunk_size, oracle_timeout, oracle_retries, on_oracle_error,
                     score_store, stale_scores_ok=False):
    """Executor and store options, checked before anything is written (Ray: reachable, installed)."""
    from molgfn.oracle import OracleSettings

    st = OracleSettings(executor=executor or "auto", workers=workers, chunk_size=chunk_size, timeout=oracle_timeout,
                        retries=oracle_retries, on_error=on_oracle_error, ray_address=ray_address,
                        store=score_store, reuse_across_versions=bool(stale_scores_ok)).validate()
    if st.executor == "ray":
        from molgfn.oracle.ray_executor import preflight

        preflight(st.ray_address)
    return st


# the CLI's executor and store options -> OracleSettings fields, as config.json's oracle_settings records them
_ORACLE_OPTIONS = {"executor": "executor", "workers": "workers", "ray_address": "ray_address",
                   "chunk_size": "chunk_size", "oracle_timeout": "timeout", "oracle_retries": "retries",
                   "on_oracle_error": "on_error", "score_store": "store",
                   "stale_scores_ok": "reuse_across_versions"}


def _resumed_oracle_options(run_dir: Path, given: dict) -> dict:
    """--resume: each executor/store option as the run stored it, or as typed now (a flag overrides)."""
    import json

    from molgfn.runs import CONFIG

    try:
        stored = json.loads((run_dir / CONFIG).read_text()).get("oracle_settings") or {}
    except (OSError, ValueError, AttributeError):
        stored = {}  # a missing or damaged config.json is reported by TrainConfig.load
    typed = _explicit_options()
    out = {opt: given[opt] if opt in typed or field not in stored else stored[field]
           for opt, field in _ORACLE_OPTIONS.items()}
    out["score_store"] = Path(out["score_store"]) if out["score_store"] is not None else None
    return out


def _configure_oracle(task_obj, settings, explicit: bool) -> None:
    from molgfn.oracle import configure_task

    if not configure_task(task_obj, settings) and explicit:
        console.print(f"note: task {task_obj.name!r} scores in-process (a table or a model); executor and score "
                      "store options do not apply")


def _prepare_run_dir(out_dir: Path, resume: bool, overwrite: bool, dry_run: bool = False) -> None:
    """Check --out (dry_run), then own it (molgfn.runs.prepare_run_dir), printing what was cleaned."""
    from molgfn.runs import prepare_run_dir

    for note in prepare_run_dir(out_dir, resume, overwrite, dry_run):
        console.print(note)


def _run_training(cfg, task, out_dir: Path, resume: bool, quiet: bool, logger: list[str] | None = None,
                  progress: str = "auto", log_every: int = 0, overwrite: bool = False):
    from molgfn.api import train
    from molgfn.errors import Interrupted
    from molgfn.tracking import make_progress

    started_with: list = []

    def started(tr) -> None:
        started_with.append(tr)
        if resume and tr.round:
            console.print(f"resumed {out_dir} at round {tr.round}")

    def bar(tr):
        return make_progress("none" if quiet else progress, cfg.rounds, tr.round, console, log_every or None,
                             has_modes=cfg.track_modes and bool(task.num_modes()))

    try:
        return train(task, out_dir, config=cfg, resume=resume, progress=bar, loggers=logger or (), options=_INVOKED,
                     on_start=started, overwrite=overwrite)
    except Interrupted as e:
        ctx = _current_context()
        cmd = ctx.info_name if ctx is not None else "train"
        spec = cfg.task_options.get("oracle")
        again = f" --oracle {spec}" if spec else ""
        saved = started_with and started_with[0]._last_checkpoint is not None
        how = (f"resume with: molgfn {cmd} --out {out_dir} --resume{again}" if saved
               else "nothing to resume: start again with --overwrite")
        raise Interrupted(e.signum, f"{e}; {how}") from None


def _make_config(task_name, task_opts, **kw):
    from molgfn.config import TrainConfig

    return TrainConfig(task=task_name, task_options=task_opts, **kw)


@app.command("tasks", cls=Command)
@friendly
def tasks_cmd(data_dir: DataDirOpt = None) -> None:
    """List the tasks: name, kind, object space, reward exponent, assets and their status."""
    from molgfn import assets
    from tasks import registry

    assets.set_data_dir(data_dir)
    table = Table("task", "kind", "objects", "b", "assets", "description")
    for name, cls in sorted(registry().items()):
        if not isinstance(cls, type):
            table.add_row(name, "plugin", "?", "?", "?", f"entry point {cls.value}")
            continue
        space = getattr(cls, "space", None) or (f"{len(cls.alphabet)}^{cls.length}" if name != "custom"
                                                 else "your alphabet^L")
        st = ", ".join(f"{a}: {assets.status(a)[0]}" for a in cls.assets) or "none needed"
        table.add_row(name, cls.kind, space, f"{cls.reward_exponent:g}" if name != "custom" else "--reward-exponent",
                      st, cls.description)
    out.print(table)


def _train_like(task, out_dir, rounds, batch_size, replay_size, grad_steps, objective, lr, lr_logz, epsilon,
                hidden, layers, conditioning, beta_dist, local_search, ls_iterations, ls_backtrack, ls_filter,
                uniform_pb, seed, device, data_dir, resume, overwrite, checkpoint_every, oracle, alphabet,
                length, reward_exponent, workers, quiet, subtb_lambda=0.9, alpha=0.5, kl_mix_lambda=0.5,
                control_variate="loo", fldb_partial=False, vocab=None, max_blocks=8, track_modes=True,
                task_option=None, precheck=None, logger=None, progress="auto", log_every=0, objectives=None,
                weights=None, transform=None, trust_oracle=False, executor=None, ray_address=None,
                chunk_size=None, oracle_timeout=600.0, oracle_retries=0, on_oracle_error="stop", score_store=None,
                filters=None, preference_dist=None, stale_scores_ok=False, threads=None, max_oracle_calls=None):
    from molgfn import assets
    from molgfn.config import TrainConfig
    from molgfn.errors import InputError

    assets.set_data_dir(data_dir)
    _prepare_run_dir(out_dir, resume, overwrite, dry_run=True)
    if resume:  # the run's executor and score-store options (config.json), unless given again
        (executor, workers, ray_address, chunk_size, oracle_timeout, oracle_retries, on_oracle_error,
         score_store, stale_scores_ok) = _resumed_oracle_options(out_dir, locals()).values()
    oracle_settings = _oracle_settings(executor, workers, ray_address, chunk_size, oracle_timeout, oracle_retries,
                                       on_oracle_error, score_store, stale_scores_ok)
    from molgfn.runs import CONFIG

    if rounds is not None and rounds < 1:  # 0 rounds would leave a folder with no sampler to use
        raise InputError(f"--rounds must be at least 1, got {rounds}")
    if resume:
        cfg = TrainConfig.load(out_dir / CONFIG)
        given = dict(locals())
        _check_resume_options(cfg, given)
        if rounds is not None and rounds != cfg.rounds:
            console.print(f"--rounds {rounds} applied (the run was set to {cfg.rounds} rounds)")
        cfg.rounds = rounds if rounds is not None else cfg.rounds
        if max_oracle_calls is not None and max_oracle_calls != cfg.max_oracle_calls:  # may change, as --rounds
            console.print(f"--max-oracle-calls {max_oracle_calls} applied (was {cfg.max_oracle_calls})")
            from molgfn.budget import default_rounds

            old_cap = None if cfg.max_oracle_calls is None else default_rounds(cfg.max_oracle_calls, cfg.batch_size)
            if rounds is None and cfg.rounds == old_cap:  # the round cap came from the old budget: follow the new
                cfg.rounds = default_rounds(max_oracle_calls, cfg.batch_size)
            cfg.max_oracle_calls = max_oracle_calls
        if checkpoint_every != cfg.checkpoint_every and "checkpoint_every" in _explicit_options():
            console.print(f"--checkpoint-every {checkpoint_every} applied (was {cfg.checkpoint_every})")
            cfg.checkpoint_every = checkpoint_every
        cfg.device = device  # a run may resume on another machine
        task_obj = _stored_task(cfg, oracle, trust_oracle, workers=workers)
    else:
        frag = {"max_blocks": max_blocks} if max_blocks != 8 else {}
        if vocab is not None:
            frag["vocab"] = str(Path(vocab).resolve())
        moo = {"objectives": objectives.split(","), "weights": weights, "transforms": transform or []} \
            if objectives else None
        if moo is None and (weights or transform):
            raise InputError("--weights and --transform score the objectives named by --objectives")
        from tasks import registry

        if moo is not None and task not in ("custom", "custom-frag") and \
                not getattr(registry().get(task), "multi_objective", False):
            raise InputError("--objectives needs a multi-objective task (seh-frag-moo), or --task custom or "
                             "custom-frag with an --oracle returning one vector of objectives per object")
        if filters:  # drug-likeness constraints: a task option, so a resumed run keeps them
            from molgfn.chem.descriptors import parse_filters

            if getattr(registry().get(task), "kind", None) != "fragment":
                raise InputError(f"--filter constrains fragment molecules (seh-frag, qed-frag, custom-frag); "
                                 f"task {task!r} is not one")
            frag["filters"] = list(parse_filters(filters))
        task_name, opts, task_obj = _task(task, oracle, alphabet, length, reward_exponent, workers,
                                          {**frag, **(moo or {})}, task_option)
        from molgfn.budget import default_rounds

        if rounds is None:
            rounds = 1000 if max_oracle_calls is None else default_rounds(max_oracle_calls, batch_size)
        cfg = _make_config(task_name, opts, rounds=rounds, max_oracle_calls=max_oracle_calls, batch_size=batch_size,
                           replay_size=replay_size, grad_steps=grad_steps, objective=objective, lr=lr,
                           lr_logz=lr_logz, epsilon=epsilon,
                           hidden=hidden, n_layers=layers, conditioning=conditioning, beta_dist=beta_dist,
                           local_search=local_search, ls_iterations=ls_iterations, ls_backtrack=ls_backtrack,
                           ls_filter=ls_filter, uniform_pb=uniform_pb, seed=seed, device=device,
                           checkpoint_every=checkpoint_every, track_modes=track_modes,
                           objective_options={"subtb_lambda": subtb_lambda, "alpha": alpha,
                                              "kl_mix_lambda": kl_mix_lambda, "control_variate": control_variate,
                                              "fldb_partial": fldb_partial})
        cfg.preference_dist = _preference_dist(preference_dist, weights, task_obj)  # several objectives
    cfg.validate()
    from molgfn.limits import check_training_memory

    check_training_memory(cfg, task_obj)  # --hidden x --layers and the batch fit in memory, before --out is made
    _set_threads(cfg, task_obj, threads)
    from molgfn.tracking import check_loggers

    check_loggers(logger)
    mode_only = () if cfg.track_modes else getattr(task_obj, "mode_assets", ())  # --no-track-modes
    for a in getattr(task_obj, "assets", ()):
        if a not in mode_only:
            assets.require(a)  # fail now, with the fetch command, not mid-run
    if precheck is not None:
        precheck(cfg, task_obj)
    _prepare_run_dir(out_dir, resume, overwrite)
    from molgfn.oracle import STORE_FILE

    explicit = executor is not None or score_store is not None
    oracle_settings.store = oracle_settings.store or out_dir / STORE_FILE  # resume reuses the run's scores
    _configure_oracle(task_obj, oracle_settings, explicit)
    return _run_training(cfg, task_obj, out_dir, resume, quiet, logger, progress, log_every, overwrite)


def _set_threads(cfg, task, threads: int | None = None) -> None:
    """Torch threads: --threads, else from the CPUs this process may use and the model (molgfn.threads)."""
    from molgfn import threads as torch_threads

    if threads is not None:
        _check_ranges(("--threads", threads, 1, 4096))
    torch_threads.apply(cfg, task.env, threads)


def _preference_dist(spec: str | None, weights: str | None, task) -> str:
    """The run's preference distribution: a multi-objective task without --weights trains one
    preference-conditioned sampler (dirichlet:1); --weights (or --preference-dist none) the fixed sum."""
    from molgfn.errors import InputError

    several = len(getattr(task, "components", None) or ()) >= 2
    if spec is None:
        return "dirichlet:1" if several and not weights else ""
    if spec in ("", "none"):
        return ""
    if weights:
        raise InputError("--weights fixes one weighting and --preference-dist trains for every weighting: give one "
                         "of them (sample a weighting later with `molgfn sample RUN --preference W`)")
    return spec


def _config_callback(ctx: typer.Context, value: Path | None) -> Path | None:
    """``--config FILE`` (eager): the file's options become the command's defaults (Click's
    default_map), so flags on the command line still win."""
    from molgfn.errors import InputError
    from molgfn.tomlconfig import options_from_toml, read_toml

    _INVOKED_PARAMS[:] = ctx.command.params  # for --print-config
    if value is None or ctx.resilient_parsing:
        return value
    from molgfn.tomlconfig import option_keys

    group = ctx.parent.command if ctx.parent is not None else None
    elsewhere = {k: f"molgfn {name}" for name, cmd in (getattr(group, "commands", None) or {}).items()
                 if name != ctx.info_name for k in option_keys(cmd.params)}
    try:
        ctx.default_map = {**(ctx.default_map or {}),
                           **options_from_toml(read_toml(value), ctx.command.params, str(value), elsewhere)}
    except InputError as e:
        raise typer.BadParameter(str(e)) from None
    except OSError as e:  # a name too long, no permission, a folder: one line, as every other path
        from molgfn.paths import input_error

        raise typer.BadParameter(str(input_error(e, "cannot read --config"))) from None
    return value


_INVOKED_PARAMS: list = []


def _explicit_options() -> set[str]:
    """Names of the options the user typed (not defaults), from the running click command."""
    ctx = _current_context()
    if ctx is None:
        return set()
    return {n for n in ctx.params if getattr(ctx.get_parameter_source(n), "name", "") in ("COMMANDLINE",
                                                                                          "ENVIRONMENT")}


def _current_context():
    try:  # recent typer vendors its own click
        from typer._click.globals import get_current_context
    except ImportError:
        from click import get_current_context
    return get_current_context(silent=True)


# options a resumed run keeps from its config.json: typing another value is refused
_RUN_FIELDS = {"task": "task", "batch_size": "batch_size", "replay_size": "replay_size", "grad_steps": "grad_steps",
               "objective": "objective", "lr": "lr", "lr_logz": "lr_logz", "epsilon": "epsilon", "hidden": "hidden",
               "layers": "n_layers", "conditioning": "conditioning", "beta_dist": "beta_dist",
               "local_search": "local_search", "ls_iterations": "ls_iterations", "ls_backtrack": "ls_backtrack",
               "ls_filter": "ls_filter", "uniform_pb": "uniform_pb", "seed": "seed", "track_modes": "track_modes",
               "preference_dist": "preference_dist"}
_OBJECTIVE_FIELDS = ("subtb_lambda", "alpha", "kl_mix_lambda", "control_variate", "fldb_partial")
_TASK_FIELDS = {"alphabet": None, "length": None, "reward_exponent": None, "max_blocks": 8, "vocab": None,
                "oracle": None}


def _check_resume_options(cfg, given: dict) -> None:
    """--resume continues the stored run: an option typed with another value than the run's is refused
    (--rounds, --checkpoint-every, --device, --workers may change)."""
    from molgfn.errors import InputError

    bad = []
    for name in sorted(_explicit_options()):
        flag = "--" + name.replace("_", "-")
        if name in _RUN_FIELDS:
            stored = getattr(cfg, _RUN_FIELDS[name])
        elif name in _OBJECTIVE_FIELDS:
            stored = cfg.objective_options.get(name)
        elif name in _TASK_FIELDS:
            stored = cfg.task_options.get(name, _TASK_FIELDS[name])
            if name == "vocab" and given[name] is not None:
                given = {**given, name: str(Path(given[name]).resolve())}
        elif name == "task_option":
            for k, v in parse_task_options(given[name]).items():
                if cfg.task_options.get(k) != v:
                    bad.append(f"--task-option {k}={v} (the run has {cfg.task_options.get(k)!r})")
            continue
        else:
            continue
        if given[name] != stored:
            bad.append(f"{flag} {given[name]} (the run has {stored!r})" if stored is not None
                       else f"{flag} (the run's task {cfg.task} does not use it)")
    if bad:
        raise InputError("--resume continues the run as it was configured; these options contradict it: "
                         + "; ".join(bad) + ". Drop them, or start a new run in another --out")


def _stored_task(cfg, oracle: str | None, trust_oracle: bool, need_oracle: bool = True, workers: int | None = None):
    """The task of a stored run. A run folder never makes molgfn import code: a user oracle recorded
    in config.json is loaded only when named again on the command line (--oracle) or with
    --trust-oracle; without either, need_oracle=False gives the task without its oracle."""
    from molgfn.errors import InputError
    from tasks import get_task

    opts = dict(cfg.task_options)
    spec = opts.get("oracle")
    if spec is not None:
        if oracle:
            opts["oracle"] = oracle
        elif trust_oracle:
            pass
        elif need_oracle:
            raise InputError(f"this run scores objects with the oracle {spec!r} named in its config.json; molgfn "
                             f"never imports code because a run folder names it: pass --oracle {spec} (or "
                             "--trust-oracle) to load it")
        else:
            opts["oracle"] = None
        if workers is not None:
            opts["workers"] = workers
    return get_task(cfg.task, **opts)


def _training_options(
    task: TaskOpt = "rna1",
    task_option: TaskOptionOpt = None,
    rounds: Annotated[int | None, typer.Option(help="Training rounds in total; each spends --batch-size reward "
                                               "calls. Default 1000; with --resume, the run's own total.")] = None,
    batch_size: Annotated[int, typer.Option(help="On-policy samples (reward calls) per round.")] = 32,
    max_oracle_calls: Annotated[int | None, typer.Option(
        help="Stop at exactly N unique valid objects scored, as PMO counts oracle calls (repeats and invalid "
             "molecules are free). Without --rounds, at most 10x the rounds N needs.",
        rich_help_panel="Training")] = None,
    replay_size: Annotated[int, typer.Option(help="Replayed samples per round (no reward calls).")] = 32,
    grad_steps: Annotated[int, typer.Option(help="Gradient steps per round.")] = 3,
    objective: ObjectiveOpt = Objective.tb,
    subtb_lambda: SubTBLambdaOpt = 0.9,
    alpha: AlphaOpt = 0.5,
    kl_mix_lambda: KLMixOpt = 0.5,
    control_variate: ControlVariateOpt = ControlVariate.loo,
    fldb_partial: FLDBPartialOpt = False,
    lr: Annotated[float, typer.Option(help="Policy learning rate (the papers used 1e-4).")] = 1e-3,
    lr_logz: Annotated[float, typer.Option(help="log Z learning rate.")] = 1e-2,
    epsilon: Annotated[float, typer.Option(help="Epsilon-uniform exploration when sampling.")] = 0.01,
    hidden: Annotated[int, typer.Option(help="Hidden width of the policy network.")] = 128,
    layers: Annotated[int, typer.Option(help="Hidden layers of the policy MLP (transformer layers of the GNN).")]
    = 2,
    conditioning: Annotated[Conditioning, typer.Option(help="Temperature conditioning: none, logit (Logit-GFN) "
                                                       "or layer.")] = Conditioning.none,
    beta_dist: Annotated[str, typer.Option(help="Training inverse temperature: fixed:B, uniform:LO,HI or "
                                           "loguniform:LO,HI.")] = "fixed:1",
    local_search: Annotated[bool, typer.Option(help="LS-GFN local search (destroy K steps, rebuild, filter).")]
    = False,
    ls_iterations: Annotated[int, typer.Option(help="Local-search iterations I per round.")] = 7,
    ls_backtrack: Annotated[int, typer.Option(help="Steps K to destroy; 0 means (L+1)//2.")] = 0,
    ls_filter: Annotated[LSFilter, typer.Option(metavar="NAME", help="Acceptance: greedy (reward does not drop; "
                                                "ties move), greedy-strict (reward rises, as the LS-GFN code), "
                                                "mh (Metropolis-Hastings) or barker.")]
    = LSFilter.greedy,
    uniform_pb: Annotated[bool, typer.Option(help="Fix P_B to uniform instead of learning it.")] = False,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    device: DeviceOpt = Device.auto,
    threads: Annotated[int | None, typer.Option(help="Torch CPU threads (default: from the CPUs this process may use "
                                                "- affinity, cgroup quota, SLURM_CPUS_PER_TASK, OMP_NUM_THREADS - "
                                                "and the model's size: 1 for a small model).")] = None,
    data_dir: DataDirOpt = None,
    resume: Annotated[bool, typer.Option(help="Continue the run in --out from its last checkpoint.")] = False,
    overwrite: Annotated[bool, typer.Option(help="Start again in --out: removes the files of the molgfn run there "
                                            "(never other files; a folder that is not a molgfn run is refused).")]
    = False,
    trust_oracle: Annotated[bool, typer.Option(help="With --resume: load the oracle module named in the run's "
                                               "config.json (molgfn never imports it otherwise; or pass --oracle "
                                               "again).")] = False,
    checkpoint_every: Annotated[int, typer.Option(help="Rounds between checkpoints.")] = 50,
    oracle: OracleOpt = None,
    alphabet: AlphabetOpt = "ACGT",
    length: LengthOpt = 8,
    reward_exponent: ExpOpt = 1.0,
    workers: WorkersOpt = None,
    executor: ExecutorOpt = None,
    ray_address: RayAddressOpt = None,
    chunk_size: ChunkSizeOpt = None,
    oracle_timeout: OracleTimeoutOpt = 600.0,
    oracle_retries: OracleRetriesOpt = 0,
    on_oracle_error: OnOracleErrorOpt = OnOracleError.stop,
    score_store: ScoreStoreOpt = None,
    stale_scores_ok: ReuseScoresOpt = False,
    vocab: VocabOpt = None,
    max_blocks: MaxBlocksOpt = 8,
    filters: FilterOpt = None,
    track_modes: Annotated[bool, typer.Option(help="Count modes found during training (RNA modes, whose check "
                                              "costs 42 oracle calls each, are counted by `evaluate`); "
                                              "--no-track-modes: off, and no mode asset needed.")]
    = True,
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
    progress: Annotated[ProgressMode, typer.Option(help="auto: a bar on a terminal, plain lines in a log file.",
                                                   rich_help_panel="Watching the run")] = ProgressMode.auto,
    log_every: Annotated[int, typer.Option(help="Plain progress: a line every N rounds (0: about 20 lines).",
                                           rich_help_panel="Watching the run")] = 0,
    logger: Annotated[list[Logger] | None, typer.Option(help="Also log to tensorboard (RUN/tensorboard) or mlflow "
                                                     "($MLFLOW_TRACKING_URI, else RUN/mlruns); repeatable. Needs "
                                                     "the tensorboard or mlflow package (molgfn's extras).",
                                                     rich_help_panel="Watching the run")] = None,
    objectives: Annotated[str | None, typer.Option(
        help="Names of the k objectives your --oracle returns per object (one vector each; --task custom or "
             "custom-frag), e.g. gc,mfe; or a subset of seh-frag-moo's seh,qed,sa,mw.",
        rich_help_panel="Several objectives")] = None,
    weights: Annotated[str | None, typer.Option(
        help="Weighted-sum scoring: one weight per objective (default equal); r = sum w_i t_i(y_i) / sum w_i.",
        rich_help_panel="Several objectives")] = None,
    transform: Annotated[list[str] | None, typer.Option(
        help="Per-objective transform NAME=SPEC, repeatable: sigmoid:LOW,HIGH,K (0.5 at the midpoint, K the "
             "steepness), reverse_sigmoid:LOW,HIGH,K, step:LOW,HIGH (1 inside, 0 outside) or identity.",
        rich_help_panel="Several objectives")] = None,
    preference_dist: Annotated[str | None, typer.Option(
        help="Preference conditioning: dirichlet:ALPHA trains one sampler for every weighting w ~ Dirichlet "
             "(the default for several objectives without --weights: dirichlet:1); none trains the fixed "
             "weighted sum.", rich_help_panel="Several objectives")] = None,
    config: Annotated[Path | None, typer.Option(
        "--config", is_eager=True, callback=_config_callback,
        help="TOML file of options (keys named like the flags: batch-size = 64, out = \"runs/x\"); "
             "flags on the command line override it.", rich_help_panel="Config file")] = None,
    print_config: Annotated[bool, typer.Option(help="Print the effective options as TOML (readable by --config) "
                                               "and exit without running.", rich_help_panel="Config file")]
    = False,
) -> None:
    """The options train and design share: declared once, never called."""


def with_training_options(fn):
    """Give ``fn(own options..., **opts)`` the shared training options in its signature (Typer reads it)."""
    own = [p for p in inspect.signature(fn, eval_str=True).parameters.values() if p.kind != p.VAR_KEYWORD]
    shared = list(inspect.signature(_training_options, eval_str=True).parameters.values())

    @functools.wraps(fn)
    def wrapper(**kwargs):
        config_file = kwargs.pop("config", None)
        if kwargs.pop("print_config", False):
            from molgfn import __version__
            from molgfn.tomlconfig import dumps, effective_options

            if "ctx" in kwargs:  # design: the options with the task's recipe applied, as the run would use them
                kwargs = {**_design_defaults(kwargs["ctx"], {**kwargs, "quiet": True}), "quiet": kwargs["quiet"]}
            sys.stdout.write(dumps(effective_options(kwargs, _INVOKED_PARAMS),
                                   f"molgfn {__version__}: options of `molgfn {fn.__name__}`; "
                                   f"run them with `molgfn {fn.__name__} --config FILE`"))
            return None
        _INVOKED.clear()
        _INVOKED.update({k: v for k, v in kwargs.items() if k != "ctx"})  # every option as parsed: config.json
        _INVOKED["config"] = str(Path(config_file).resolve()) if config_file else None
        return fn(**kwargs)

    wrapper.__signature__ = inspect.Signature(_in_panels(own + shared))
    return wrapper


# --help panels of the long commands, shown in this order; an option named in none stays under "Options"
PANELS = {
    "Task": ("task", "task_option", "oracle", "alphabet", "length", "reward_exponent", "vocab", "max_blocks",
             "filters", "input", "column", "data_dir"),
    "Model": ("hidden", "layers", "conditioning", "beta_dist", "uniform_pb", "device", "threads"),
    "Training": ("rounds", "batch_size", "replay_size", "grad_steps", "objective", "subtb_lambda", "alpha",
                 "kl_mix_lambda", "control_variate", "fldb_partial", "lr", "lr_logz", "epsilon", "seed",
                 "track_modes"),
    "Local search": ("local_search", "ls_iterations", "ls_backtrack", "ls_filter"),
    "Several objectives": ("objectives", "weights", "transform", "preference_dist", "preference"),
    "Oracle and execution": ("workers", "executor", "ray_address", "chunk_size", "oracle_timeout", "oracle_retries",
                             "on_oracle_error", "score_store", "stale_scores_ok", "trust_oracle"),
    "Output": ("out_dir", "output", "resume", "overwrite", "checkpoint_every", "force"),
    "Candidates": ("num_candidates", "num_samples", "beta", "min_distance", "max_similarity", "max_per_scaffold",
                   "format", "show"),
    "Watching the run": ("quiet", "progress", "log_every", "logger"),
    "Config file": ("config", "print_config"),
}


def _in_panels(params) -> list:
    """Parameters with their --help panel (PANELS) set, sorted by panel (a panel given in place wins)."""
    import copy
    import typing

    from typer.models import ParameterInfo

    panel_of = {name: panel for panel, names in PANELS.items() for name in names}
    order = list(PANELS)
    out = []
    for p in params:
        panel = None
        if typing.get_origin(p.annotation) is Annotated:
            base, *meta = typing.get_args(p.annotation)
            meta = [copy.copy(m) if isinstance(m, ParameterInfo) else m for m in meta]  # aliases are shared
            for m in meta:
                if isinstance(m, ParameterInfo):
                    m.rich_help_panel = panel = m.rich_help_panel or panel_of.get(p.name)
            p = p.replace(annotation=Annotated[(base, *meta)])
        out.append((order.index(panel) if panel in order else -1, len(out), p))
    return [p for *_, p in sorted(out, key=lambda t: t[:2])]


def help_panels(fn):
    """Group ``fn``'s options into the PANELS of --help (Typer reads the signature set here)."""
    fn.__signature__ = inspect.Signature(_in_panels(inspect.signature(fn, eval_str=True).parameters.values()))
    return fn


_INVOKED: dict = {}  # the options of the running train/design command


@app.command(cls=renamed(OUT_DIR_RENAMED))
@friendly
@with_training_options
def train(
    out_dir: Annotated[Path, typer.Option("--out", help="Run directory (config, metrics, checkpoint).")]
    = Path("runs/latest"),
    **opts,
) -> None:
    """Train a GFlowNet sampler on a task; writes config.json, metrics.csv, checkpoint.pt in --out."""
    tr = _train_like(out_dir=out_dir, **opts)
    console.print(f"trained {tr.round} rounds, {tr.reward_calls} reward calls -> {out_dir}")


@app.command(cls=renamed(OUT_DIR_RENAMED))
@friendly
@with_training_options
def design(
    ctx: typer.Context,
    out_dir: Annotated[Path, typer.Option("--out", help="Run directory; candidates.csv goes here.")]
    = Path("runs/design"),
    num_candidates: Annotated[int, typer.Option(help="Rows in candidates.csv (best first).")] = 100,
    num_samples: Annotated[int, typer.Option("--num-samples", "-n", help="Samples drawn from the trained sampler, "
                                             "added to the objects seen in training before ranking.")] = 1000,
    beta: Annotated[str | None, typer.Option(help="Inverse temperature(s) of the final sampling, e.g. 1 or 1,5,10 "
                                             "(several: one merged list with a beta column, ranked within each "
                                             "beta). Default: 1, or the trained one.")] = None,
    preference: Annotated[list[str] | None, typer.Option(
        help="Preference-conditioned runs: a weighting w to sample at, one number per objective (e.g. "
             "0.7,0.1,0.1,0.1); repeatable, the lists merged and Pareto-ranked. Default: each objective alone "
             "and equal weights.")] = None,
    min_distance: Annotated[int, typer.Option(help="Diverse list: keep a sequence only if its Levenshtein "
                                              "distance to every better one kept is at least this (0: off).")] = 0,
    max_similarity: Annotated[float, typer.Option(help="Diverse list of molecules: keep one only if its Tanimoto "
                                                  "similarity to every better one kept is below this (1: off).")]
    = 1.0,
    max_per_scaffold: Annotated[int, typer.Option(help="Diverse list of molecules: at most this many per Murcko "
                                                  "scaffold, the best of each (0: off).")] = 0,
    format: Annotated[ListFormat, typer.Option("--format", help="Candidate list format: csv, sdf (one 3-D "
                                               "conformer per molecule, every column as an SD property) or "
                                               "parquet; candidates.csv is always written too.")] = ListFormat.csv,
    show: Annotated[int, typer.Option(help="Print this many top candidates.")] = 10,
    **opts,
) -> None:
    """Train, then write a ranked table of unique candidates (candidates.csv) and print the best.

    Training options you leave unset follow the task's recommended recipe (printed at the start; \
see bench/TUNING.md), not the defaults shown below, which are what `molgfn train` uses."""
    from molgfn.errors import InputError

    _check_ranges(("--num-samples", num_samples, 0, 10**7), ("--num-candidates", num_candidates, 1, 10**7),
                  ("--min-distance", min_distance, 0, None), ("--max-similarity", max_similarity, 0, 1),
                  ("--show", show, 0, None))
    if max_similarity <= 0:
        raise InputError(f"--max-similarity must be in (0, 1], got {max_similarity}")

    def precheck(cfg, task) -> None:  # options of the final step are checked before any training
        betas = parse_betas(beta) if beta else []
        if cfg.conditioning == "none" and any(b != BetaDist(cfg.beta_dist).vals[0] for b in betas):
            raise InputError("--beta other than the trained one needs a temperature-conditional sampler "
                             "(--conditioning logit --beta-dist uniform:LO,HI)")
        if max_similarity < 1.0 and task.object_column != "smiles" and task.smiles(
                task.env.to_strings(task.env.initial(0))) is None:
            raise InputError(f"--max-similarity compares molecules; task {task.name!r} has none: "
                             "use --min-distance for sequences")
        if (max_per_scaffold > 0 or format == "sdf") and task.object_column != "smiles" and task.smiles(
                task.env.to_strings(task.env.initial(0))) is None:
            raise InputError(f"--max-per-scaffold and --format sdf need molecules; task {task.name!r} has none")
        if max_per_scaffold < 0:
            raise InputError("--max-per-scaffold must be >= 0 (0: off)")
        if preference and not cfg.preference_dist:
            raise InputError("--preference needs a preference-conditioned sampler: drop --weights (or give "
                             "--preference-dist dirichlet:1) for a task with several objectives")
        if preference:
            from molgfn.moo import parse_preference

            for w in preference:
                parse_preference(w, [c.name for c in task.components])

    from molgfn.config import BetaDist

    opts = _design_defaults(ctx, opts)
    _INVOKED.update(opts)  # config.json records the options the run used, the recipe included
    src = ctx.get_parameter_source("num_samples")
    tr = _train_like(out_dir=out_dir, precheck=precheck, **opts)
    if tr.cfg.max_oracle_calls is not None and (src is None or src.name == "DEFAULT"):
        num_samples = 0  # a budgeted run (also resumed) ranks what it scored: samples would be calls past it
    try:
        _write_candidates(tr, out_dir, num_samples, num_candidates, beta, show, min_distance, max_similarity,
                          max_per_scaffold, format, preference)
    finally:
        tr.task.close()


CLI_NAME = {"n_layers": "layers"}  # TrainConfig field -> option name, where they differ


def _design_defaults(ctx: typer.Context, opts: dict) -> dict:
    """The task's recommended recipe (``Task.design_defaults``) for every training option the
    user did not give on the command line; the user's flags always win. Tuned with TB only,
    so another --objective (or --resume, which keeps its run's config) gets the plain defaults."""
    from molgfn.errors import InputError
    from tasks import registry

    cls = registry().get(opts["task"])
    if opts["resume"] or opts["objective"] != "tb" or cls is None:
        return opts
    if not isinstance(cls, type):  # an entry-point plugin the user named: get_task loads it anyway
        try:
            cls = cls.load()
        except Exception:
            return opts  # get_task reports the failure
    sources = {name: ctx.get_parameter_source(name) for name in opts}
    given = {name for name, src in sources.items() if src is not None and src.name != "DEFAULT"}
    new = dict(opts)
    applied = {}
    for key, value in getattr(cls, "design_defaults", {}).items():
        name = CLI_NAME.get(key, key)
        if name not in opts:
            raise InputError(f"task {opts['task']!r}: design default {key!r} is not a training option")
        if name not in given:
            new[name] = applied[name] = value
    if new["conditioning"] == "none" and "beta_dist" in applied:  # a fixed-beta sampler keeps its fixed:1
        new["beta_dist"] = opts["beta_dist"]
        del applied["beta_dist"]
    if new["local_search"] and "local_search" in applied and new["batch_size"] % (new["ls_iterations"] + 1):
        raise InputError(f"design uses local search by default, which needs --batch-size divisible by "
                         f"--ls-iterations + 1 ({new['ls_iterations'] + 1}): change --batch-size, or pass "
                         "--no-local-search")
    if applied and not new["quiet"]:
        flag = lambda k: "--" + k.replace("_", "-")  # noqa: E731
        shown = " ".join(flag(k) if v is True else f"--no-{flag(k)[2:]}" if v is False else f"{flag(k)} {v}"
                         for k, v in applied.items())
        console.print(f"design defaults for {opts['task']}: {shown} (bench/TUNING.md; any flag overrides)")
    return new


def parse_betas(spec: str) -> list[float]:
    from molgfn.errors import InputError

    try:
        betas = [float(b) for b in spec.split(",") if b.strip()]
    except ValueError:
        betas = []
    if not betas or any(not 0 < b <= 1e3 for b in betas):
        raise InputError(f"--beta must be finite numbers in (0, 1000] separated by commas, got {spec!r}")
    return betas


def _write_candidates(tr, out_dir: Path, num_samples: int, num_candidates: int, beta: str | None, show: int,
                      min_distance: int = 0, max_similarity: float = 1.0, max_per_scaffold: int = 0,
                      fmt: str = "csv", preference: list[str] | None = None) -> None:
    from molgfn.api import rank_candidates
    from molgfn.chem.descriptors import CHECK_ORDER
    from molgfn.runs import CANDIDATES, atomic_write_csv

    trained_counts = dict(getattr(tr.task, "filter_counts", {}))
    df = rank_candidates(tr, num_samples, num_candidates, parse_betas(beta) if beta else None, min_distance,
                         max_similarity, preference, max_per_scaffold)
    atomic_write_csv(out_dir / CANDIDATES, df)
    if fmt != "csv":
        _write_list(df, out_dir / Path(CANDIDATES).with_suffix("." + fmt).name, fmt)
    if getattr(tr.task, "filters", ()):  # counted over training's reward calls, before the final sampling
        per = ", ".join(f"{f} {trained_counts.get(f, 0)}" for f in sorted(tr.task.filters, key=CHECK_ORDER.index))
        console.print(f"filters: {trained_counts['filtered']} of {tr.reward_calls} reward calls in training were "
                      f"molecules rejected by a filter ({per}; checked in this order, each counted once); they got "
                      "the floor reward", soft_wrap=True)
    if "smiles" in df.columns:  # molecules: a picture of the best ones
        from molgfn.report import MOLECULES_PNG, molecule_grid

        if molecule_grid(df, out_dir / MOLECULES_PNG) is not None:
            console.print(f"top molecules -> {out_dir / MOLECULES_PNG}")
    tr.task.close()
    table, left_out = _rich_table(df, show, out.width)
    out.print(table)
    if left_out:
        console.print(f"(not shown here: {', '.join(left_out)})", highlight=False)
    console.print(f"{len(df)} ranked candidates -> {out_dir / CANDIDATES}")


def _rich_table(df, show: int, width: int = 80):
    """The first ``show`` rows as a rich table that reads at ``width`` columns (molecules: the
    columns worth a glance; objects never cut), and the names of the columns left out."""
    from molgfn.display import candidate_table_view, molecule_table_view

    if "smiles" in df.columns:
        return molecule_table_view(df, show)
    return candidate_table_view(df, show, width)


def _write_list(df, path: Path, fmt: str | None = None) -> None:
    """A molecule or sequence list as csv, sdf or parquet (``molgfn.chem.descriptors.write_table``)."""
    from molgfn.chem.descriptors import write_table

    failures = write_table(df, path, fmt)
    if failures:
        console.print(f"{len(failures)} molecule(s) without a 3-D conformer (2-D coordinates and a "
                      f"conformer_error property instead): " + "; ".join(failures[:5]), highlight=False,
                      soft_wrap=True)
    console.print(f"{len(df)} rows -> {path}")


def _load_run(run: Path, data_dir: Path | None, device: str, oracle: str | None = None,
              trust_oracle: bool = False, need_oracle: bool = True):
    import os

    from molgfn import assets
    from molgfn.api import load_checkpoint
    from molgfn.config import TrainConfig
    from molgfn.errors import InputError
    from molgfn.runs import CHECKPOINT, CONFIG, is_run_dir
    from molgfn.trainer import Trainer

    assets.set_data_dir(data_dir)
    if not run.is_dir():
        raise InputError(f"{run} is not a folder; give the run directory written by `molgfn train --out DIR`")
    if not (run / CONFIG).exists() or not (run / CHECKPOINT).exists():
        if is_run_dir(run) and not (run / CHECKPOINT).exists():
            raise InputError(f"{run} stopped before its first checkpoint, so there is no trained sampler: start it "
                             "again with `molgfn train ... --out DIR --overwrite`")
        raise InputError(f"{run} is not a trained run (needs {CONFIG} and {CHECKPOINT}); train one with "
                         "`molgfn train --out DIR`")
    cfg = TrainConfig.load(run / CONFIG)
    cfg.device = device
    task = _stored_task(cfg, oracle, trust_oracle, need_oracle)
    _set_threads(cfg, task)
    try:
        tr = Trainer(cfg, task, run, check_training_memory=False)  # sampling a run: no training memory
        load_checkpoint(tr)  # a checkpoint that does not fit config.json is a one-line error naming it
        from molgfn.oracle import STORE_FILE, OracleSettings, configure_task

        store = run / STORE_FILE if (run / STORE_FILE).exists() else None
        if store is not None and not (os.access(run, os.W_OK) and os.access(store, os.W_OK)):
            console.print(f"note: {run} is read-only: new scores are not stored in {store}", highlight=False)
            store = None  # a read-only run folder (an archive, a shared disk) still samples and evaluates
        configure_task(tr.task, OracleSettings(store=store))
        from molgfn.oracle import task_oracles

        for o in task_oracles(tr.task):
            o.store_writes_optional = True  # a full disk must not stop sampling a finished run
    except BaseException:
        task.close()
        raise
    return tr


ForceOpt = Annotated[bool, typer.Option("--force", help="Replace an existing output that molgfn did not write (or "
                                        "a run's own file, or the input): refused without it.")]
TrustOracleOpt = Annotated[bool, typer.Option(help="Load the oracle module named in the run's config.json to "
                                               "score (molgfn never imports it otherwise; or pass --oracle).")]


@app.command(cls=renamed({"--n": "--num-samples"}))
@friendly
def sample(
    run: Annotated[Path, typer.Argument(help="A run directory written by train or design.")],
    num_samples: Annotated[int, typer.Option("--num-samples", "-n", help="Number of samples (>= 1).")] = 100,
    beta: Annotated[float | None, typer.Option(help="Inverse temperature to sample at (default: 1, or the "
                                               "trained one for an unconditional sampler).")] = None,
    preference: Annotated[str | None, typer.Option(
        help="Preference-conditioned runs: the weighting w to sample at, one number per objective (e.g. "
             "0.7,0.1,0.1,0.1). Default: w drawn from the training distribution for each sample.")] = None,
    output: Annotated[str, typer.Option("--output", "-o", help="Output file (.csv, .sdf or .parquet), or - for CSV on "
                                        "stdout.")] = "-",
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    device: DeviceOpt = Device.auto,
    data_dir: DataDirOpt = None,
    oracle: OracleOpt = None,
    trust_oracle: TrustOracleOpt = False,
    force: ForceOpt = False,
) -> None:
    """Draw N samples from a trained sampler (with their raw scores and rewards; multi-objective
    tasks: their objectives and Pareto ranks; a run with your own oracle is scored only when you
    name it with --oracle or --trust-oracle)."""
    from molgfn.api import sample as sample_run
    from molgfn.limits import MAX_SAMPLES

    _check_ranges(("--num-samples", num_samples, 1, MAX_SAMPLES), ("--seed", seed, 0, SEED_MAX))
    output = _output_path(output, force)  # before any work: never onto a run's files or a file not ours
    tr = _load_run(run, data_dir, device, oracle, trust_oracle, need_oracle=False)
    try:
        tr.gen.manual_seed(seed)
        df = sample_run(tr, num_samples, beta, preference)
    finally:
        tr.task.close()
    if getattr(tr.task, "oracle", True) is None:
        console.print(f"not scored: this run's oracle {tr.cfg.task_options['oracle']!r} is only loaded when "
                      "you pass --oracle (or --trust-oracle)")
    if "smiles" in df.columns:  # molecules: the chemistry columns
        from molgfn.chem.descriptors import add_descriptors

        df = add_descriptors(df)
    _emit(df, output)


SEED_MAX = 2**32 - 1


def _check_ranges(*specs) -> None:
    """(flag, value, lo, hi) tuples, either bound None: refuse NaN/inf and values outside [lo, hi]."""
    import math

    from molgfn.errors import InputError

    for flag, v, lo, hi in specs:
        finite = not isinstance(v, float) or math.isfinite(v)
        if not finite or (lo is not None and v < lo) or (hi is not None and v > hi):
            rng = f">= {lo}" if hi is None else f"<= {hi}" if lo is None else f"in [{lo}, {hi}]"
            raise InputError(f"{flag} must be a finite number {rng}, got {v}")


def _output_path(output: str, force: bool, inputs=()) -> str:
    """``-o``: ``-`` (stdout), or the file it may write (``molgfn.paths.check_output_file``)."""
    from molgfn.paths import check_output_file

    return output if output == "-" else str(check_output_file(output, force=force, inputs=inputs))


def _emit(df, output: str) -> None:
    """CSV to stdout (``-``), or a file whose suffix picks the format: .csv, .sdf or .parquet."""
    if output == "-":
        sys.stdout.write(df.to_csv(index=False))
    else:
        suffix = Path(output).suffix.lower().lstrip(".")
        try:
            _write_list(df, Path(output), suffix if suffix in ("sdf", "parquet") else "csv")
        except OSError as e:
            from molgfn.paths import input_error

            raise input_error(e, "cannot write --output") from None
        if "smiles" in df.columns:
            console.print(_rich_table(df, 10, console.width)[0])


@app.command(cls=Command)
@friendly
@help_panels
def score(
    task: TaskOpt,
    input: Annotated[Path, typer.Option("--input", "-i", help="File: one object per line, or a CSV.")],
    column: Annotated[str | None, typer.Option(help="CSV column holding the objects (default: the task's "
                                               "object column, else the first).")] = None,
    output: Annotated[str, typer.Option("--output", "-o", help="Output file (.csv, .sdf or .parquet), or - for CSV on "
                                        "stdout.")] = "-",
    data_dir: DataDirOpt = None,
    oracle: OracleOpt = None,
    alphabet: AlphabetOpt = "ACGT",
    length: LengthOpt = 8,
    reward_exponent: ExpOpt = 1.0,
    workers: WorkersOpt = None,
    task_option: TaskOptionOpt = None,
    executor: ExecutorOpt = None,
    ray_address: RayAddressOpt = None,
    chunk_size: ChunkSizeOpt = None,
    oracle_timeout: OracleTimeoutOpt = 600.0,
    oracle_retries: OracleRetriesOpt = 0,
    on_oracle_error: OnOracleErrorOpt = OnOracleError.stop,
    score_store: ScoreStoreOpt = None,
    stale_scores_ok: ReuseScoresOpt = False,
    force: ForceOpt = False,
) -> None:
    """Score the objects in a file with the task's oracle: CSV of object, raw_score, reward."""

    from molgfn import assets

    output = _output_path(output, force, inputs=[input])
    assets.set_data_dir(data_dir)
    settings = _oracle_settings(executor, workers, ray_address, chunk_size, oracle_timeout, oracle_retries,
                                on_oracle_error, score_store, stale_scores_ok)
    _, _, t = _task(task, oracle, alphabet, length, reward_exponent, workers, task_option=task_option)
    try:
        _configure_oracle(t, settings, executor is not None or score_store is not None)
        objs, row_offset = _read_objects(input, column, t.object_column)
        df = _score_rows(t, objs, row_offset)
    finally:
        t.close()
    _emit(df, output)


def _read_objects(input: Path, column: str | None, default_column: str) -> tuple[list[str], int]:
    """Objects of a --input file (one per line, or a CSV column) and the file row of the first one."""
    import io

    import pandas as pd

    from molgfn.errors import InputError

    if not input.exists():
        raise InputError(f"input file {input} does not exist")
    if input.is_dir():
        raise InputError(f"--input {input} is a folder; give a text file (one object per line) or a CSV")
    try:
        data = input.read_bytes()
    except OSError as e:
        raise InputError(f"cannot read --input {input}: {e.strerror or e}") from None
    try:
        if b"\x00" in data:
            raise UnicodeDecodeError("utf-8", data, 0, 1, "NUL bytes")
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"--input {input} is not UTF-8 text (binary, or UTF-16?); save it as UTF-8 text, "
                         "one object per line or a CSV") from None
    lines = [ln.strip() for ln in text.splitlines()]
    first = lines[0] if lines else ""
    if "," in first or input.suffix.lower() == ".csv":
        try:
            df_in = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as e:
            raise InputError(f"--input {input} is not a readable CSV: {str(e).strip()[:120]}") from None
        col = column or (default_column if default_column in df_in.columns else df_in.columns[0])
        if col not in df_in.columns:
            raise InputError(f"column {col!r} not in {input}; columns: {', '.join(df_in.columns)}")
        objs, row_offset = [s.strip() for s in df_in[col].tolist()], 2  # header is line 1
    else:
        objs, row_offset = [ln for ln in lines if ln], 1
    if not objs:
        raise InputError(f"{input} holds no objects")
    return objs, row_offset


def _score_rows(t, objs: list[str], row_offset: int):
    """Score the valid objects; an invalid row is kept, unscored, with valid=False and the reason in
    ``error`` (those two columns appear only when some row is invalid)."""
    import pandas as pd
    import torch

    from molgfn.errors import InputError

    if hasattr(t, "score_table"):  # fragment tasks: molecules given as SMILES
        from molgfn.limits import smiles_errors

        errors = smiles_errors(objs)  # unparsable, or more atoms than molgfn scores (molgfn.limits.MAX_ATOMS)
        col = "input"
    else:
        env = t.env
        errors = ["" if len(o) == env.length and all(c in env.alphabet for c in o)
                  else f"not {env.length} letters of {env.alphabet}" for o in objs]
        col = t.object_column
    ok = [i for i, e in enumerate(errors) if not e]
    bad = [i for i, e in enumerate(errors) if e]
    shown = "; ".join(f"row {i + row_offset}: {objs[i][:60]!r}" for i in bad[:10])
    if not ok:
        raise InputError(f"no valid object for task {t.name} in the input ({errors[0]}): {shown}")
    good = [objs[i] for i in ok]

    def score_part(good):
        if hasattr(t, "score_table"):
            return t.score_table(good, row_offset)
        raw, logr = t.evaluate(t.env.from_strings(good))
        df = pd.DataFrame({col: good, "raw_score": raw.numpy(), "reward": torch.exp(logr).numpy()})
        smiles = t.smiles(good)
        if smiles is not None:  # block strings: the molecule, with the chemistry columns
            from molgfn.chem.descriptors import add_descriptors

            df.insert(1, "smiles", smiles)
            df = add_descriptors(df)
        return df

    from molgfn.scorefile import score_in_chunks

    df = score_in_chunks(score_part, good)  # a large file: in chunks, with progress on stderr
    if not bad:
        return df
    df.index = ok
    df = pd.concat([df, pd.DataFrame({col: [objs[i] for i in bad]}, index=bad)]).sort_index()
    df["valid"] = [not e for e in errors]
    df["error"] = errors
    console.print(f"warning: {len(bad)} of {len(objs)} rows could not be scored ({shown}): kept with "
                  "valid=False and the reason in the error column", highlight=False, soft_wrap=True, markup=False)
    return df.reset_index(drop=True)


@app.command(cls=renamed({"--n": "--num-samples", "--k": "--top-k"}))
@friendly
def evaluate(
    run: Annotated[Path, typer.Argument(help="A run directory written by train or design.")],
    num_samples: Annotated[int, typer.Option("--num-samples", "-n", help="Final samples for the top-k metrics.")]
    = 1000,
    beta: Annotated[float | None, typer.Option(help="Inverse temperature of the final samples and of the "
                                               "exact target (default: 1, or the trained one).")] = None,
    top_k: Annotated[int, typer.Option(help="k of the top-k score and diversity.")] = 100,
    seed: Annotated[int, typer.Option(help="Random seed of the final sampling.")] = 0,
    device: DeviceOpt = Device.auto,
    data_dir: DataDirOpt = None,
    fmt: FormatOpt = Format.table,
    exact_front: Annotated[bool, typer.Option(help="Multi-objective sequence tasks: score every object to find "
                                              "the true Pareto front, and report IGD against it.")] = False,
    oracle: OracleOpt = None,
    trust_oracle: TrustOracleOpt = False,
) -> None:
    """The papers' metrics for a run: modes found, top-k score and diversity, and (enumerable
    tasks) the exact L1 distance to R^beta/Z, log p vs log R correlation and log Z error; on every
    task an importance-sampled log Z with its standard error and effective sample size against the
    learned log Z (is_log_z_error: is the sampler calibrated?). Written to RUN/evaluation.json."""
    from molgfn.evaluation import evaluate_trainer
    from molgfn.limits import MAX_SAMPLES
    from molgfn.runs import atomic_write_text

    _check_ranges(("--num-samples", num_samples, 1, MAX_SAMPLES), ("--top-k", top_k, 1, None),
                  ("--seed", seed, 0, SEED_MAX))
    tr = _load_run(run, data_dir, device, oracle, trust_oracle)
    try:
        from molgfn.moo import objective_report

        tr.gen.manual_seed(seed)
        res = evaluate_trainer(tr, n=num_samples, beta=tr.sampling_beta(beta), k=top_k)
        res.update(objective_report(tr, n=num_samples, beta=tr.sampling_beta(beta),
                                    exact=exact_front))  # multi-objective
    finally:
        tr.task.close()
    try:
        atomic_write_text(run / "evaluation.json", json.dumps(res, indent=2))
        saved = None
    except OSError as e:  # a read-only run folder, a full disk: the metrics are still printed, the file skipped
        from molgfn.paths import os_error_message

        saved = os_error_message(e) or f"cannot write {run / 'evaluation.json'}: {e}"
    if fmt == Format.json:
        _print_json(res)
    else:
        table = Table("metric", "value")
        for key, v in res.items():
            table.add_row(key, f"{v:.5g}" if isinstance(v, float) else str(v))
        out.print(table)
    if saved is not None:  # printed above, not saved: exit 2 so that a script does not look for the file
        from molgfn.errors import InputError

        raise InputError(f"the metrics above were not saved: {saved}")


@app.command(cls=renamed(OUT_DIR_RENAMED))
@friendly
def bench(
    preset: Annotated[Preset, typer.Option(metavar="NAME", help="small (minutes on 2 cores), results (the budgets of "
                                           "bench/RESULTS.md), paper (the papers' budgets) or pmo (the PMO "
                                           "benchmark: 20 oracles at 10,000 calls, bench/PMO.md).")] = Preset.small,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for curves.csv, results.csv, "
                                          "results.md and PNG plots.")] = Path("bench/results"),
    tasks: Annotated[str | None, typer.Option(help="Comma-separated tasks (default: the preset's).")] = None,
    methods: Annotated[str | None, typer.Option(help="Comma-separated methods: tb, tb-ls, logit-ls, layer-ls, "
                                                "logit, layer, design (each task's design recipe).")] = None,
    seeds: Annotated[str | None, typer.Option(help="Comma-separated seeds (default 0,1,2).")] = None,
    rounds: Annotated[int | None, typer.Option(help="Rounds per run, overriding the preset.")] = None,
    max_oracle_calls: Annotated[int | None, typer.Option(min=1, max=10**9, help="Oracle-call budget per run "
                                                         "(PMO's count), overriding the preset's.")] = None,
    workers: Annotated[int, typer.Option(help="Runs in parallel (processes).")] = 2,
    lr: Annotated[float, typer.Option(help="Policy learning rate of every run (the papers used 1e-4).")] = 1e-3,
    data_dir: DataDirOpt = None,
    oracle: OracleOpt = None,
    alphabet: AlphabetOpt = "ACGT",
    length: LengthOpt = 8,
    reward_exponent: ExpOpt = 1.0,
    task_option: TaskOptionOpt = None,
    progress: Annotated[ProgressMode, typer.Option(help="auto: a bar on a terminal, a line per finished run in a "
                                                   "log file.")] = ProgressMode.auto,
    force: ForceOpt = False,
) -> None:
    """Run a grid of tasks x methods x seeds at equal reward calls; write CSV, Markdown and plots.
    With --oracle, the grid runs your function (task custom, or custom-frag with --tasks custom-frag)."""
    from molgfn import assets
    from molgfn import bench as B
    from molgfn.errors import InputError

    assets.set_data_dir(data_dir)
    split = lambda v: [x.strip() for x in v.split(",") if x.strip()] if v else None  # noqa: E731
    bad = [m for m in (split(methods) or []) if m not in B.METHODS]
    if bad:
        raise InputError(f"unknown method(s) {bad}; choose from {', '.join(B.METHODS)}")
    try:
        seed_list = [int(x) for x in split(seeds)] if seeds else None
    except ValueError:
        raise InputError(f"--seeds must be whole numbers separated by commas, got {seeds!r}") from None
    from molgfn.tracking import GridProgress
    from tasks import get_task, registry

    unknown = [t for t in (split(tasks) or []) if t not in registry()]
    if unknown:
        raise InputError(f"unknown task(s) {unknown}; known tasks: {', '.join(sorted(registry()))}")
    task_list = split(tasks) or (["custom"] if oracle else None)
    task_opts = {}
    for t in task_list or B.PRESETS[preset].tasks:  # build each task once now: a bad option fails before any run
        _, opts, task_obj = _task(t, oracle if t in ("custom", "custom-frag") else None, alphabet, length,
                                  reward_exponent, 1 if t in ("custom", "custom-frag") else None,
                                  task_option=task_option)
        task_obj.close()
        task_opts[t] = opts
    budget = max_oracle_calls if max_oracle_calls is not None else B.PRESETS[preset].max_oracle_calls
    jobs = B.grid_jobs(B.PRESETS[preset], task_list, split(methods), seed_list, rounds, budget)
    from molgfn.paths import check_output_dir, written_by_molgfn

    check_output_dir(out_dir, B.output_names({j[0] for j in jobs}), force=force,
                     ours=lambda p: B.is_bench_dir(p.parent) or written_by_molgfn(p))
    with GridProgress(jobs, progress, console) as prog:
        B.run_grid(B.PRESETS[preset], out_dir, workers, task_list, split(methods), seed_list, rounds, lr,
                   str(data_dir) if data_dir else None, task_options=task_opts, make_task=get_task, progress=prog,
                   max_oracle_calls=budget)
    md = B.write_report(out_dir, "molgfn bench " + " ".join(sys.argv[2:]))
    sys.stdout.write(md)


@data_app.command("list", cls=Command)
@friendly
def data_list(data_dir: DataDirOpt = None) -> None:
    """Show every asset, its status (ok, missing, bad-checksum) and where it was found."""
    from molgfn import assets

    assets.set_data_dir(data_dir)
    table = Table("asset", "status", "path", "licence", "description")
    for name, a in assets.manifest().items():
        st, p = assets.status(name)
        table.add_row(name, st, str(p or ""), a.licence, a.description)
    out.print(table)
    console.print("searched: " + ", ".join(str(d) for d in assets.search_dirs()))


@data_app.command("fetch", cls=Command)
@friendly
def data_fetch(names: Annotated[list[str], typer.Argument(help="Asset names, or 'all'.")]) -> None:
    """Download assets from their public sources into the user cache, verifying sha256."""
    from molgfn import assets

    todo = list(assets.manifest()) if names == ["all"] else names
    for name in todo:
        p = assets.fetch(name)
        console.print(f"{name}: ok -> {p}")


@data_app.command("import", cls=Command)
@friendly
def data_import(src: Annotated[Path, typer.Argument(help="Folder laid out like the manifest's file paths.")]) \
        -> None:
    """Copy assets from a local folder into the user cache, verifying each sha256."""
    from molgfn import assets
    from molgfn.errors import InputError

    if not src.is_dir():
        raise InputError(f"{src} is not a folder")
    refused = 0
    for name, outcome in assets.import_dir(src):
        console.print(f"{name}: {outcome}")
        refused += outcome.startswith("REFUSED")
    if refused:
        raise InputError(f"{refused} file(s) in {src} refused (checksum mismatch): they are not the published "
                         "files; fetch them with `molgfn data fetch NAME`")


@app.command(cls=renamed(OUT_DIR_RENAMED))
@friendly
def report(
    run: Annotated[Path, typer.Argument(help="A run directory written by train or design.")],
    out_dir: Annotated[Path | None, typer.Option("--out", help="Folder for the report (default: the run).")]
    = None,
    top: Annotated[int, typer.Option(help="Molecules in the grid (from candidates.csv).")] = 24,
    force: ForceOpt = False,
) -> None:
    """Report of a run: training curves (metrics.csv), a grid of the top molecules (candidates.csv) as PNGs,
    and report.html with both, the sortable candidate table and the Pareto front (one file, works offline)."""
    from molgfn.errors import RunFileError
    from molgfn.report import make_report
    from molgfn.runs import CANDIDATES, CONFIG, METRICS

    _check_ranges(("--top", top, 1, 10_000))
    from molgfn.paths import check_output_dir
    from molgfn.report import CURVES_PNG, HTML, MOLECULES_PNG

    check_output_dir(out_dir or run, (HTML, CURVES_PNG, MOLECULES_PNG), force=force, flag="--out" if out_dir else "RUN",
                     own_names=(CURVES_PNG, MOLECULES_PNG))
    fix = {METRICS: "restore it from a backup, or start the run again with --overwrite",
           CANDIDATES: "write it again with `molgfn design --out RUN --resume` (same options)"}
    for name, numeric in ((METRICS, ("round", "reward_calls", "loss")), (CANDIDATES, ("raw_score", "reward"))):
        if run.is_dir() and (run / name).exists():
            _check_table(run / name, numeric, fix[name])
    if run.is_dir() and (run / CONFIG).exists():
        from molgfn.config import TrainConfig

        TrainConfig.load(run / CONFIG)  # a damaged config.json ([1,2,3], truncated, binary) is named
    try:
        written = make_report(run, out_dir, top)
    except (KeyError, ValueError, TypeError, IndexError) as e:
        raise RunFileError(f"{run / METRICS} or {run / CANDIDATES} has content molgfn did not write "
                           f"({type(e).__name__}: {e}); {fix[METRICS]}") from None
    except OSError as e:
        how = "choose another --out" if out_dir is not None else "write it elsewhere with --out DIR"
        raise RunFileError(f"cannot write the report to {e.filename or out_dir or run}: {e.strerror or e}; {how}") \
            from None
    for p in written:
        console.print(f"wrote {p}")


def _check_table(path: Path, numeric: tuple[str, ...], fix: str) -> None:
    """A run's CSV must parse, and its known numeric columns (when present) must be numbers."""
    import pandas as pd

    from molgfn.errors import RunFileError

    try:
        df = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as e:
        raise RunFileError(f"{path} is damaged ({type(e).__name__}: {str(e).strip()[:100]}); {fix}") from None
    cols = [c for c in numeric if c in df.columns]
    if len(cols) == 0 or any(not pd.api.types.is_numeric_dtype(df[c]) for c in cols):
        raise RunFileError(f"{path} is damaged (its columns {', '.join(numeric)} are missing or not numbers); {fix}")


@app.command(cls=Command)
@friendly
def info(run: Annotated[Path, typer.Argument(help="A run directory.")], fmt: FormatOpt = Format.table) -> None:
    """Print a run's config and its last metrics."""
    from molgfn.config import TrainConfig
    from molgfn.errors import InputError, RunFileError
    from molgfn.runs import CONFIG, METRICS

    if not (run / CONFIG).exists():
        raise InputError(f"{run} is not a run directory (no {CONFIG})")
    TrainConfig.load(run / CONFIG)  # a damaged config.json is named, not printed
    if fmt == Format.json:  # one object: {"config": ..., "last_metrics": {...} or null}
        import pandas as pd

        last = None
        if (run / METRICS).exists() and (run / METRICS).stat().st_size > 0:
            try:
                df = pd.read_csv(run / METRICS)
            except (ValueError, UnicodeDecodeError) as e:
                raise RunFileError(f"{run / METRICS} is damaged ({type(e).__name__}); restore it from a backup, or "
                                   "start the run again with --overwrite") from None
            last = df.tail(1).to_dict(orient="records")[0] if len(df) else None
        _print_json({"config": json.loads((run / CONFIG).read_text()), "last_metrics": last})
        return
    out.print_json((run / CONFIG).read_text())
    if (run / METRICS).exists():
        try:
            lines = (run / METRICS).read_bytes().decode().splitlines()
        except UnicodeDecodeError:
            raise RunFileError(f"{run / METRICS} is damaged (not text); restore it from a backup, or start the run "
                               "again with --overwrite") from None
        if len(lines) > 1:
            out.print(lines[0], highlight=False)
            out.print(lines[-1], highlight=False)


@app.command("scores", cls=Command)
@friendly
def scores_cmd(
    store: Annotated[Path, typer.Argument(help="A score store: RUN/scores.sqlite or a --score-store file.")],
    output: Annotated[str, typer.Option("--output", "-o", help="CSV or .parquet path, or - for CSV on stdout.")] = "-",
    force: ForceOpt = False,
) -> None:
    """Export a score store (object, oracle, settings, raw_score, error, wall_s, created) to CSV or Parquet."""
    from molgfn.oracle import STORE_FILE, read_store

    path = store / STORE_FILE if store.is_dir() else store
    output = _output_path(output, force, inputs=[path])
    _emit(read_store(path), output)  # .parquet: needs pyarrow


if __name__ == "__main__":
    app()
