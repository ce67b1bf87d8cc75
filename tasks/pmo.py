"""pmo-*: the 20 PMO oracles that need no trained model (Gao et al. 2022) on fragment molecules.

One task per oracle, registered from ``molgfn.chem.pmo.ORACLES``: ``pmo-osimertinib-mpo``,
``pmo-qed``, ... Raw score r in [0, 1] (PMO's score, see ``molgfn.chem.pmo``); reward
R = max(r, 1e-3)^b with b = 8 (our choice, not yet tuned by a benchmark: at b = 8 a molecule at
0.9 gets 2.6x the reward of one at 0.8 and 180x one at 0.47, so the sampler concentrates on the
top of the [0, 1] range; design's Logit-GFN recipe samples beta in [1, 3] on top of it).
Budgets: ``--max-oracle-calls 10000`` counts unique valid molecules as PMO does; ``molgfn evaluate``
reports PMO's ``auc_top10``.

Task option ``isomer_count``: ``pmo`` (default, PMO's oracle) or ``atoms`` (guacamol's isomer
scoring); it changes the isomer and zaleplon / sitagliptin tasks only.
"""

from __future__ import annotations

from molgfn.chem import pmo
from molgfn.fragtask import FragmentTask


class PMOTask(FragmentTask):
    oracle_name: str = ""
    reward_exponent = 8.0
    r_max = 1.0
    raw_max = 1.0
    raw_floor = 1e-3

    def __init__(self, max_blocks: int = 8, vocab: str | None = None, reward_exponent: float | None = None,
                 filters: str | list[str] | None = None, isomer_count: str = "pmo") -> None:
        if isomer_count not in pmo.ISOMER_COUNTS:
            raise ValueError(f"isomer_count must be one of {', '.join(pmo.ISOMER_COUNTS)}, got {isomer_count!r}")
        super().__init__(max_blocks, vocab, reward_exponent, filters)
        self.isomer_count = isomer_count

    def raw_scores(self, smiles: list[str]) -> list[float]:
        return [pmo.score(self.oracle_name, s, self.isomer_count) for s in smiles]


def _task(oracle: str) -> type[PMOTask]:
    name = "pmo-" + oracle.replace("_", "-")
    cls = type(name.title().replace("-", ""), (PMOTask,), {
        "name": name, "oracle_name": oracle, "__module__": __name__,
        "description": f"PMO's {oracle} (GuacaMol definition, as TDC) on fragment molecules"})
    return cls


PMO_TASKS: dict[str, type[PMOTask]] = {cls.name: cls for cls in map(_task, sorted(pmo.ORACLES))}
