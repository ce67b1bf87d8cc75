"""Run configuration: one dataclass, saved as JSON in the run directory."""

from __future__ import annotations

import json
import math
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path

import torch

SEED_MAX = 2**32 - 1  # numpy's seed range, the narrowest of the three RNGs seeded
LIMIT = 1 << 16  # trajectories per round: more would exhaust memory before doing anything useful
LOGZ_INITS = ("is", "zero")  # TrainConfig.logz_init
BETA_MAX = 1e3  # inverse temperatures beyond this only overflow R^beta


@dataclass
class TrainConfig:
    task: str = "rna1"
    task_options: dict = field(default_factory=dict)
    objective: str = "tb"
    objective_options: dict = field(default_factory=dict)
    rounds: int = 1000
    batch_size: int = 32  # on-policy trajectories (reward calls) per round
    replay_size: int = 32  # replayed trajectories per round (no reward calls)
    grad_steps: int = 3
    hidden: int = 128
    n_layers: int = 2
    lr: float = 1e-3  # the papers used 1e-4; 1e-3 finds modes faster here (bench/)
    lr_logz: float = 1e-2
    # "is": before the first update, an unconditional log Z is set to the importance-sampled estimate
    # (molgfn.calibration) from the first on-policy batch, so that it starts near log Z instead of 0
    # (bench/TUNING.md, issue 18: from 0 at lr 1e-2 plain TB ended ~2 nats low on qm9str); "zero": start at 0
    logz_init: str = "is"
    epsilon: float = 0.01
    conditioning: str = "none"
    beta_dist: str = "fixed:1"
    # multi-objective tasks: "dirichlet:ALPHA" trains one sampler conditioned on preferences w ~
    # Dirichlet(ALPHA 1_k) (molgfn.conditioning); "" trains the task's fixed weighted sum
    preference_dist: str = ""
    uniform_pb: bool = False
    local_search: bool = False
    ls_iterations: int = 7
    ls_backtrack: int = 0  # 0: (L + 1) // 2 as in the papers
    ls_filter: str = "greedy"
    replay_top_frac: float = 0.1
    checkpoint_every: int = 50
    seed: int = 0
    device: str = "auto"
    # count modes found during training; for RNA this costs 42 extra oracle calls per
    # candidate above the mode threshold (metric only, not counted as reward calls)
    track_modes: bool = True
    # metrics.csv: an importance-sampled log Z at beta = 1 (molgfn.calibration) from this many P_F samples
    # every calibration_every rounds, beside the learned log Z (0: never); the samples' scores are
    # metric only, not counted as reward calls
    calibration_every: int = 50
    calibration_samples: int = 64
    # PMO's budget: stop at exactly this many unique valid objects scored (molgfn.budget); None: off
    max_oracle_calls: int | None = None
    # fragment tasks: a SMILES file of known molecules, scored in round 0, replayed and (with local search)
    # the first round's chains (molgfn.seeding); "": none
    seed_molecules: str = ""

    def validate(self) -> None:
        """Reject bad settings before any work is done, naming the option and the choices."""
        from .errors import InputError
        from .local_search import FILTERS
        from .objectives import OBJECTIVES
        from .policies import CONDITIONINGS

        # a field whose default is None is optional: None, or a whole number (max_oracle_calls)
        wrong = [f"{f.name}={getattr(self, f.name)!r} (needs {_kind(0 if f.default is None else f.default)})"
                 for f in fields(self) if f.default is not MISSING
                 and not (f.default is None and getattr(self, f.name) is None)
                 and not _fits(getattr(self, f.name), int if f.default is None else type(f.default))]
        if wrong:  # e.g. rounds=1.5 from the library: named here, not a TypeError deep in training
            raise InputError("training settings of the wrong type: " + ", ".join(wrong))
        fin = math.isfinite
        opt_floats = {k: v for k, v in self.objective_options.items() if isinstance(v, float)}
        checks = [
            (isinstance(self.seed, int) and 0 <= self.seed <= SEED_MAX,
             f"--seed must be an integer in [0, {SEED_MAX}]"),
            (fin(self.lr) and fin(self.lr_logz), "--lr and --lr-logz must be finite numbers > 0"),
            (fin(self.epsilon), "--epsilon must be a finite number in [0, 1]"),
            (fin(self.replay_top_frac) and 0 < self.replay_top_frac < 1, "replay_top_frac must lie in (0, 1)"),
            (all(fin(v) for v in opt_floats.values()),
             "objective options (--subtb-lambda, --alpha, --kl-mix-lambda) must be finite: got "
             + ", ".join(f"{k}={v}" for k, v in opt_floats.items() if not fin(v))),
            (self.batch_size <= LIMIT and self.replay_size <= LIMIT,
             f"--batch-size and --replay-size must be at most {LIMIT}"),
            (self.hidden <= 16_384 and self.n_layers <= 64, "--hidden must be at most 16384 and --layers at most 64"),
            (self.grad_steps <= 10_000 and self.ls_iterations <= 10_000 and self.ls_backtrack <= 10_000,
             "--grad-steps, --ls-iterations and --ls-backtrack must be at most 10000"),
            (self.rounds <= 10**9, "--rounds must be at most 1000000000"),
            (self.objective in OBJECTIVES, f"--objective must be one of {', '.join(OBJECTIVES)}"),
            (self.conditioning in CONDITIONINGS, f"--conditioning must be one of {', '.join(CONDITIONINGS)}"),
            (self.logz_init in LOGZ_INITS, f"logz_init must be one of {', '.join(LOGZ_INITS)}"),
            (self.ls_filter in FILTERS, f"--ls-filter must be one of {', '.join(FILTERS)}"),
            (self.rounds >= 0, "--rounds must be >= 0"),
            (self.max_oracle_calls is None or 1 <= self.max_oracle_calls <= 10**9,
             "--max-oracle-calls must be an integer in [1, 1000000000]"),
            (self.batch_size >= 1, "--batch-size must be >= 1"),
            (self.replay_size >= 0, "--replay-size must be >= 0"),
            (self.grad_steps >= 1, "--grad-steps must be >= 1"),
            (0.0 <= self.epsilon <= 1.0, "--epsilon must lie in [0, 1]"),
            (self.lr > 0 and self.lr_logz > 0, "--lr and --lr-logz must be > 0"),
            (self.hidden >= 1 and self.n_layers >= 1, "--hidden and --layers must be >= 1"),
            (self.ls_iterations >= 1, "--ls-iterations must be >= 1"),
            (self.ls_backtrack >= 0, "--ls-backtrack must be >= 0 (0: (L+1)//2)"),
            (self.checkpoint_every >= 1, "--checkpoint-every must be >= 1"),
            (self.calibration_every >= 0 and 1 <= self.calibration_samples <= LIMIT,
             f"calibration_every must be >= 0 (0: never) and calibration_samples in [1, {LIMIT}]"),
            (not self.local_search or self.batch_size % (self.ls_iterations + 1) == 0,
             "--local-search needs --batch-size divisible by --ls-iterations + 1, so that a round spends "
             "exactly --batch-size reward calls (e.g. 32 with 7 iterations)"),
        ]
        bad = [msg for ok, msg in checks if not ok]
        if bad:
            raise InputError("; ".join(bad))
        BetaDist(self.beta_dist)
        parse_preference_dist(self.preference_dist)

    @classmethod
    def load(cls, path: Path) -> TrainConfig:
        """A run's config.json; a damaged one is a one-line error naming the file."""
        from .errors import InputError, RunFileError

        def damaged(what: str) -> RunFileError:
            return RunFileError(f"{path} is damaged ({what}); restore it from a backup, or start the run again "
                                "with --overwrite")

        try:
            raw = json.loads(Path(path).read_bytes().decode())
        except (UnicodeDecodeError, ValueError) as e:
            raise damaged(f"not JSON: {str(e)[:80]}") from None
        if not isinstance(raw, dict) or "task" not in raw:
            raise damaged("not a molgfn run configuration")
        defaults = cls()
        kw = {}
        for f in fields(cls):
            if f.name not in raw:
                continue
            v, want = raw[f.name], type(getattr(defaults, f.name))
            if getattr(defaults, f.name) is None:  # an optional integer (max_oracle_calls)
                want = type(None) if v is None else int
            ok = (isinstance(v, (int, float)) and not isinstance(v, bool)) if want is float else (
                isinstance(v, want) and not (want is int and isinstance(v, bool)))
            if not ok:
                raise damaged(f"{f.name} should be {want.__name__}, got {v!r}")
            kw[f.name] = float(v) if want is float else v
        cfg = cls(**kw)
        try:
            cfg.validate()
        except InputError as e:
            raise damaged(str(e)) from None
        return cfg


