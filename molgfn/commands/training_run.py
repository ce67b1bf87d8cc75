"""The training run behind `molgfn train` and `molgfn design`: options checked, the run
folder prepared, --resume's stored options, training started."""

from __future__ import annotations

from pathlib import Path

from .base import _current_context, _explicit_options, console
from .common import _configure_oracle, _oracle_settings, _resumed_oracle_options, _set_threads, _stored_task, _task
from .options import _INVOKED, parse_task_options


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


def _train_like(task, out_dir, rounds, batch_size, replay_size, grad_steps, objective, lr, lr_logz, epsilon,
                hidden, layers, conditioning, beta_dist, local_search, ls_iterations, ls_backtrack, ls_filter,
                uniform_pb, seed, device, data_dir, resume, overwrite, checkpoint_every, oracle, alphabet,
                length, reward_exponent, workers, quiet, subtb_lambda=0.9, alpha=0.5, kl_mix_lambda=0.5,
                control_variate="loo", fldb_partial=False, vocab=None, max_blocks=8, track_modes=True,
                task_option=None, precheck=None, logger=None, progress="auto", log_every=0, objectives=None,
                weights=None, transform=None, trust_oracle=False, executor=None, ray_address=None,
                chunk_size=None, oracle_timeout=600.0, oracle_retries=0, on_oracle_error="stop", score_store=None,
                filters=None, preference_dist=None, stale_scores_ok=False, threads=None, max_oracle_calls=None,
                scoring=None, seed_molecules=None):
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
        from molgfn.scoring_task import check_resumed_scoring

        check_resumed_scoring(cfg.task_options, scoring)  # --scoring again: the same content, which trusts it
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
        task_obj = _stored_task(cfg, oracle, trust_oracle or scoring is not None, workers=workers)
    else:
        frag = {"max_blocks": max_blocks} if max_blocks != 8 else {}
        if vocab is not None:
            frag["vocab"] = str(Path(vocab).resolve())
        moo = {"objectives": objectives.split(","), "weights": weights, "transforms": transform or []} \
            if objectives else None
        if moo is None and (weights or transform):
            raise InputError("--weights and --transform score the objectives named by --objectives")
        from molgfn.tasks import registry

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
                                          {**frag, **(moo or {})}, task_option, scoring)
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
        from molgfn.seeding import seed_option

        cfg.seed_molecules = seed_option(seed_molecules, task_obj)  # checked now; used in round one
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
            if name == "reward_exponent" and stored is None:  # a built-in task run with its own exponent
                from molgfn.tasks import registry

                stored = getattr(registry().get(cfg.task), "reward_exponent", None)
            if name == "vocab" and given[name] is not None:
                given = {**given, name: str(Path(given[name]).resolve())}
        elif name == "seed_molecules":  # used in round one only: another file on resume would be ignored
            stored = cfg.seed_molecules or None
            given = {**given, name: str(Path(given[name]).resolve()) if given[name] else None}
        elif name == "task_option":
            from .common import _absolute_paths

            for k, v in _absolute_paths(cfg.task, parse_task_options(given[name])).items():
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
