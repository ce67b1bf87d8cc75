"""The library API: design with GFlowNets from Python, no command line needed.

    from molgfn import FunctionTask, design

    def gc_content(seqs):                      # list[str] -> list[float], the raw score r(x)
        return [sum(c in "GC" for c in s) / len(s) for s in seqs]

    task = FunctionTask(gc_content, alphabet="ACGT", length=12, reward_exponent=4)
    df = design(task, rounds=200, seed=0)      # a pandas DataFrame, best first

``train`` returns the ``Trainer`` (sample from it with ``sample``); ``design`` trains and returns
the ranked candidate table; ``load_run`` reopens a run directory. Training settings are the
fields of ``TrainConfig`` (``rounds``, ``batch_size``, ``objective``, ``conditioning``,
``beta_dist``, ``local_search`` ...), given as keyword arguments. With ``out=DIR`` the run
directory is written as by ``molgfn train`` (config.json, metrics.csv, checkpoint.pt,
candidates.csv). ``molgfn train`` / ``design`` run through ``train`` too.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING

from .config import BETA_MAX, TrainConfig
from .errors import InputError, TaskError
from .fragtask import FragmentTask
from .limits import MAX_SAMPLES, check_ranges, check_samples, check_training_memory
from .oracle import CachedOracle
from .task import SequenceTask, Task
from .trainer import Trainer

if TYPE_CHECKING:  # imported where a table is built: `molgfn train` of a sequence task never needs pandas
    import pandas as pd


def _label(fn: Callable) -> str:
    mod, name = getattr(fn, "__module__", None), getattr(fn, "__qualname__", None)
    return f"{mod}:{name}" if mod and name else repr(fn)


class FunctionTask(SequenceTask):
    """Sequences of ``length`` tokens over ``alphabet``, scored by a Python function
    ``fn(list[str]) -> list[float]``; R(x) = r_max * (max(r(x), 1e-3) / raw_max)^b.

    ``workers > 1`` spreads uncached sequences over processes (``fn`` must then be a
    module-level function); scores are cached per sequence."""

    name = "function"
    description = "a Python function as the oracle on sequences"

    def __init__(self, fn: Callable[[list[str]], Sequence[float]], alphabet: str = "ACGT", length: int = 8,
                 reward_exponent: float = 1.0, r_max: float = 1.0, raw_max: float = 1.0,
                 allow_negative: bool = False, workers: int = 1, name: str | None = None,
                 objectives: Sequence[str] | str | None = None, weights: Sequence[float] | str | None = None,
                 transforms: dict[str, str] | Sequence[str] | None = None) -> None:
        if fn is not None and not callable(fn):
            raise InputError(f"the oracle must be a function list[str] -> list[float], got {fn!r}")
        if not alphabet or len(set(alphabet)) != len(alphabet):
            raise InputError(f"alphabet must be distinct characters, got {alphabet!r}")
        check_ranges(("length", length, 1, 100_000))
        _check_reward_numbers(reward_exponent, r_max, raw_max, workers)
        self.alphabet, self.length = alphabet, int(length)
        self.reward_exponent, self.r_max, self.raw_max = float(reward_exponent), float(r_max), float(raw_max)
        self.allow_negative = allow_negative
        if name:
            self.name = name
        super().__init__()
        self.spec = _label(fn) if fn is not None else "(not loaded)"
        # fn None: a stored run opened without loading its oracle (sampling needs none)
        self.oracle = _oracle(self, fn, allow_negative, workers, objectives, weights, transforms)

    def raw_scores(self, seqs: list[str]) -> list[float]:
        return _loaded(self.oracle)(seqs).tolist()

    def objective_vectors(self, objs: list[str]):
        """(n, k) raw objective vectors of a multi-objective task (cached: no new oracle calls
        for objects seen before)."""
        return _loaded(self.oracle).vectors(objs)

    def extra_columns(self, objs: list[str]) -> dict[str, list]:
        """Multi-objective tasks: one column per objective (its raw value)."""
        return _objective_columns(self, objs)

    def close(self) -> None:
        if self.oracle is not None:
            self.oracle.close()


def _check_reward_numbers(reward_exponent, r_max: float, raw_max: float, workers: int) -> None:
    """The reward transform's numbers and the worker count, checked as the CLI checks its flags."""
    check_ranges(("reward_exponent", reward_exponent, 0, 100), ("r_max", r_max, 0, None), ("raw_max", raw_max, 0, None))
    if workers is not None:  # the one worker-count check of every path (a pool without workers waits forever)
        from .oracle.executors import check_workers

        check_workers(workers)
    if min(reward_exponent, r_max, raw_max) <= 0:
        raise InputError(f"reward_exponent, r_max and raw_max must be > 0, got {reward_exponent}, {r_max}, {raw_max}")


