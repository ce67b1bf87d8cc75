"""Training objectives. Each module holds one objective with its formula and paper.

An objective is a callable ``(scores: TrajectoryScores) -> (loss, info)`` where ``loss``
is a scalar to minimise and ``info`` holds detached diagnostics.
"""

from __future__ import annotations

from collections.abc import Callable

from ..trajectories import TrajectoryScores
from .tb import trajectory_balance

Objective = Callable[[TrajectoryScores], "tuple"]

OBJECTIVES: dict[str, tuple[Callable[..., Objective], str]] = {
    "tb": (lambda **_: trajectory_balance, "trajectory balance (Malkin et al. 2022)"),
}


def get_objective(name: str, **options) -> Objective:
    if name not in OBJECTIVES:
        raise ValueError(f"unknown objective {name!r}; choose from: {', '.join(OBJECTIVES)}")
    return OBJECTIVES[name][0](**options)


def needs_flow_head(name: str) -> bool:
    return name in {"db", "subtb", "fldb"}
