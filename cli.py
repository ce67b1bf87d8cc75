"""molgfn command line: a thin layer over molgfn/ and tasks/."""

from __future__ import annotations

import functools
import inspect
import json
import shutil
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="Design molecules and biological sequences with GFlowNets.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
data_app = typer.Typer(help="Third-party data assets: list, fetch, import.", no_args_is_help=True)
app.add_typer(data_app, name="data")
console = Console(stderr=True)
out = Console()


def friendly(fn):
    """Print MolgfnError (and bad values) as one clear line and exit 2, without a traceback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from molgfn.errors import MolgfnError

        try:
            return fn(*args, **kwargs)
        except MolgfnError as e:
            from rich.markup import escape

            console.print(f"[bold red]error:[/] {escape(str(e))}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None

    return wrapper


# ---- shared options ---------------------------------------------------------------------
TaskOpt = Annotated[str, typer.Option("--task", "-t", help="Task name (see `molgfn tasks`).")]
DataDirOpt = Annotated[
    Path | None, typer.Option(help="Folder with asset files; searched before $MOLGFN_DATA and the cache.")]
OracleOpt = Annotated[str | None, typer.Option(
    help="Your oracle as package.module:function (list[str] -> list[float]); use with --task custom.")]
AlphabetOpt = Annotated[str, typer.Option(help="Alphabet of a custom task (one character per token).")]
LengthOpt = Annotated[int, typer.Option(help="Sequence length of a custom task.")]
ExpOpt = Annotated[float, typer.Option(help="Reward exponent b of a custom task: R = R_max * (r/raw_max)^b.")]
WorkersOpt = Annotated[int | None, typer.Option(help="Processes for CPU oracles (default: all cores).")]
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
ObjectiveOpt = Annotated[str, typer.Option(help=OBJECTIVE_HELP)]
SubTBLambdaOpt = Annotated[float, typer.Option(help="SubTB: weight lambda^(j-i) of a sub-trajectory (subtb).")]
AlphaOpt = Annotated[float, typer.Option(help="Order alpha of the renyi / tsallis divergences (not 1).")]
KLMixOpt = Annotated[float, typer.Option(help="kl-mix: weight lambda of KL(pi||q) in [0, 1].")]
ControlVariateOpt = Annotated[str, typer.Option(
    help="Score-function objectives (rkl, fkl, kl-mix, renyi, tsallis): none, loo (leave-one-out batch "
         "baseline) or logz (the learned log Z).")]
FLDBPartialOpt = Annotated[bool, typer.Option(help="fldb: train on incomplete (randomly cut) trajectories.")]


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


def _task(task: str, oracle: str | None, alphabet: str, length: int, reward_exponent: float,
          workers: int | None, frag: dict | None = None, task_option: list[str] | None = None):
    from tasks import get_task

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
    if frag:  # --vocab / --max-blocks go to fragment tasks only
        from tasks import registry

        if getattr(registry().get(task), "kind", None) == "fragment":
            opts.update(frag)
    opts.update(parse_task_options(task_option))
    return task, opts, get_task(task, **opts)


def _prepare_run_dir(out_dir: Path, resume: bool, overwrite: bool, dry_run: bool = False) -> None:
    from molgfn.errors import InputError
    from molgfn.runs import CHECKPOINT

    used = out_dir.exists() and any(out_dir.iterdir())
    if used and not resume and not overwrite:
        raise InputError(f"run directory {out_dir} is not empty: pass --resume to continue it, "
                         "--overwrite to start again, or choose another --out")
    if resume and not (out_dir / CHECKPOINT).exists():
        raise InputError(f"--resume: no checkpoint in {out_dir}; start a new run without --resume")
    if dry_run:
        return
    if used and not resume:  # --overwrite, and only once everything else has been checked
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)


def _run_training(cfg, task, out_dir: Path, resume: bool, quiet: bool):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from molgfn.runs import CONFIG
    from molgfn.trainer import Trainer

    trainer = Trainer(cfg, task, out_dir)
    if resume and trainer.resume():
        console.print(f"resumed {out_dir} at round {trainer.round}")
    cfg.save(out_dir / CONFIG)
    cols = [TextColumn("[bold]train[/]"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
            TextColumn("{task.fields[info]}")]
    with Progress(*cols, console=console, disable=quiet, transient=False) as prog:
        bar = prog.add_task("train", total=cfg.rounds, completed=trainer.round, info="")

        def on_round(row: dict) -> None:
            if row["round"] % 5 == 0 or row["round"] == cfg.rounds:
                modes = f" modes {row['modes']}" if task.num_modes() else ""
                prog.update(bar, completed=row["round"], info=(
                    f"loss {row['loss']:.3g} logZ {row['log_z']:.3g} best {row['best_raw']:.4g}"
                    f"{modes} calls {row['reward_calls']} {row['round_ms']:.0f} ms/round"))

        trainer.train(on_round=on_round)
    return trainer


def _make_config(task_name, task_opts, **kw):
    from molgfn.config import TrainConfig

    return TrainConfig(task=task_name, task_options=task_opts, **kw)


@app.command("tasks")
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
                task_option=None, precheck=None, filters=None):
    from molgfn import assets
    from molgfn.config import TrainConfig

    assets.set_data_dir(data_dir)
    _prepare_run_dir(out_dir, resume, overwrite, dry_run=True)
    from molgfn.runs import CONFIG

    if resume:
        cfg = TrainConfig.load(out_dir / CONFIG)
        cfg.rounds = rounds if rounds is not None else cfg.rounds
        cfg.device = device  # a run may resume on another machine
        from tasks import get_task

        task_obj = get_task(cfg.task, **cfg.task_options)
    else:
        frag = {"max_blocks": max_blocks} if max_blocks != 8 else {}
        if vocab is not None:
            frag["vocab"] = str(Path(vocab).resolve())
        if filters:  # drug-likeness constraints: a task option, so a resumed run keeps them
            from molgfn.chem.descriptors import parse_filters
            from molgfn.errors import InputError
            from tasks import registry

            if getattr(registry().get(task), "kind", None) != "fragment":
                raise InputError(f"--filter constrains fragment molecules (seh-frag, qed-frag, custom-frag); "
                                 f"task {task!r} is not one")
            frag["filters"] = list(parse_filters(filters))
        task_name, opts, task_obj = _task(task, oracle, alphabet, length, reward_exponent, workers, frag,
                                          task_option)
        cfg = _make_config(task_name, opts, rounds=1000 if rounds is None else rounds, batch_size=batch_size,
                           replay_size=replay_size, grad_steps=grad_steps, objective=objective, lr=lr,
                           lr_logz=lr_logz, epsilon=epsilon,
                           hidden=hidden, n_layers=layers, conditioning=conditioning, beta_dist=beta_dist,
                           local_search=local_search, ls_iterations=ls_iterations, ls_backtrack=ls_backtrack,
                           ls_filter=ls_filter, uniform_pb=uniform_pb, seed=seed, device=device,
                           checkpoint_every=checkpoint_every, track_modes=track_modes,
                           objective_options={"subtb_lambda": subtb_lambda, "alpha": alpha,
                                              "kl_mix_lambda": kl_mix_lambda, "control_variate": control_variate,
                                              "fldb_partial": fldb_partial})
    cfg.validate()
    for a in getattr(task_obj, "assets", ()):
        assets.require(a)  # fail now, with the fetch command, not mid-run
    if precheck is not None:
        precheck(cfg, task_obj)
    _prepare_run_dir(out_dir, resume, overwrite)
    return _run_training(cfg, task_obj, out_dir, resume, quiet)


def _training_options(
    task: TaskOpt = "rna1",
    task_option: TaskOptionOpt = None,
    rounds: Annotated[int | None, typer.Option(help="Training rounds in total; each spends --batch-size reward "
                                               "calls. Default 1000; with --resume, the run's own total.")] = None,
    batch_size: Annotated[int, typer.Option(help="On-policy samples (reward calls) per round.")] = 32,
    replay_size: Annotated[int, typer.Option(help="Replayed samples per round (no reward calls).")] = 32,
    grad_steps: Annotated[int, typer.Option(help="Gradient steps per round.")] = 3,
    objective: ObjectiveOpt = "tb",
    subtb_lambda: SubTBLambdaOpt = 0.9,
    alpha: AlphaOpt = 0.5,
    kl_mix_lambda: KLMixOpt = 0.5,
    control_variate: ControlVariateOpt = "loo",
    fldb_partial: FLDBPartialOpt = False,
    lr: Annotated[float, typer.Option(help="Policy learning rate (the papers used 1e-4).")] = 1e-3,
    lr_logz: Annotated[float, typer.Option(help="log Z learning rate.")] = 1e-2,
    epsilon: Annotated[float, typer.Option(help="Epsilon-uniform exploration when sampling.")] = 0.01,
    hidden: Annotated[int, typer.Option(help="Hidden width of the policy network.")] = 128,
    layers: Annotated[int, typer.Option(help="Hidden layers of the policy MLP (transformer layers of the GNN).")]
    = 2,
    conditioning: Annotated[str, typer.Option(help="Temperature conditioning: none, logit (Logit-GFN) or "
                                              "layer.")] = "none",
    beta_dist: Annotated[str, typer.Option(help="Training inverse temperature: fixed:B, uniform:LO,HI or "
                                           "loguniform:LO,HI.")] = "fixed:1",
    local_search: Annotated[bool, typer.Option(help="LS-GFN local search (destroy K steps, rebuild, filter).")]
    = False,
    ls_iterations: Annotated[int, typer.Option(help="Local-search iterations I per round.")] = 7,
    ls_backtrack: Annotated[int, typer.Option(help="Steps K to destroy; 0 means (L+1)//2.")] = 0,
    ls_filter: Annotated[str, typer.Option(help="Acceptance: greedy, mh (Metropolis-Hastings) or barker.")]
    = "greedy",
    uniform_pb: Annotated[bool, typer.Option(help="Fix P_B to uniform instead of learning it.")] = False,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    data_dir: DataDirOpt = None,
    resume: Annotated[bool, typer.Option(help="Continue the run in --out from its last checkpoint.")] = False,
    overwrite: Annotated[bool, typer.Option(help="Delete a non-empty --out and start again.")] = False,
    checkpoint_every: Annotated[int, typer.Option(help="Rounds between checkpoints.")] = 50,
    oracle: OracleOpt = None,
    alphabet: AlphabetOpt = "ACGT",
    length: LengthOpt = 8,
    reward_exponent: ExpOpt = 1.0,
    workers: WorkersOpt = None,
    vocab: VocabOpt = None,
    max_blocks: MaxBlocksOpt = 8,
    filters: FilterOpt = None,
    track_modes: Annotated[bool, typer.Option(help="Count modes found during training (RNA: 42 extra oracle "
                                              "calls per candidate above the mode threshold, not budgeted).")]
    = True,
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
) -> None:
    """The options train and design share: declared once, never called."""


def with_training_options(fn):
    """Give ``fn(own options..., **opts)`` the shared training options in its signature (Typer reads it)."""
    own = [p for p in inspect.signature(fn, eval_str=True).parameters.values() if p.kind != p.VAR_KEYWORD]
    shared = list(inspect.signature(_training_options, eval_str=True).parameters.values())
    fn.__signature__ = inspect.Signature(own + shared)
    return fn


@app.command()
@friendly
@with_training_options
def train(
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Run directory (config, metrics, checkpoint).")]
    = Path("runs/latest"),
    **opts,
) -> None:
    """Train a GFlowNet sampler on a task; writes config.json, metrics.csv, checkpoint.pt in --out."""
    tr = _train_like(out_dir=out_dir, **opts)
    console.print(f"trained {tr.round} rounds, {tr.reward_calls} reward calls -> {out_dir}")


@app.command()
@friendly
@with_training_options
def design(
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Run directory; candidates.csv goes here.")]
    = Path("runs/design"),
    num_candidates: Annotated[int, typer.Option(help="Rows in candidates.csv (best first).")] = 100,
    num_samples: Annotated[int, typer.Option(help="Samples drawn from the trained sampler, added to the "
                                             "objects seen in training before ranking.")] = 1000,
    beta: Annotated[str | None, typer.Option(help="Inverse temperature(s) of the final sampling, e.g. 1 or 1,5,10 "
                                             "(several: one merged list with a beta column, ranked within each "
                                             "beta). Default: 1, or the trained one.")] = None,
    min_distance: Annotated[int, typer.Option(help="Diverse list: keep a sequence only if its Levenshtein "
                                              "distance to every better one kept is at least this (0: off).")] = 0,
    max_similarity: Annotated[float, typer.Option(help="Diverse list of molecules: keep one only if its Tanimoto "
                                                  "similarity to every better one kept is below this (1: off).")]
    = 1.0,
    max_per_scaffold: Annotated[int, typer.Option(help="Diverse list of molecules: at most this many per Murcko "
                                                  "scaffold, the best of each (0: off).")] = 0,
    format: Annotated[str, typer.Option("--format", help="Candidate list format: csv, sdf (one 3-D conformer "
                                        "per molecule, every column as an SD property) or parquet; "
                                        "candidates.csv is always written too.")] = "csv",
    show: Annotated[int, typer.Option(help="Print this many top candidates.")] = 10,
    **opts,
) -> None:
    """Train, then write a ranked table of unique candidates (candidates.csv) and print the best."""
    from molgfn.errors import InputError

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
        if format not in FORMATS:
            raise InputError(f"--format must be one of {', '.join(FORMATS)}, got {format!r}")
        if max_per_scaffold < 0:
            raise InputError("--max-per-scaffold must be >= 0 (0: off)")

    from molgfn.chem.descriptors import FORMATS
    from molgfn.config import BetaDist

    tr = _train_like(out_dir=out_dir, precheck=precheck, **opts)
    _write_candidates(tr, out_dir, num_samples, num_candidates, beta, show, min_distance, max_similarity,
                      max_per_scaffold, format)


def parse_betas(spec: str) -> list[float]:
    from molgfn.errors import InputError

    try:
        betas = [float(b) for b in spec.split(",") if b.strip()]
    except ValueError:
        betas = []
    if not betas or any(b <= 0 for b in betas):
        raise InputError(f"--beta must be positive numbers separated by commas, got {spec!r}")
    return betas


def _write_candidates(tr, out_dir: Path, num_samples: int, num_candidates: int, beta: str | None, show: int,
                      min_distance: int = 0, max_similarity: float = 1.0, max_per_scaffold: int = 0,
                      fmt: str = "csv") -> None:
    import pandas as pd

    from molgfn.candidates import candidate_table
    from molgfn.runs import CANDIDATES, atomic_write_csv

    betas = [tr.sampling_beta(b) for b in parse_betas(beta)] if beta else [tr.sampling_beta(None)]
    from molgfn.chem.descriptors import CHECK_ORDER

    trained_counts = dict(getattr(tr.task, "filter_counts", {}))
    if len(betas) == 1:
        df = candidate_table(tr, tr.sample(num_samples, beta=betas[0]), top=num_candidates,
                             min_distance=min_distance, max_similarity=max_similarity,
                             max_per_scaffold=max_per_scaffold)
    else:  # each beta's own samples, ranked within that beta
        df = pd.concat([candidate_table(tr, tr.sample(num_samples, beta=b), top=num_candidates, beta=b,
                                        samples_only=True, min_distance=min_distance,
                                        max_similarity=max_similarity, max_per_scaffold=max_per_scaffold)
                        for b in betas], ignore_index=True)
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
    out.print(_rich_table(df, show))
    console.print(f"{len(df)} ranked candidates -> {out_dir / CANDIDATES}")


# the columns a console table shows for molecules (every column is in the written file), with short headers
_MOLECULE_VIEW = {"rank": "#", "beta": "beta", "smiles": "smiles", "raw_score": "raw", "reward": "reward",
                  "qed": "QED", "sa_score": "SA", "lipinski_pass": "Ro5", "alerts": "alerts"}


def _rich_table(df, show: int):
    """The first ``show`` rows as a rich table that reads at 80 columns: molecules show a few
    columns, SMILES wrap whole instead of being cut, numbers get 4 significant digits."""
    from rich import box
    from rich.text import Text

    view = df.head(show)
    headers = {c: c for c in df.columns}
    if "smiles" in df.columns:
        if {"pains_alerts", "brenk_alerts"} <= set(df.columns):  # how many alerts; their names are in the file
            n = [len([a for a in f"{p}; {b}".split("; ") if a and a != "nan"])
                 for p, b in zip(view["pains_alerts"], view["brenk_alerts"], strict=True)]
            view = view.assign(alerts=n)
        headers = {c: h for c, h in _MOLECULE_VIEW.items() if c in view.columns}
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for c, h in headers.items():
        table.add_column(h, overflow="fold", no_wrap=c != "smiles", min_width=16 if c == "smiles" else None)
    for row in view[list(headers)].itertuples(index=False):  # Text: a SMILES like [nH] is not rich markup
        table.add_row(*[Text(f"{v:.4g}" if isinstance(v, float) else str(v)) for v in row])
    return table


def _write_list(df, path: Path, fmt: str | None = None) -> None:
    """A molecule or sequence list as csv, sdf or parquet (``molgfn.chem.descriptors.write_table``)."""
    from molgfn.chem.descriptors import write_table

    failures = write_table(df, path, fmt)
    if failures:
        console.print(f"{len(failures)} molecule(s) without a 3-D conformer (2-D coordinates and a "
                      f"conformer_error property instead): " + "; ".join(failures[:5]), highlight=False,
                      soft_wrap=True)
    console.print(f"{len(df)} rows -> {path}")


def _load_run(run: Path, data_dir: Path | None, device: str):
    from molgfn import assets
    from molgfn.config import TrainConfig
    from molgfn.errors import InputError
    from molgfn.runs import CHECKPOINT, CONFIG
    from molgfn.trainer import Trainer
    from tasks import get_task

    assets.set_data_dir(data_dir)
    if not (run / CONFIG).exists() or not (run / CHECKPOINT).exists():
        raise InputError(f"{run} is not a trained run (needs {CONFIG} and {CHECKPOINT}); train one with "
                         "`molgfn train --out DIR`")
    cfg = TrainConfig.load(run / CONFIG)
    cfg.device = device
    tr = Trainer(cfg, get_task(cfg.task, **cfg.task_options), run)
    tr.resume()
    return tr


@app.command()
@friendly
def sample(
    run: Annotated[Path, typer.Argument(help="A run directory written by train or design.")],
    n: Annotated[int, typer.Option("--n", "-n", help="Number of samples.")] = 100,
    beta: Annotated[float | None, typer.Option(help="Inverse temperature to sample at (default: 1, or the "
                                               "trained one for an unconditional sampler).")] = None,
    output: Annotated[str, typer.Option("--output", help="Output file (.csv, .sdf or .parquet), or - for CSV on "
                                        "stdout.")] = "-",
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    data_dir: DataDirOpt = None,
) -> None:
    """Draw N samples from a trained sampler (with their raw scores and rewards)."""
    import pandas as pd

    tr = _load_run(run, data_dir, device)
    tr.gen.manual_seed(seed)
    toks = tr.sample(n, beta=tr.sampling_beta(beta))
    objs = tr.env.to_strings(toks)
    raw, logr = tr.task.evaluate(toks.cpu())
    tr.task.close()
    df = pd.DataFrame({tr.task.object_column: objs, "raw_score": raw.numpy(), "reward": logr.exp().numpy()})
    smiles = tr.task.smiles(objs)
    if smiles is not None:
        df.insert(1, "smiles", smiles)
    if "smiles" in df.columns:  # molecules: the chemistry columns
        from molgfn.chem.descriptors import add_descriptors

        df = add_descriptors(df)
    _emit(df, output)


def _emit(df, output: str) -> None:
    """CSV to stdout (``-``), or a file whose suffix picks the format: .csv, .sdf or .parquet."""
    if output == "-":
        sys.stdout.write(df.to_csv(index=False))
    else:
        suffix = Path(output).suffix.lower().lstrip(".")
        _write_list(df, Path(output), suffix if suffix in ("sdf", "parquet") else "csv")
        if "smiles" in df.columns:
            console.print(_rich_table(df, 10))


@app.command()
@friendly
def score(
    task: TaskOpt,
    input: Annotated[Path, typer.Option("--input", "-i", help="File: one object per line, or a CSV.")],
    column: Annotated[str | None, typer.Option(help="CSV column holding the objects (default: the task's "
                                               "object column, else the first).")] = None,
    output: Annotated[str, typer.Option("--output", help="Output file (.csv, .sdf or .parquet), or - for CSV on "
                                        "stdout.")] = "-",
    data_dir: DataDirOpt = None,
    oracle: OracleOpt = None,
    alphabet: AlphabetOpt = "ACGT",
    length: LengthOpt = 8,
    reward_exponent: ExpOpt = 1.0,
    workers: WorkersOpt = None,
    task_option: TaskOptionOpt = None,
) -> None:
    """Score the objects in a file with the task's oracle: CSV of object, raw_score, reward."""
    import pandas as pd
    import torch

    from molgfn import assets
    from molgfn.errors import InputError

    assets.set_data_dir(data_dir)
    _, _, t = _task(task, oracle, alphabet, length, reward_exponent, workers, task_option=task_option)
    if not input.exists():
        raise InputError(f"input file {input} does not exist")
    text = input.read_text()
    lines = [ln.strip() for ln in text.splitlines()]
    first = lines[0] if lines else ""
    if "," in first or input.suffix.lower() == ".csv":
        df_in = pd.read_csv(input, dtype=str, keep_default_na=False)
        col = column or (t.object_column if t.object_column in df_in.columns else df_in.columns[0])
        if col not in df_in.columns:
            raise InputError(f"column {col!r} not in {input}; columns: {', '.join(df_in.columns)}")
        objs = [s.strip() for s in df_in[col].tolist()]
        row_offset = 2  # header is line 1
    else:
        objs = [ln for ln in lines if ln]
        row_offset = 1
    if not objs:
        raise InputError(f"{input} holds no objects")
    if hasattr(t, "score_table"):  # fragment tasks: molecules given as SMILES
        df = t.score_table(objs, row_offset)
        t.close()
        _emit(df, output)
        return
    env = t.env
    bad = [(i, o) for i, o in enumerate(objs) if len(o) != env.length or any(c not in env.alphabet for c in o)]
    if bad:
        shown = "; ".join(f"row {i + row_offset}: {o!r}" for i, o in bad[:10])
        raise InputError(f"{len(bad)} invalid object(s) for task {t.name} (need length {env.length} over "
                         f"{env.alphabet!r}): {shown}")
    toks = env.from_strings(objs)
    raw, logr = t.evaluate(toks)
    t.close()
    df = pd.DataFrame({t.object_column: objs, "raw_score": raw.numpy(), "reward": torch.exp(logr).numpy()})
    smiles = t.smiles(objs)
    if smiles is not None:
        from molgfn.chem.descriptors import add_descriptors

        df.insert(1, "smiles", smiles)
        df = add_descriptors(df)
    _emit(df, output)


