"""The task interface: what a plugin in ``tasks/`` provides.

Every task states its raw-score oracle, its reward exponent b, R_max and optionally its
modes; ``Task`` turns raw scores into rewards,

    R(x) = scale * max(r(x), raw_floor)^b,  scale = R_max / raw_max^b,

so that an object with the best raw score ``raw_max`` gets R_max (the papers' choice).
``SequenceTask`` adds an alphabet and a length; fragment tasks (``molgfn.fragtask``) a
block vocabulary.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence

import numpy as np
import torch

from .envs import SequenceEnv
from .oracle import call_oracle

RAW_FLOOR = 1e-3
LOG_REWARD_MAX = math.log(sys.float_info.max)  # 709.78: a larger log R has no float64 reward R (it would be inf)

# The training recipe `molgfn design` uses for every option the user leaves unset (keys are
# TrainConfig fields; a task may override it). Chosen by the tuning study in bench/TUNING.md:
# modes discovered per reward call. `molgfn train` keeps the plain defaults of its --help.
DESIGN_DEFAULTS: dict = {"conditioning": "logit", "beta_dist": "uniform:1,3", "local_search": True}


class Task:
    """What every task shares: its description, the reward transform and optional hooks."""

    name: str = "task"
    kind: str = "task"
    description: str = ""
    reward_exponent: float = 1.0
    r_max: float = 10.0
    raw_max: float = 1.0
    raw_floor: float = RAW_FLOOR
    allow_negative: bool = False  # a negative raw score is an oracle error unless allowed
    higher_is_better: bool = True  # False for a score to minimise (Vina, kcal/mol): "best" is then the lowest
    assets: tuple[str, ...] = ()
    object_column: str = "sequence"
    design_defaults: dict = DESIGN_DEFAULTS

    # -- reward transform ------------------------------------------------------------------
    @property
    def log_scale(self) -> float:
        return math.log(self.r_max) - self.reward_exponent * math.log(max(self.raw_max, self.raw_floor))

    def log_reward(self, raw: torch.Tensor) -> torch.Tensor:
        raw = torch.as_tensor(raw, dtype=torch.float64)
        logr = self.log_scale + self.reward_exponent * torch.log(raw.clamp(min=self.raw_floor))
        if logr.numel() and float(logr.max()) > LOG_REWARD_MAX:
            self._refuse_overflow(raw, logr)
        return logr

    def _refuse_overflow(self, raw: torch.Tensor, logr: torch.Tensor) -> None:
        from .errors import OracleError

        i = int(logr.argmax())
        raise OracleError(f"task {self.name!r}: the raw score {float(raw.flatten()[i]):.4g} gives a reward R = r_max * "
                          f"(r / raw_max)^b = e^{float(logr.flatten()[i]):.0f}, beyond the largest float "
                          f"({sys.float_info.max:.3g} = e^{LOG_REWARD_MAX:.2f}), so it would be written as inf; "
                          f"rewards must stay at most {sys.float_info.max:.3g}: scale the oracle's scores down, set "
                          f"raw_max to the best score you expect (now {self.raw_max:g}), or lower the reward exponent "
                          f"(now {self.reward_exponent:g})")

    def warn_if_all_floored(self, raw: torch.Tensor) -> None:
        """Warn (once) when a whole batch scores at or below the floor: every object then gets the
        same reward and nothing can be learned. The trainer calls it on every batch it scores (raw scores
        are finite: the oracle contract refuses NaN and infinities)."""
        if getattr(self, "_floor_warned", False) or raw.numel() == 0 or float(raw.max()) > self.raw_floor:
            return
        import warnings

        from .errors import RewardFloorWarning

        self._floor_warned = True
        warnings.warn(f"all {raw.numel()} raw scores of a batch are at or below the reward floor {self.raw_floor:g} "
                      f"(R uses max(r, {self.raw_floor:g})), so every object gets the same reward; rescale or "
                      "shift your oracle so that good objects score above the floor (negative scores are "
                      "refused unless --task-option allow_negative=true, and then also get the floor)",
                      RewardFloorWarning, stacklevel=2)

    # -- optional extras -----------------------------------------------------------------
    def mode_mask(self, tokens: torch.Tensor) -> torch.Tensor | None:
        """Which objects are modes, or None when the task defines no modes."""
        return None

    def num_modes(self) -> int | None:
        return None

    def smiles(self, objs: list[str]) -> list[str] | None:
        return None

    def energy(self, tokens: torch.Tensor) -> torch.Tensor | None:
        """Energy E(s) of partial states (forward-looking objectives); None if undefined."""
        return None

    def close(self) -> None:
        """Release oracle resources (worker processes)."""

    def state_dict(self) -> dict:
        """Task state that a resumed run needs (checkpointed by the trainer)."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


class SequenceTask(Task):
    name: str = "sequence"
    kind: str = "sequence"
    alphabet: str = "ACGT"
    length: int = 8
    append_only: bool = False

    def __init__(self) -> None:
        self.env = SequenceEnv(self.alphabet, self.length, self.append_only)
        self.reward_calls = 0

    # -- the oracle ----------------------------------------------------------------------
    def raw_scores(self, seqs: list[str]) -> Sequence[float]:
        """Raw score r(x) of each sequence. Plugins override this (or ``score_tokens``)."""
        raise NotImplementedError

    def score_strings(self, seqs: list[str]) -> np.ndarray:
        return call_oracle(self.name, self.raw_scores, seqs, self.allow_negative)

    def score_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        """Raw scores of full-length token tensors. Tabular tasks override this with a lookup."""
        return torch.as_tensor(self.score_strings(self.env.to_strings(tokens)), dtype=torch.float64)

    def evaluate(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(raw, log R) for a batch; counts reward calls (the oracle budget)."""
        raw = self.score_tokens(tokens).to(torch.float64)
        self.reward_calls += tokens.shape[0]
        return raw, self.log_reward(raw)


class TabularSequenceTask(SequenceTask):
    """A task whose raw score is a table over all A^L objects (tfbind8, qm9str)."""

    def __init__(self) -> None:
        super().__init__()
        self._table: torch.Tensor | None = None

    def build_table(self) -> torch.Tensor:
        """float64 tensor of shape (A^L,), indexed by ``env.index``."""
        raise NotImplementedError

    @property
    def table(self) -> torch.Tensor:
        if self._table is None:
            self._table = self.build_table()
        return self._table

    def score_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.table.to(tokens.device)[self.env.index(tokens)]

    def raw_scores(self, seqs: list[str]) -> Sequence[float]:
        return self.score_tokens(self.env.from_strings(seqs)).tolist()