def _fits(v, want: type) -> bool:
    """A setting's value is of its field's type (an int is a float; a bool is no number)."""
    import numbers

    if want is float:
        return isinstance(v, numbers.Real) and not isinstance(v, bool)
    if want is int:
        return isinstance(v, numbers.Integral) and not isinstance(v, bool)
    return isinstance(v, want)


def _kind(default) -> str:
    return {bool: "true or false", int: "a whole number", float: "a number", str: "a string"}.get(type(default),
                                                                                            type(default).__name__)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        from .errors import InputError

        raise InputError("--device cuda was asked for but torch sees no CUDA GPU; use --device cpu or auto")
    if name not in ("cpu", "cuda"):
        from .errors import InputError

        raise InputError(f"--device must be auto, cpu or cuda, got {name!r}")
    return torch.device(name)


def parse_preference_dist(spec: str) -> float | None:
    """``dirichlet:ALPHA`` -> ALPHA (> 0); "" or ``none`` -> None (a fixed weighted sum)."""
    from .errors import InputError

    if spec in ("", "none"):
        return None
    kind, _, arg = spec.partition(":")
    try:
        alpha = float(arg) if arg else 1.0
    except ValueError:
        alpha = math.nan
    if kind != "dirichlet" or not (math.isfinite(alpha) and alpha > 0):
        raise InputError(f"bad --preference-dist {spec!r}: use dirichlet:ALPHA with ALPHA > 0 (dirichlet:1, the "
                         "paper's, spreads preferences uniformly over the simplex), or none for a fixed weighted sum")
    return alpha