@app.command()
@friendly
def evaluate(
    run: Annotated[Path, typer.Argument(help="A run directory written by train or design.")],
    n: Annotated[int, typer.Option("--n", "-n", help="Final samples for the top-k metrics.")] = 1000,
    beta: Annotated[float | None, typer.Option(help="Inverse temperature of the final samples and of the "
                                               "exact target (default: 1, or the trained one).")] = None,
    k: Annotated[int, typer.Option(help="k of the top-k score and diversity.")] = 100,
    seed: Annotated[int, typer.Option(help="Random seed of the final sampling.")] = 0,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    data_dir: DataDirOpt = None,
) -> None:
    """The papers' metrics for a run: modes found, top-k score and diversity, and (enumerable
    tasks) the exact L1 distance to R^beta/Z, log p vs log R correlation and log Z error.
    Written to RUN/evaluation.json."""
    from molgfn.evaluation import evaluate_trainer
    from molgfn.runs import atomic_write_text

    tr = _load_run(run, data_dir, device)
    tr.gen.manual_seed(seed)
    res = evaluate_trainer(tr, n=n, beta=tr.sampling_beta(beta), k=k)
    tr.task.close()
    atomic_write_text(run / "evaluation.json", json.dumps(res, indent=2))
    table = Table("metric", "value")
    for key, v in res.items():
        table.add_row(key, f"{v:.5g}" if isinstance(v, float) else str(v))
    out.print(table)