def _check_ranking(num_samples: int, num_candidates: int | None, min_distance: int, max_similarity: float,
                   max_per_scaffold: int) -> None:
    """The candidate-list numbers of ``rank_candidates`` / ``design``, as `molgfn design` checks its flags."""
    check_samples("num_samples", num_samples, lo=0)
    if num_candidates is not None:
        check_ranges(("num_candidates", num_candidates, 1, MAX_SAMPLES))
    check_ranges(("min_distance", min_distance, 0, None), ("max_similarity", max_similarity, 0, 1),
                 ("max_per_scaffold", max_per_scaffold, 0, None))
    if max_similarity <= 0:
        raise InputError(f"max_similarity must be in (0, 1], got {max_similarity}")


def _loaded(oracle):
    if oracle is None:
        raise TaskError("this run's oracle was not loaded: pass --oracle MODULE:FUNCTION (or --trust-oracle) "
                        "to score")
    return oracle


def _oracle(task, fn, allow_negative, workers, objectives, weights, transforms):
    """A cached scalar oracle, or for ``objectives`` a cached weighted-sum vector oracle (the same
    executors, timeouts, error policy and score store); sets ``task.components`` (None for one objective)."""
    task.components = None
    if objectives is None or objectives == [] or objectives == "":
        return CachedOracle(task.spec, fn, allow_negative, workers=workers) if fn else None
    from .moo import WeightedSum, make_components, parse_transforms, parse_weights
    from .oracle import CachedVectorOracle

    names = objectives.split(",") if isinstance(objectives, str) else list(objectives)
    task.components = make_components(names, parse_weights(weights), parse_transforms(transforms))
    # fn None (a stored run opened without its oracle): the components still say what was optimised
    return CachedVectorOracle(task.spec, fn, WeightedSum(task.components), workers=workers) if fn else None


def _objective_columns(task, objs: list[str]) -> dict[str, list]:
    if not task.components:
        return {}
    Y = task.objective_vectors(objs)
    return {c.name: Y[:, i].tolist() for i, c in enumerate(task.components)}


class MoleculeFunctionTask(FragmentTask):
    """Fragment molecules (blocks of ``vocab``, default the 105 of Bengio et al.; asset
    ``seh-frag-blocks``), scored by ``fn(list of canonical SMILES) -> list[float]``."""

    name = "function-frag"
    description = "a Python function as the oracle on fragment molecules"

    def __init__(self, fn: Callable[[list[str]], Sequence[float]], max_blocks: int = 8, vocab: str | None = None,
                 reward_exponent: float = 1.0, r_max: float = 1.0, raw_max: float = 1.0,
                 allow_negative: bool = False, workers: int = 1, name: str | None = None,
                 objectives: Sequence[str] | str | None = None, weights: Sequence[float] | str | None = None,
                 transforms: dict[str, str] | Sequence[str] | None = None,
                 filters: str | Sequence[str] | None = None) -> None:
        if fn is not None and not callable(fn):
            raise InputError(f"the oracle must be a function list[str] -> list[float], got {fn!r}")
        _check_reward_numbers(reward_exponent, r_max, raw_max, workers)
        self.r_max, self.raw_max, self.allow_negative = float(r_max), float(raw_max), allow_negative
        if name:
            self.name = name
        # vocab None: the seh-frag-blocks asset; filters: e.g. "pains,lipinski", failing molecules get the floor
        super().__init__(max_blocks, vocab, reward_exponent, filters)
        self.spec = _label(fn) if fn is not None else "(not loaded)"
        # fn None: a stored run opened without loading its oracle (sampling needs none)
        self.oracle = _oracle(self, fn, allow_negative, workers, objectives, weights, transforms)

    def raw_scores(self, smiles: list[str]) -> list[float]:
        return _loaded(self.oracle)(smiles).tolist()

    def objective_vectors(self, objs: list[str]):
        return _loaded(self.oracle).vectors(objs)

    def extra_columns(self, objs: list[str]) -> dict[str, list]:
        cols = super().extra_columns(objs)
        cols.update(_objective_columns(self, objs))
        return cols

    def close(self) -> None:
        if self.oracle is not None:
            self.oracle.close()


