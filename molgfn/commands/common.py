"""What several commands share: building a task and its oracle settings, loading a trained run,
writing a table to stdout or a file."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .base import _explicit_options, console
from .options import _check_ranges, _check_task_numbers, parse_task_options


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


def _task(task: str, oracle: str | None, alphabet: str, length: int, reward_exponent: float,
          workers: int | None, frag: dict | None = None, task_option: list[str] | None = None, scoring=None):
    from molgfn.tasks import get_task

    _check_task_numbers(reward_exponent, workers, length)
    opts: dict = {}
    if scoring is not None:  # a scoring file: the objective of custom-frag, checked now (molgfn.scoring_task)
        from molgfn.scoring_task import scoring_option

        frag = {**(frag or {}), **scoring_option(scoring, task, oracle)}
    if task == "custom-frag":  # fragment molecules scored by the user's function of SMILES
        if not oracle and scoring is None:
            from molgfn.errors import InputError

            raise InputError("--task custom-frag needs --oracle package.module:function (list of SMILES -> floats) "
                             "or --scoring FILE")
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
    if task not in ("custom", "custom-frag") and "reward_exponent" in _explicit_options():
        _builtin_exponent(task, reward_exponent, opts)
    moo = {k: frag.pop(k) for k in ("objectives", "weights", "transforms") if frag and k in frag}
    opts.update(moo)  # --objectives, --weights, --transform: checked to be a custom task by the caller
    if frag:  # --vocab / --max-blocks go to fragment tasks only
        from molgfn.tasks import registry

        if getattr(registry().get(task), "kind", None) == "fragment":
            opts.update(frag)
    opts.update(_absolute_paths(task, parse_task_options(task_option)))
    return task, opts, get_task(task, **opts)


def _absolute_paths(task: str, options: dict) -> dict:
    """A task's path options (``path_options``, e.g. vina's receptor= and target=) as absolute paths, so the
    run's config.json names the same files whatever folder a later --resume runs from. A value without a
    ``/`` that names no file stays as typed (a dockstring target name)."""
    from molgfn.tasks import registry

    keys = getattr(registry().get(task), "path_options", ())
    out = dict(options)
    for k in keys:
        v = out.get(k)
        if isinstance(v, str) and v and ("/" in v or Path(v).expanduser().is_file()):
            out[k] = str(Path(v).expanduser().resolve())
    return out


def _builtin_exponent(task: str, reward_exponent: float, opts: dict) -> None:
    """--reward-exponent typed for a built-in task: passed on where the task takes one (fragment tasks,
    recorded with the run's task options); refused, never ignored, where its exponent is fixed."""
    import inspect

    from molgfn.errors import InputError
    from molgfn.tasks import registry

    cls = registry().get(task)
    if cls is None:
        return  # an unknown task: get_task names it
    params = inspect.signature(cls.__init__).parameters
    takes = "reward_exponent" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())
    if not takes:
        raise InputError(f"task {task!r} has a fixed reward exponent (b = {cls.reward_exponent:g}; its modes and "
                         "benchmarks are defined with it); --reward-exponent sets it for custom and fragment tasks "
                         "(seh-frag, pmo-*, ...): leave it out here")
    opts["reward_exponent"] = reward_exponent


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


def _set_threads(cfg, task, threads: int | None = None) -> None:
    """Torch threads: --threads, else from the CPUs this process may use and the model (molgfn.threads)."""
    from molgfn import threads as torch_threads

    if threads is not None:
        _check_ranges(("--threads", threads, 1, 4096))
    torch_threads.apply(cfg, task.env, threads)


def _stored_task(cfg, oracle: str | None, trust_oracle: bool, need_oracle: bool = True, workers: int | None = None):
    """The task of a stored run. A run folder never makes molgfn import code: a user oracle recorded
    in config.json is loaded only when named again on the command line (--oracle) or with
    --trust-oracle; without either, need_oracle=False gives the task without its oracle."""
    from molgfn.errors import InputError
    from molgfn.tasks import get_task

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
    from molgfn.scoring_task import stored_scoring_options

    opts = stored_scoring_options(opts, trust_oracle, need_oracle)  # its oracle components: only when trusted
    return get_task(cfg.task, **opts)


def _rich_table(df, show: int, width: int = 80):
    """The first ``show`` rows as a rich table that reads at ``width`` columns (molecules: the
    columns worth a glance; objects never cut), and the names of the columns left out."""
    from molgfn.display import candidate_table_view, molecule_table_view

    if "smiles" in df.columns:
        return molecule_table_view(df, show)
    return candidate_table_view(df, show, width)


def _write_list(df, path: Path, fmt: str | None = None, task=None) -> None:
    """A molecule or sequence list as csv, sdf or parquet (``molgfn.chem.descriptors.write_table``);
    an SDF of a docking task (one with ``poses``) takes each molecule's docked pose as its coordinates."""
    from molgfn.chem.descriptors import write_table

    sdf = (fmt or path.suffix.lstrip(".")).lower() == "sdf"
    poses = task.poses(df["smiles"]) if sdf and hasattr(task, "poses") and "smiles" in df.columns else None
    failures = write_table(df, path, fmt, poses=poses)
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


def _output_path(output: str, force: bool, inputs=()) -> str:
    """``-o``: ``-`` (stdout), or the file it may write (``molgfn.paths.check_output_file``)."""
    from molgfn.paths import check_output_file

    return output if output == "-" else str(check_output_file(output, force=force, inputs=inputs))


def _emit(df, output: str, task=None) -> None:
    """CSV to stdout (``-``), or a file whose suffix picks the format: .csv, .sdf or .parquet (a docking
    ``task``'s poses as the SDF's coordinates)."""
    if output == "-":
        sys.stdout.write(df.to_csv(index=False))
    else:
        suffix = Path(output).suffix.lower().lstrip(".")
        try:
            _write_list(df, Path(output), suffix if suffix in ("sdf", "parquet") else "csv", task=task)
        except OSError as e:
            from molgfn.paths import input_error

            raise input_error(e, "cannot write --output") from None
        if "smiles" in df.columns:
            console.print(_rich_table(df, 10, console.width)[0], crop=False)  # a SMILES is never cut