@app.command()
@friendly
def bench(
    preset: Annotated[str, typer.Option(help="small (minutes on 2 cores) or paper (the papers' budgets).")]
    = "small",
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Folder for curves.csv, results.csv, "
                                          "results.md and PNG plots.")] = Path("bench/results"),
    tasks: Annotated[str | None, typer.Option(help="Comma-separated tasks (default: the preset's).")] = None,
    methods: Annotated[str | None, typer.Option(help="Comma-separated methods: tb, tb-ls, logit-ls, layer-ls, "
                                                "logit, layer.")] = None,
    seeds: Annotated[str | None, typer.Option(help="Comma-separated seeds (default 0,1,2).")] = None,
    rounds: Annotated[int | None, typer.Option(help="Rounds per run, overriding the preset.")] = None,
    workers: Annotated[int, typer.Option(help="Runs in parallel (processes).")] = 2,
    lr: Annotated[float, typer.Option(help="Policy learning rate of every run (the papers used 1e-4).")] = 1e-3,
    data_dir: DataDirOpt = None,
) -> None:
    """Run a grid of tasks x methods x seeds at equal reward calls; write CSV, Markdown and plots."""
    from molgfn import assets
    from molgfn import bench as B
    from molgfn.errors import InputError

    assets.set_data_dir(data_dir)
    if preset not in B.PRESETS:
        raise InputError(f"unknown preset {preset!r}; choose from {', '.join(B.PRESETS)}")
    split = lambda v: [x.strip() for x in v.split(",") if x.strip()] if v else None  # noqa: E731
    bad = [m for m in (split(methods) or []) if m not in B.METHODS]
    if bad:
        raise InputError(f"unknown method(s) {bad}; choose from {', '.join(B.METHODS)}")
    try:
        seed_list = [int(x) for x in split(seeds)] if seeds else None
    except ValueError:
        raise InputError(f"--seeds must be whole numbers separated by commas, got {seeds!r}") from None
    from tasks import registry

    unknown = [t for t in (split(tasks) or []) if t not in registry()]
    if unknown:
        raise InputError(f"unknown task(s) {unknown}; known tasks: {', '.join(sorted(registry()))}")
    B.run_grid(B.PRESETS[preset], out_dir, workers, split(tasks), split(methods), seed_list, rounds, lr,
               str(data_dir) if data_dir else None)
    md = B.write_report(out_dir, "molgfn bench " + " ".join(sys.argv[2:]))
    sys.stdout.write(md)


