"""seh-frag: fragment-based molecules scored by the sEH docking proxy (Bengio et al., 2021).

Raw score r = the proxy's raw output (its prediction of the normalised docking score
4 - (min(0, dock) + 8.6) / 1.1; "score above 7.5" thresholds in the papers are on this
scale). Reward, as in Bengio et al. (2021) (their code: R_min 0.1, reward_norm 8,
reward_exp 10): R = (max(r, 0.1) / 8)^b with b = 10. The TB paper's fragment runs used
smaller exponents; pass ``reward_exponent`` to change b.
"""

from __future__ import annotations

import numpy as np

from molgfn.fragtask import FragmentTask


class SEHFrag(FragmentTask):
    name = "seh-frag"
    description = "sEH docking proxy on fragment molecules (105 blocks, up to 8)"
    reward_exponent = 10.0
    r_max = 1.0
    raw_max = 8.0
    raw_floor = 0.1
    allow_negative = True  # the proxy output can be negative; the floor handles it
    assets = ("seh-frag-blocks", "seh-frag-proxy")
    # plain TB, untuned; chosen "as sehstr", whose plain-TB lead was a log Z artefact (issue 18): to be measured
    design_defaults: dict = {}
    mode_score_threshold = 7.5  # modes: raw proxy > 7.5, pairwise Tanimoto < 0.7 (Bengio et al. 2021)

    def __init__(self, max_blocks: int = 8, vocab: str | None = None, reward_exponent: float | None = None,
                 device: str = "auto", root_weight_transposed: bool = False,
                 filters: str | list[str] | None = None) -> None:
        super().__init__(max_blocks, vocab, reward_exponent, filters)
        self.device, self.root_weight_transposed = device, root_weight_transposed
        self._oracle = None

    @property
    def oracle(self):
        if self._oracle is None:
            from molgfn.chem.seh_proxy import SEHOracle
            from molgfn.config import resolve_device

            self._oracle = SEHOracle(device=resolve_device(self.device),
                                     root_weight_transposed=self.root_weight_transposed)
        return self._oracle

    def raw_scores(self, smiles: list[str]) -> np.ndarray:
        return self.oracle.raw(smiles)