# ---- configuration ------------------------------------------------------------------------------
def make_config(task: Task, **settings) -> TrainConfig:
    """A validated ``TrainConfig`` for ``task``; an unknown setting is named with close matches."""
    known = {f.name for f in fields(TrainConfig)} - {"task", "task_options"}
    bad = [k for k in settings if k not in known]
    if bad:
        hints = []
        for k in bad:
            close = difflib.get_close_matches(k, sorted(known), n=3, cutoff=0.6)
            hints.append(f"{k!r}" + (f" (did you mean {' or '.join(close)}?)" if close else ""))
        raise InputError(f"unknown training setting(s) {', '.join(hints)}; settings are the fields of "
                         f"molgfn.TrainConfig: {', '.join(sorted(known))}")
    opts = dict(getattr(task, "task_options", None) or {})  # set by tasks.get_task: how to rebuild the task
    if hasattr(task, "spec"):
        opts["oracle"] = task.spec
    cfg = TrainConfig(task=task.name, task_options=opts, **settings)
    cfg.validate()
    return cfg


def _check_task(task) -> None:
    if not isinstance(task, Task) or not hasattr(task, "env"):
        raise InputError(f"expected a molgfn Task (e.g. molgfn.FunctionTask(fn, alphabet=..., length=...)), "
                         f"got {type(task).__name__}")


def _prepare_out(out: Path | None, resume: bool, overwrite: bool = False) -> Path | None:
    """Own the run folder (molgfn.runs.prepare_run_dir: the CLI's rules, in the API's words)."""
    from . import runs

    if out is None:
        if resume or overwrite:
            raise InputError(f"{'resume' if resume else 'overwrite'}=True needs the run directory: out=DIR")
        return None
    for note in runs.prepare_run_dir(Path(out), resume, overwrite, names=runs.API_NAMES):
        logging.getLogger("molgfn").info(note)
    return Path(out)


def load_checkpoint(trainer: Trainer) -> None:
    """Load a run's checkpoint; one that does not fit its config.json is a one-line error naming it."""
    from .errors import MolgfnError, RunFileError
    from .runs import CHECKPOINT

    try:
        trainer.resume()
    except MolgfnError:
        raise
    except (KeyError, RuntimeError, ValueError, TypeError, IndexError) as e:
        raise RunFileError(f"{trainer.run_dir / CHECKPOINT} does not fit the run's config.json "
                           f"({type(e).__name__}: {str(e).splitlines()[0][:100] if str(e) else ''}); restore both "
                           "from a backup, or start the run again with --overwrite") from None


