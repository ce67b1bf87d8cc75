"""An oracle-call budget as PMO counts it (``--max-oracle-calls N``).

PMO (Gao et al. 2022, mol_opt's ``Oracle``) counts one call per unique valid molecule scored:
a molecule scored before (in this run) is looked up, not counted again, and an invalid one is
never scored. molgfn counts the same way: the budget is spent by objects the run sees for the
first time that are valid (and pass the run's --filter constraints, which skip the oracle).
A hit in a shared --score-store still counts: the run sees that molecule's score for the first
time, as PMO's buffer would (otherwise a warm store would give a run free calls).

The trainer stops at exactly N: in the round that reaches the budget, objects past it are not
scored (they get the floor reward and are not recorded as seen), and training ends after that
round, with a checkpoint.
"""

from __future__ import annotations

import math

# without --rounds, a budgeted run may take this many times the rounds the budget needs at
# --batch-size new objects per round, then stops like PMO's early stopping (a sampler that only
# repeats itself); metric-wise it is then a run that finished early (molgfn.pmo_metric)
ROUNDS_FACTOR = 10


def default_rounds(max_oracle_calls: int, batch_size: int) -> int:
    return min(10**9, ROUNDS_FACTOR * math.ceil(max_oracle_calls / max(1, batch_size)))


def check_supported(max_oracle_calls: int | None, pref_dist) -> None:
    """A budget counts single-objective calls: a preference-conditioned run is refused."""
    if max_oracle_calls is not None and pref_dist is not None:
        from .errors import InputError

        raise InputError("--max-oracle-calls counts PMO's single-objective calls; a preference-conditioned "
                         "run is not supported: give --weights (one weighted sum) or drop the budget")


def countable(task):
    """The predicate of objects that cost one call: valid and passing the task's filters."""
    check = getattr(task, "is_candidate", None)
    return check if check is not None else (lambda obj: True)


def within_budget(objs: list[str], seen, left: int, counts) -> list[bool] | None:
    """Which rows of a batch may be scored with ``left`` calls left: repeats (of the run or of
    the batch) and uncountable objects cost nothing; new countable ones in batch order until the
    budget is spent. None when every row may be."""
    keep, fresh = [], set()
    for o in objs:
        if o in seen or o in fresh or not counts(o):
            keep.append(True)
        elif left > 0:
            fresh.add(o)
            left -= 1
            keep.append(True)
        else:
            keep.append(False)
    return None if all(keep) else keep
