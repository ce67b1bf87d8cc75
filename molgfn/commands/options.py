"""Options shared by the commands: their declarations (the Annotated types, the training options
of train and design, the --help panels, --config) and the checks of their values."""

from __future__ import annotations

import functools
import inspect
import sys
from enum import Enum, StrEnum
from pathlib import Path
from typing import Annotated

import typer

from molgfn import choices


# ---- fixed choices: `--help` lists them; commands receive plain strings (see `friendly`), so
# config.json and checkpoints hold the same str values as before. Each enum is built from its tuple in
# molgfn.choices, which the library checks values against; members keep their names (Objective.kl_mix).
def _choices(name: str, values: tuple[str, ...], kind: type = StrEnum):
    members = {v.replace("-", "_"): v for v in values}
    return StrEnum(name, members) if kind is StrEnum else Enum(name, members, type=str)


Objective = _choices("Objective", choices.OBJECTIVES)
Conditioning = _choices("Conditioning", choices.CONDITIONINGS)
LSFilter = _choices("LSFilter", choices.LS_FILTERS)
ControlVariate = _choices("ControlVariate", choices.CONTROL_VARIATES)
Device = _choices("Device", choices.DEVICES)
Executor = _choices("Executor", choices.EXECUTORS)
FragMethod = _choices("FragMethod", choices.FRAGMENTATION_METHODS)
OnOracleError = _choices("OnOracleError", choices.ON_ORACLE_ERROR)
ListFormat = _choices("ListFormat", choices.LIST_FORMATS)
Preset = _choices("Preset", choices.BENCH_PRESETS)
Format = _choices("Format", choices.OUTPUT_FORMATS, Enum)
ProgressMode = _choices("ProgressMode", choices.PROGRESS, Enum)
Logger = _choices("Logger", choices.LOGGERS, Enum)


# ---- shared options ---------------------------------------------------------------------
TaskOpt = Annotated[str, typer.Option("--task", "-t", help="Task name (see `molgfn tasks`).")]
DeviceOpt = Annotated[Device, typer.Option(help="Where the sampler runs: auto (cuda when torch sees a GPU), cpu "
                                          "or cuda.")]
DataDirOpt = Annotated[
    Path | None, typer.Option(help="Folder with asset files; searched before $MOLGFN_DATA and the cache.")]
# \\[ in help: rich would read [str] as markup and drop it
OracleOpt = Annotated[str | None, typer.Option(
    help="Your oracle as package.module:function (list\\[str] -> list\\[float]); use with --task custom.")]
ScoringOpt = Annotated[Path | None, typer.Option(help="A scoring file (TOML: components, transforms, aggregation; "
                                                 "README 'Your objective as a scoring file'); --task custom-frag.")]
AlphabetOpt = Annotated[str, typer.Option(help="Alphabet of a custom task (one character per token).")]
LengthOpt = Annotated[int, typer.Option(help="Sequence length of a custom task.")]
ExpOpt = Annotated[float, typer.Option(help="Reward exponent b of a custom or fragment task, in (0, 100]: R = R_max * "
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
    "--filter", help="Fragment tasks: design constraints, comma-separated from pains, brenk, reactive (ChEMBL's BMS "
    "+ Glaxo alerts), lipinski (<= 1 violation), ro5-strict (none), veber; a "
    "failing molecule gets the floor reward (no oracle call) and is never a candidate.")]
# one line per objective: their names and descriptions are molgfn.choices', which molgfn.objectives uses too
OBJECTIVE_HELP = "\n\n".join(["Training objective:", *(f"{k}: {d}" for k, d in choices.OBJECTIVE_HELP.items())])
ObjectiveOpt = Annotated[Objective, typer.Option(help=OBJECTIVE_HELP, metavar="NAME")]  # the help lists them
SubTBLambdaOpt = Annotated[float, typer.Option(help="SubTB: weight lambda^(j-i) of a sub-trajectory (subtb).")]
AlphaOpt = Annotated[float, typer.Option(help="Order alpha of the renyi / tsallis divergences (not 0 or 1; "
                                               "< 0 mass-covering, > 1 mode-seeking).")]
KLMixOpt = Annotated[float, typer.Option(help="kl-mix: weight lambda of KL(pi||q) in [0, 1].")]
ControlVariateOpt = Annotated[ControlVariate, typer.Option(
    help="Score-function objectives (rkl, fkl, kl-mix, renyi, tsallis): none, loo (leave-one-out batch "
         "baseline) or logz (the learned log Z).")]
FLDBPartialOpt = Annotated[bool, typer.Option(help="fldb: train on incomplete (randomly cut) trajectories.")]


FormatOpt = Annotated[Format, typer.Option("--format", help="table (for people) or json (for scripts, on stdout).")]


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
    scoring: ScoringOpt = None,
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
    seed_molecules: Annotated[Path | None, typer.Option(
        help="Fragment tasks: known molecules (SMILES file) decomposed into blocks of the vocabulary, scored in "
             "round one, replayed, and starting local-search chains.", rich_help_panel="Task")] = None,
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
                from .training import _design_defaults

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
    "Task": ("task", "task_option", "oracle", "scoring", "alphabet", "length", "reward_exponent", "vocab", "max_blocks",
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


ForceOpt = Annotated[bool, typer.Option("--force", help="Replace an existing output that molgfn did not write (or "
                                        "a run's own file, or the input): refused without it.")]
TrustOracleOpt = Annotated[bool, typer.Option(help="Load the oracle module named in the run's config.json to "
                                               "score (molgfn never imports it otherwise; or pass --oracle).")]


SEED_MAX = 2**32 - 1


def _check_ranges(*specs) -> None:
    """(flag, value, lo, hi) tuples, either bound None: ``molgfn.limits.check_ranges`` (one rule for the
    CLI's flags and the library's arguments)."""
    from molgfn.limits import check_ranges

    check_ranges(*specs)