# ---- the three verbs ----------------------------------------------------------------------------
def train(task: Task, out: str | Path | None = None, *, config: TrainConfig | None = None, resume: bool = False,
          overwrite: bool = False, progress: bool | str | Callable | object = False, loggers: Iterable[str] = (),
          on_round: Callable[[dict], None] | None = None, options: dict | None = None,
          on_start: Callable[[Trainer], None] | None = None, **settings) -> Trainer:
    """Train a sampler on ``task``; returns the ``Trainer``.

    ``settings`` are ``TrainConfig`` fields (or pass ``config``). ``progress``: False, True (a
    bar on a terminal, plain lines otherwise), ``"plain"``, a progress object, or a function
    ``trainer -> progress object``. ``loggers``:
    ``"tensorboard"`` / ``"mlflow"`` (need ``out``). ``on_round(row)`` sees every metrics row.
    ``options`` are recorded in config.json beside the config (the CLI's full option set).
    ``out`` follows the CLI's rules: a new run needs a new or empty folder; ``resume=True``
    continues the run there, ``overwrite=True`` starts it again (removing only molgfn's files).
    """
    from .oracle import settings_record
    from .provenance import write_run_config
    from .runs import CONFIG
    from .tracking import Tracker, check_loggers, make_loggers, make_progress

    _check_task(task)
    if config is not None and settings:
        raise InputError("pass either config= or training settings as keywords, not both")
    cfg = config if config is not None else make_config(task, **settings)
    cfg.validate()
    check_training_memory(cfg, task)  # --hidden x --layers and the batch must fit in memory (molgfn.limits)
    check_loggers(loggers)
    out = _prepare_out(Path(out) if out is not None else None, resume, overwrite)
    made = make_loggers(loggers, out)  # a bad tracking store fails here, before anything is written
    try:
        trainer = Trainer(cfg, task, out)
        if resume:
            load_checkpoint(trainer)
    except BaseException:
        task.close()  # the oracle's workers must not outlive a run that never started
        raise
    if on_start is not None:
        on_start(trainer)
    rec = write_run_config(out / CONFIG, cfg, options, device=trainer.device,
                           oracle_settings=settings_record(task, out)) if out is not None else None
    if isinstance(progress, (bool, str)):
        mode = {True: "auto", False: "none"}.get(progress, progress)
        progress = make_progress(mode, cfg.rounds, trainer.round,
                                 has_modes=cfg.track_modes and bool(task.num_modes()))
    elif callable(progress) and not hasattr(progress, "update"):  # a factory: progress(trainer)
        progress = progress(trainer)
    with Tracker(progress, made, extra=on_round) as tracker:
        tracker.log_params(rec if rec is not None else {"task": task.name})
        trainer.train(on_round=tracker)
    return trainer


def rank_candidates(trainer: Trainer, num_samples: int = 1000, num_candidates: int | None = 100,
               beta: float | Sequence[float] | None = None, min_distance: int = 0,
               max_similarity: float = 1.0, preferences: Sequence | None = None,
               max_per_scaffold: int = 0) -> pd.DataFrame:
    """Ranked unique candidates: everything seen in training plus ``num_samples`` final draws,
    best first, optionally diverse (``max_per_scaffold``: at most that many molecules per Murcko
    scaffold, 0 off). Several ``beta`` values give one table with a ``beta``
    column, ranked within each beta (their own samples only). A preference-conditioned sampler
    gives one list per preference (default: each objective alone and equal weights), merged and
    Pareto-ranked (``molgfn.moo.preference_candidates``)."""
    import pandas as pd

    from .candidates import candidate_table
    from .moo import with_pareto_rank

    _check_ranking(num_samples, num_candidates, min_distance, max_similarity, max_per_scaffold)
    betas = [beta] if beta is None or isinstance(beta, (int, float)) else list(beta)
    betas = [trainer.sampling_beta(b) for b in betas]
    if trainer.pref_dist is not None:
        from .moo import preference_candidates

        return preference_candidates(trainer, preferences, num_samples, num_candidates, betas, min_distance,
                                     max_similarity, max_per_scaffold)
    if len(betas) == 1:
        df = candidate_table(trainer, trainer.sample(num_samples, beta=betas[0]), top=num_candidates,
                             min_distance=min_distance, max_similarity=max_similarity,
                             max_per_scaffold=max_per_scaffold)
    else:  # each beta's own samples, ranked within that beta
        df = pd.concat([candidate_table(trainer, trainer.sample(num_samples, beta=b), top=num_candidates, beta=b,
                                        samples_only=True, min_distance=min_distance, max_similarity=max_similarity,
                                        max_per_scaffold=max_per_scaffold) for b in betas], ignore_index=True)
    return with_pareto_rank(df, trainer.task)  # multi-objective tasks: Pareto rank over the merged list


