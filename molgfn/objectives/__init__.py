"""Training objectives. Each module holds one objective with its formula and paper.

An objective is a callable ``(scores: TrajectoryScores) -> (loss, info)`` where ``loss``
is a scalar to minimise and ``info`` holds detached diagnostics.
"""

from __future__ import annotations

from collections.abc import Callable

from ..choices import OBJECTIVE_HELP
from ..trajectories import TrajectoryScores
from .db import detailed_balance
from .fkl import ForwardKL
from .fldb import ForwardLookingDB
from .klmix import KLMix
from .renyi import Renyi
from .rkl import ReverseKL
from .subtb import SubTB
from .tb import trajectory_balance
from .tsallis import Tsallis

Objective = Callable[[TrajectoryScores], "tuple"]

_FACTORIES: dict[str, Callable[..., Objective]] = {
    "tb": lambda **_: trajectory_balance,
    "db": lambda **_: detailed_balance,
    "subtb": lambda subtb_lambda=0.9, **_: SubTB(subtb_lambda),
    "fldb": lambda fldb_partial=False, **_: ForwardLookingDB(fldb_partial),
    "rkl": lambda control_variate="loo", **_: ReverseKL(control_variate),
    "fkl": lambda control_variate="loo", **_: ForwardKL(control_variate),
    "kl-mix": lambda kl_mix_lambda=0.5, control_variate="loo", **_: KLMix(kl_mix_lambda, control_variate),
    "renyi": lambda alpha=0.5, control_variate="loo", **_: Renyi(alpha, control_variate),
    "tsallis": lambda alpha=0.5, control_variate="loo", **_: Tsallis(alpha, control_variate),
}
# name -> (factory, description); the names and descriptions are molgfn.choices' (--help lists them)
OBJECTIVES: dict[str, tuple[Callable[..., Objective], str]] = {
    name: (_FACTORIES[name], description) for name, description in OBJECTIVE_HELP.items()}


def get_objective(name: str, **options) -> Objective:
    if name not in OBJECTIVES:
        raise ValueError(f"unknown objective {name!r}; choose from: {', '.join(OBJECTIVES)}")
    try:
        return OBJECTIVES[name][0](**options)
    except ValueError as e:  # a bad option value (--control-variate, --alpha, ...): one clear CLI line
        from ..errors import InputError

        raise InputError(str(e)) from e


def needs_flow_head(name: str) -> bool:
    return name in {"db", "subtb", "fldb"}


def needs_energy(name: str) -> bool:
    """Objectives that need the task's state energies (``SequenceTask.energy``)."""
    return name == "fldb"


def is_on_policy_only(objective) -> bool:
    """Score-function objectives use only trajectories sampled from P_F (no replay)."""
    return bool(getattr(objective, "on_policy_only", False))
