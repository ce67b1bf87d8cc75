"""The fragment task interface: molecules built from blocks (``FragmentEnv``), scored on SMILES.

A plugin states its raw-score oracle on canonical SMILES and its reward transform

    R(x) = R_max * (max(r(x), raw_floor) / raw_max)^b

(b the reward exponent). The object key of a state is the canonical SMILES of its
molecule (``FragmentEnv.to_strings``), so the candidate table, the seen-object counts
and the replay buffer all work on distinct molecules. A state whose molecule fails
sanitisation (impossible with a checked vocabulary) gets raw = raw_floor, the minimum
reward, and is never listed as a candidate (``is_candidate``).

Filters as design constraints (``filters``, e.g. ``("pains", "brenk", "lipinski")``; see
``molgfn.chem.descriptors``): a molecule that fails one is treated like an invalid one: it
gets raw = raw_floor without an oracle call and is never a candidate. Filters are checked
cheapest first and the check stops at the first failure, so each filtered reward call is
counted once, under the filter that rejected it (``filter_counts``, in the checkpoint; the
total is ``filtered`` in metrics.csv).

With alert filters (pains, brenk, reactive) the environment also masks the blocks that carry
an alert of their own, in every context tried (``alert_blocks``): every molecule holding one
would be rejected, so the sampler never spends a reward call on it. With the rule-of-five filters
(lipinski, ro5-strict) it masks the additions that would break their growing limits (MW > 500,
N + O > 10: ``rule_bounds``). cLogP, HBD, Veber's rules and alerts that depend on what is attached
are checked on the finished molecule only.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import torch

from .envs.fragments import INVALID_PREFIX, FragmentEnv, load_vocab
from .task import Task

# what an attachment can put next to a block: nothing (H), alkyl, aryl, amine, hydroxyl, carbonyl
ALERT_CONTEXTS = ("C", "c1ccccc1", "N", "O", "C=O")


def _with_probe(smi: str, stems, probe: str):
    """The block with a copy of ``probe`` (joined by its atom 0) on every stem; None if it does not sanitise."""
    from rdkit import Chem

    from .chem.blocks import kekulized
    from .envs.fragments import _sanitised, _take_h

    rw = Chem.RWMol(kekulized(smi))
    for a in stems:
        at = rw.GetNumAtoms()
        rw.InsertMol(kekulized(probe))
        rw.AddBond(a, at, Chem.BondType.SINGLE)
        _take_h(rw.GetAtomWithIdx(a))
        _take_h(rw.GetAtomWithIdx(at))
    return _sanitised(rw)


@lru_cache(maxsize=16)
def alert_blocks(vocab, filters: tuple[str, ...]) -> tuple[int, ...]:
    """Blocks that carry an alert of the alert filters among ``filters`` (pains, brenk, reactive) of their
    own: the same alert matches the bare block (stems capped by hydrogen) and the block with each of
    ``ALERT_CONTEXTS`` on every stem. A molecule holding such a block fails the filter whatever is
    attached to it: a check of six contexts, not a proof for every one, measured on random molecules
    (tests/test_size_limit.py; bench/CHEM.md). Alerts that a neighbour can remove (an isolated alkene next
    to an aryl, a thiol capped by the attachment) are left to the filter at the end."""
    from rdkit import Chem

    from .chem.descriptors import _catalogs

    cats = [c for f, c in _catalogs().items() if f in filters]
    if not cats:
        return ()
    out = []
    for b, (smi, r) in enumerate(zip(vocab.smiles, vocab.stems, strict=True)):
        mols = [Chem.MolFromSmiles(smi)] + [_with_probe(smi, r, p) for p in ALERT_CONTEXTS]
        if any(m is None for m in mols):
            continue
        for cat in cats:
            common = set.intersection(*({e.GetDescription() for e in cat.GetMatches(m)} for m in mols))
            if common:
                out.append(b)
                break
    return tuple(out)


def rule_bounds(filters: tuple[str, ...]) -> tuple[tuple[tuple[str, float], ...], ...]:
    """``FragmentEnv.bounds`` for the rule-of-five filters: the two of Lipinski's rules whose
    property only grows as blocks are added (MW > 500, N + O > 10). ``lipinski`` allows one
    violation, so only both together are masked; ``ro5-strict`` allows none, so each is. cLogP
    and HBD can fall when a block is added and stay the filter's to check on the finished molecule."""
    from .chem.descriptors import RO5_LIMITS

    mw, hba = ("mol_weight", float(RO5_LIMITS["mol_weight"])), ("hba", float(RO5_LIMITS["hba"]))
    if "ro5-strict" in filters:
        return ((mw,), (hba,))
    if "lipinski" in filters:
        return ((mw, hba),)
    return ()