def design(task: Task, out: str | Path | None = None, *, num_candidates: int | None = 100,
           num_samples: int = 1000, beta: float | Sequence[float] | None = None, min_distance: int = 0,
           max_similarity: float = 1.0, progress: bool | str = False, loggers: Iterable[str] = (),
           on_round: Callable[[dict], None] | None = None, preferences: Sequence | None = None,
           **settings) -> pd.DataFrame:
    """Train on ``task``, then return the ranked candidate table (a pandas DataFrame: ``rank``,
    the object, ``raw_score``, ``reward``, ``times_sampled``, ``first_round``, and the task's
    extra columns). With ``out`` the run directory and its candidates.csv are written too.
    Several objectives: ``preference_dist="dirichlet:1"`` trains one preference-conditioned sampler,
    and ``preferences`` (e.g. ``["1,0", "0.5,0.5"]``) are the weightings its list is drawn at."""
    from .runs import CANDIDATES, atomic_write_csv

    _check_ranking(num_samples, num_candidates, min_distance, max_similarity, 0)  # before any training
    for b in [] if beta is None else [beta] if isinstance(beta, (int, float)) else list(beta):
        check_ranges(("beta", b, 0, BETA_MAX))
        if b <= 0:
            raise InputError(f"beta must be a finite number in (0, {BETA_MAX:g}], got {b}")
    trainer = train(task, out, progress=progress, loggers=loggers, on_round=on_round, **settings)
    try:
        df = rank_candidates(trainer, num_samples, num_candidates, beta, min_distance, max_similarity, preferences)
    finally:
        task.close()
    if out is not None:
        atomic_write_csv(Path(out) / CANDIDATES, df)
    return df


def sample(trainer: Trainer, n: int = 100, beta: float | None = None, preference=None) -> pd.DataFrame:
    """``n`` draws from a trained sampler: the object, its raw score and reward (not counted as
    training reward calls). A preference-conditioned sampler draws at ``preference`` (e.g.
    "0.7,0.3"), or with w from its training distribution, one per sample."""
    import pandas as pd

    check_samples("n", n)
    toks = trainer.sample(n, beta=trainer.sampling_beta(beta), pref=preference)
    objs = trainer.env.to_strings(toks)
    df = pd.DataFrame({trainer.task.object_column: objs})
    scored = getattr(trainer.task, "oracle", True) is not None  # a stored run opened without its oracle: objects only
    if scored:
        raw = trainer.task.score_tokens(toks.cpu())
        df["raw_score"], df["reward"] = raw.numpy(), trainer.task.log_reward(raw).exp().numpy()
    smiles = trainer.task.smiles(objs)
    if smiles is not None and "smiles" not in df.columns:
        df.insert(1, "smiles", smiles)
    if scored and getattr(trainer.task, "components", None):  # multi-objective: the objectives and Pareto ranks
        from .moo import with_pareto_rank

        Y = trainer.task.objective_vectors(objs)
        for i, c in enumerate(trainer.task.components):
            df[c.name] = Y[:, i]
        df = with_pareto_rank(df, trainer.task)
    if scored and hasattr(trainer.task, "scoring_columns"):  # a scoring file: each component's raw value and score
        for name, col in trainer.task.scoring_columns(objs).items():
            df[name] = col
    return df


def load_run(run: str | Path, task: Task, device: str = "auto") -> Trainer:
    """Reopen a trained run directory with its task (the same oracle it was trained with)."""
    from .runs import CHECKPOINT, CONFIG

    run = Path(run)
    if not (run / CONFIG).exists() or not (run / CHECKPOINT).exists():
        raise InputError(f"{run} is not a trained run (needs {CONFIG} and {CHECKPOINT})")
    cfg = TrainConfig.load(run / CONFIG)
    cfg.device = device
    tr = Trainer(cfg, task, run, check_training_memory=False)  # sampling a run: no training memory
    load_checkpoint(tr)
    return tr