@data_app.command("list")
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


@data_app.command("fetch")
@friendly
def data_fetch(names: Annotated[list[str], typer.Argument(help="Asset names, or 'all'.")]) -> None:
    """Download assets from their public sources into the user cache, verifying sha256."""
    from molgfn import assets

    todo = list(assets.manifest()) if names == ["all"] else names
    for name in todo:
        p = assets.fetch(name)
        console.print(f"{name}: ok -> {p}")


@data_app.command("import")
@friendly
def data_import(src: Annotated[Path, typer.Argument(help="Folder laid out like the manifest's file paths.")]) \
        -> None:
    """Copy assets from a local folder into the user cache, verifying each sha256."""
    from molgfn import assets
    from molgfn.errors import InputError

    if not src.is_dir():
        raise InputError(f"{src} is not a folder")
    for name, outcome in assets.import_dir(src):
        console.print(f"{name}: {outcome}")


@app.command()
@friendly
def report(
    run: Annotated[Path, typer.Argument(help="A run directory written by train or design.")],
    out_dir: Annotated[Path | None, typer.Option("--out", "-o", help="Folder for the report (default: the run).")]
    = None,
    top: Annotated[int, typer.Option(help="Molecules in the grid (from candidates.csv).")] = 24,
) -> None:
    """Report of a run: training curves (metrics.csv), a grid of the top molecules (candidates.csv) as PNGs,
    and report.html with both, the sortable candidate table and the Pareto front (one file, works offline)."""
    from molgfn.report import make_report

    for p in make_report(run, out_dir, top):
        console.print(f"wrote {p}")


@app.command()
@friendly
def info(run: Annotated[Path, typer.Argument(help="A run directory.")]) -> None:
    """Print a run's config and its last metrics."""
    from molgfn.errors import InputError
    from molgfn.runs import CONFIG, METRICS

    if not (run / CONFIG).exists():
        raise InputError(f"{run} is not a run directory (no {CONFIG})")
    out.print_json(json.dumps(json.loads((run / CONFIG).read_text())))
    if (run / METRICS).exists():
        out.print((run / METRICS).read_text().splitlines()[-1])


if __name__ == "__main__":
    app()