class BetaDist:
    """Inverse-temperature distribution: ``fixed:B``, ``uniform:LO,HI`` or ``loguniform:LO,HI``."""

    def __init__(self, spec: str) -> None:
        from .errors import InputError

        self.spec = spec
        kind, _, args = spec.partition(":")
        try:
            vals = [float(v) for v in args.split(",")] if args else []
        except ValueError as e:
            raise InputError(f"bad --beta-dist {spec!r}: {e}") from e
        ok = (kind == "fixed" and len(vals) == 1) or (kind in ("uniform", "loguniform") and len(vals) == 2)
        if (not ok or any(not (0 < v <= BETA_MAX) for v in vals)
                or (len(vals) == 2 and vals[0] > vals[1])):
            raise InputError(f"bad --beta-dist {spec!r}: use fixed:B, uniform:LO,HI or loguniform:LO,HI "
                             f"with 0 < LO <= HI <= {BETA_MAX:g} (finite numbers)")
        self.kind, self.vals = kind, vals

    @property
    def is_fixed(self) -> bool:
        return self.kind == "fixed"

    def sample(self, n: int, device, gen: torch.Generator | None = None) -> torch.Tensor:
        if self.kind == "fixed":
            return torch.full((n,), self.vals[0], device=device)
        u = torch.rand(n, generator=gen, device=device)
        lo, hi = self.vals
        if self.kind == "uniform":
            return lo + (hi - lo) * u
        return torch.exp(math.log(lo) + (math.log(hi) - math.log(lo)) * u)
