"""Training objectives. Each module holds one objective with its formula and paper.

An objective is a callable ``(scores: TrajectoryScores) -> (loss, info)`` where ``loss``
is a scalar to minimise and ``info`` holds detached diagnostics.
"""

from __future__ import annotations

from collections.abc import Callable

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

OBJECTIVES: dict[str, tuple[Callable[..., Objective], str]] = {
    "tb": (lambda **_: trajectory_balance, "trajectory balance (Malkin et al. 2022)"),
    "db": (lambda **_: detailed_balance, "detailed balance (Bengio et al. 2023)"),
    "subtb": (lambda subtb_lambda=0.9, **_: SubTB(subtb_lambda),
              "SubTB(lambda), --subtb-lambda (Madan et al. 2023)"),
    "fldb": (lambda fldb_partial=False, **_: ForwardLookingDB(fldb_partial),
             "forward-looking DB, --fldb-partial (Pan et al. 2023)"),
    "rkl": (lambda control_variate="loo", **_: ReverseKL(control_variate),
            "reverse KL(q||pi), REINFORCE (Zimmermann et al. 2023)"),
    "fkl": (lambda control_variate="loo", **_: ForwardKL(control_variate),
            "forward KL(pi||q), SNIS (Zimmermann et al. 2023)"),
    "kl-mix": (lambda kl_mix_lambda=0.5, control_variate="loo", **_: KLMix(kl_mix_lambda, control_variate),
               "mix of both KLs, --kl-mix-lambda (Zimmermann et al. 2023)"),
    "renyi": (lambda alpha=0.5, control_variate="loo", **_: Renyi(alpha, control_variate),
              "Renyi-alpha D(q||pi), --alpha (da Silva et al. 2024)"),
    "tsallis": (lambda alpha=0.5, control_variate="loo", **_: Tsallis(alpha, control_variate),
                "Tsallis-alpha T(q||pi), --alpha (da Silva et al. 2024)"),
}


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