class FragmentTask(Task):
    name: str = "fragment"
    kind: str = "fragment"
    r_max: float = 1.0
    assets: tuple[str, ...] = ("seh-frag-blocks",)
    object_column: str = "smiles"
    space: str = "block trees (105 blocks, <= 8)"
    # a subclass whose failed_filters rejects more than --filter (a scoring file's forbidden substructures)
    constrained: bool = False
    # a size limit in the environment (``FragmentEnv.max_heavy_atoms``): actions that would pass it are
    # masked, so no reward call goes to a molecule the oracle refuses for its size (xtb-gap: 9)
    max_heavy_atoms: int | None = None
    # with alert filters, blocks whose own alert fails them are masked (``alert_blocks``), and with the
    # rule-of-five filters the molecules over their growing limits (``rule_bounds``), so the sampler never
    # spends reward calls on molecules they would make (bench/CHEM.md measures the effect)
    mask_alert_blocks: bool = True

    def __init__(self, max_blocks: int = 8, vocab: str | None = None, reward_exponent: float | None = None,
                 filters: str | list[str] | None = None, max_heavy_atoms: int | None = None) -> None:
        from .chem.descriptors import parse_filters
        from .limits import MAX_BLOCKS, check_ranges

        check_ranges(("max_blocks", max_blocks, 1, MAX_BLOCKS))
        self.filters = parse_filters(filters)
        self._failed: dict[str, tuple[str, ...]] = {}  # SMILES -> filters it fails (cache)
        self.filter_counts: dict[str, int] = {"filtered": 0} | {f: 0 for f in self.filters}
        if reward_exponent is not None:
            self.reward_exponent = float(reward_exponent)
        if vocab is not None:
            self.assets = tuple(a for a in self.assets if a != "seh-frag-blocks")
        if max_heavy_atoms is not None:
            check_ranges(("max_heavy_atoms", max_heavy_atoms, 1, None))
            self.max_heavy_atoms = int(max_heavy_atoms)
        self._vocab, self._max_blocks = vocab, int(max_blocks)
        self._env: FragmentEnv | None = None
        if vocab is not None:  # the user's file is read now (cached): a bad one fails before anything is written
            load_vocab(vocab)
        self.reward_calls = 0
        self.num_blocks: dict[str, int] = {}  # SMILES -> blocks of the state it was first seen as

    @property
    def env(self) -> FragmentEnv:
        """The block environment, built on first use: scoring molecules given as SMILES (``molgfn score``)
        needs neither it nor its vocabulary asset."""
        if self._env is None:
            blocks = load_vocab(self._vocab)
            blocked = alert_blocks(blocks, self.filters) if self.mask_alert_blocks else ()
            bounds = rule_bounds(self.filters) if self.mask_alert_blocks else ()
            self._env = FragmentEnv(blocks, self._max_blocks, self.max_heavy_atoms, blocked, bounds)
        return self._env

    @env.setter
    def env(self, env: FragmentEnv) -> None:  # a plugin may build its own environment
        self._env = env

    # -- the oracle ------------------------------------------------------------------------
    def raw_scores(self, smiles: list[str]) -> Sequence[float]:
        """Raw score r(x) of each (valid, canonical) SMILES. Plugins override this."""
        raise NotImplementedError

    def score_smiles(self, smiles: list[str]) -> np.ndarray:
        from .oracle import call_oracle

        return call_oracle(self.name, self.raw_scores, smiles, self.allow_negative)

    def score_tokens(self, states: torch.Tensor) -> torch.Tensor:
        """Raw scores of a batch of states (float64), without counting reward calls."""
        calls = self.reward_calls
        raw, _ = self.evaluate(states)
        self.reward_calls = calls
        return raw

    def evaluate(self, states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(raw, log R) for a batch of states; counts reward calls (the oracle budget)."""
        smiles = self.env.to_strings(states)
        nb = self.env.num_blocks(states).tolist()
        raw = np.full(len(smiles), self.raw_floor, dtype=np.float64)
        ok = [i for i, s in enumerate(smiles) if self.is_valid(s)]
        if (self.filters or self.constrained) and ok:  # failing molecules keep the floor, with no oracle call
            failed = self.failed_filters([smiles[i] for i in ok])
            for fs in failed:
                for f in fs:
                    self.filter_counts[f] = self.filter_counts.get(f, 0) + 1
                self.filter_counts["filtered"] += bool(fs)
            ok = [i for i, fs in zip(ok, failed, strict=True) if not fs]
        if ok:
            uniq = list(dict.fromkeys(smiles[i] for i in ok))
            vals = dict(zip(uniq, self.score_smiles(uniq).tolist(), strict=True))
            raw[ok] = [vals[smiles[i]] for i in ok]
        for s, n in zip(smiles, nb, strict=True):
            self.num_blocks.setdefault(s, n)
        self.reward_calls += len(smiles)
        raw_t = torch.from_numpy(raw)
        return raw_t, self.log_reward(raw_t)

    # -- hooks used by the trainer, candidates and the CLI ---------------------------------
    @staticmethod
    def is_valid(obj: str) -> bool:
        """A complete, sanitisable molecule (filters aside)."""
        return bool(obj) and not obj.startswith(INVALID_PREFIX)

    def is_candidate(self, obj: str) -> bool:
        """Valid and passing every filter: may be listed in candidates."""
        return self.is_valid(obj) and not ((self.filters or self.constrained) and self.failed_filters([obj])[0])

    def failed_filters(self, smiles: list[str]) -> list[tuple[str, ...]]:
        """The first filter each (valid) SMILES fails, or (); each distinct SMILES is checked once."""
        from .chem.descriptors import failed_filters, mol_from_smiles

        out: dict[str, tuple[str, ...]] = {}
        for s in dict.fromkeys(smiles):
            r = self._failed.get(s)
            if r is None:
                mol = mol_from_smiles(s)
                r = failed_filters(mol, self.filters, first_only=True) if mol is not None else ("unparsable",)
                if len(self._failed) >= 500_000:  # bound the cache on very long runs
                    self._failed.clear()
                self._failed[s] = r
            out[s] = r
        return [out[s] for s in smiles]

    def round_metrics(self) -> dict:
        """Columns for metrics.csv: reward calls spent on filtered molecules so far."""
        return {"filtered": self.filter_counts["filtered"]} if self.filters or self.constrained else {}

    def extra_columns(self, objs: list[str]) -> dict[str, list]:
        """Per-molecule columns for candidates.csv: the number of blocks. QED, molecular weight and
        the other RDKit descriptors are added once per molecule by ``molgfn.chem.descriptors``."""
        return {"num_blocks": [self.num_blocks.get(s, float("nan")) for s in objs]}

    def state_dict(self) -> dict:
        return {"num_blocks": dict(self.num_blocks), "filter_counts": dict(self.filter_counts)}

    def load_state_dict(self, state: dict) -> None:
        self.num_blocks.update(state.get("num_blocks", {}))
        self.filter_counts.update(state.get("filter_counts", {}))

    def score_table(self, smiles: list[str], row_offset: int = 1):
        """Score user molecules (SMILES, any form): canonical SMILES, raw score, reward and the
        descriptor columns of ``molgfn.chem.descriptors``. Unparsable SMILES raise ``InputError`` naming their rows."""
        import pandas as pd
        from rdkit import Chem

        from .chem.rdlog import quiet_rdkit
        from .errors import InputError
        from .limits import smiles_errors

        errors = smiles_errors(smiles)  # unparsable, or larger than molgfn.limits.MAX_ATOMS
        bad = [(i, s, e) for i, (s, e) in enumerate(zip(smiles, errors, strict=True)) if e]
        if bad:
            shown = "; ".join(f"row {i + row_offset}: {s[:60]!r} ({e})" for i, s, e in bad[:10])
            raise InputError(f"{len(bad)} invalid SMILES for task {self.name}: {shown}")
        with quiet_rdkit():
            mols = [Chem.MolFromSmiles(s) for s in smiles]
        canon = [Chem.MolToSmiles(m) for m in mols]
        raw = self.score_smiles(canon)
        df = pd.DataFrame({"input": smiles, "smiles": canon, "raw_score": raw,
                           "reward": torch.exp(self.log_reward(torch.from_numpy(raw))).numpy()})
        from .chem.descriptors import add_descriptors

        return add_descriptors(df)  # num_blocks is unknown for molecules not built from blocks
