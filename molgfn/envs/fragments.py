"""Fragment-graph molecule construction (Bengio et al., NeurIPS 2021), vectorised over a batch.

A molecule is a tree of building blocks. Each block of the vocabulary has a SMILES and a
list ``r`` of attachment atoms ("stems"; an atom listed twice can take two bonds). The
first block added is the *root*: all its stems are free. Every later block joins by a
single bond from its atom ``r[0]`` to a free stem of a block already there, and its other
stems ``r[1:]`` become free.

State tensor (one long row of ``3 * max_blocks + 1`` entries; ``M = max_blocks``)::

    [0, M)      block id per slot (-1: empty slot)
    [M, 2M)     parent slot (-1 for the root and empty slots)
    [2M, 3M)    stem of the parent the block hangs on (-1 for the root / empty)
    3M          done flag (1 after the stop action)

Slots are filled in the order blocks are added and compacted when one is removed, so a
parent always sits in a lower slot than its children. Two rows that differ only by a
permutation of slots are the same state; the GNN policy is equivariant to slot order and
every action is addressed by slot, so nothing depends on which representative is stored.

Forward actions (``n_fwd = 1 + V + M*S*V``, V blocks, S the most stems of any block)::

    0                               stop (allowed once the molecule has >= 1 block)
    1 + b                           add block b as the root (empty state only)
    1 + V + (i*S + j)*V + b         attach block b (by its r[0]) at free stem j of slot i

Backward actions (``n_bwd = 2 + M*S``)::

    0                               un-stop (the only backward action of a done state)
    1                               remove the root when it is the only block
    2 + i*S + j                     remove the leaf block hanging on stem j of slot i

The state graph is a DAG whose states are *rooted* stem-labelled trees: the root is part
of the state, and the backward policy may remove any leaf except the root (the root goes
last). With that convention every forward edge (s -> s') is undone by exactly one
backward edge and vice versa: the leaf hanging on stem j of slot i of s' was added by the
action "attach its block at (i, j)" from s (``backward_of`` / ``forward_of``). A rooted
tree with labelled stems has no non-trivial automorphism (every block is named by the
stem path from the root), so distinct forward actions from a state give distinct
children and P_F(s'|s), P_B(s|s') are exact per edge. (Removing the root as a leaf would
break this: a root joined to its only child on both stems 0 would have two backward
edges to the same parent but one forward edge from it.) The same molecule can still be
built as several states (another root, or duplicate blocks): the sampler targets states
with probability proportional to R(molecule), as in the fragment GFlowNet papers.

Size limit (``max_heavy_atoms``, set by a task whose oracle refuses larger molecules, e.g.
xtb-gap's 9): a block may be added only if the molecule's heavy atoms (the sum over its
blocks; joining blocks removes hydrogens only) stay within the limit (``fits``), in
``forward_mask``, ``forward_valid`` and the factorised sampler alike. The size only grows
forwards, so every parent of a state within the limit is within it too: the backward mask
needs no change and P_B stays on the masked space (local search rebuilds with P_F, inside it);
stop stays allowed in every non-empty state, so a terminal state is reachable from every state.

Property bounds (``bounds``, set by a task's rule-of-five filter): the same argument for every
property that only grows as blocks are added and is a sum over blocks (``ADDITIVE``: molecular
weight and Lipinski's acceptor count N + O). A bound is a tuple of (property, limit) pairs; a
molecule is outside it when it exceeds *every* limit of the tuple, which stays true once true:
``(("mol_weight", 500), ("hba", 10))`` removes the molecules with both violations (two of
Lipinski's four: ``lipinski`` rejects them whatever cLogP and HBD are), ``(("mol_weight", 500),)``
every molecule over 500 Da (``ro5-strict``). The weight is a lower bound (each join counted as
removing one hydrogen per side; a bracket atom such as [PH] keeps its hydrogen, 2-4 Da more): the
mask never removes a molecule inside the bound, and the rare one just over it that it lets through
is still rejected by the task's filter.

Blocked blocks (``blocked``): never added, as a root or a child (a fragment task with alert
filters blocks the blocks that carry an alert of their own, ``FragmentTask``). A static mask
on the vocabulary: the same argument as the size limit keeps P_B and local search inside it.

Vocabulary de-duplication: blocks with the same SMILES and the same stem multiset give
the same root, so only the first of them may be added as a root; blocks with the same
SMILES, the same joining atom ``r[0]`` and the same remaining stems give the same child,
so only the first may be attached. Attachments whose molecule fails RDKit sanitisation
were checked for when the vocabulary was loaded (stems that fail are dropped, with a
warning); any terminal molecule that still fails gets the minimum reward and the key
``!invalid:...`` (never a candidate) - it does not happen with the 105-block vocabulary.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import torch
from rdkit import Chem

from ..chem.blocks import kekulized
from ..chem.rdlog import quiet_rdkit

INVALID_PREFIX = "!invalid:"


@dataclass(frozen=True)
class FragmentVocab:
    smiles: tuple[str, ...]
    stems: tuple[tuple[int, ...], ...]  # attachment atoms per block (block_r)
    names: tuple[str, ...] = ()

    @property
    def size(self) -> int:
        return len(self.smiles)

    @property
    def max_stems(self) -> int:
        return max(len(r) for r in self.stems)

    @staticmethod
    def load(path: str | Path, check: bool = True) -> FragmentVocab:
        """Read a vocabulary JSON with dicts ``block_name``, ``block_smi``, ``block_r`` keyed by index."""
        path = Path(path)
        try:
            raw = json.loads(path.read_text())
            smis, rs = raw["block_smi"], raw["block_r"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            from ..errors import InputError

            raise InputError(f"{path}: not a block vocabulary (JSON with block_smi, block_r): {e}") from e
        names = raw.get("block_name", {})
        keys = sorted(smis, key=int)
        vocab = FragmentVocab(tuple(smis[k] for k in keys), tuple(tuple(int(a) for a in rs[k]) for k in keys),
                              tuple(str(names.get(k, smis[k])) for k in keys))
        return vocab.checked() if check else vocab

    def checked(self) -> FragmentVocab:
        """Drop stems whose use makes an invalid molecule (methyl attached at every stem at once)."""
        from ..errors import InputError

        stems = []
        for k, (smi, r) in enumerate(zip(self.smiles, self.stems, strict=True)):
            mol = Chem.MolFromSmiles(smi)
            if mol is None:
                raise InputError(f"block {k} has an invalid SMILES {smi!r}")
            if any(a < 0 or a >= mol.GetNumAtoms() for a in r):
                raise InputError(f"block {k} ({smi}) has attachment atoms {r} outside 0..{mol.GetNumAtoms() - 1}")
            keep = list(r)
            while keep and _attach_methyls(smi, keep) is None:
                keep.pop()
            if len(keep) < len(r):
                warnings.warn(f"block {k} ({smi}): stems {r[len(keep):]} make invalid molecules; dropped",
                              stacklevel=2)
            stems.append(tuple(keep))
        return FragmentVocab(self.smiles, tuple(stems), self.names)

    def subset(self, idx: list[int]) -> FragmentVocab:
        return FragmentVocab(tuple(self.smiles[i] for i in idx), tuple(self.stems[i] for i in idx),
                             tuple(self.names[i] for i in idx) if self.names else ())


def _attach_methyls(smi: str, stems: list[int]) -> Chem.Mol | None:
    rw = Chem.RWMol(kekulized(smi))
    for a in stems:
        c = rw.AddAtom(Chem.Atom(6))
        rw.AddBond(a, c, Chem.BondType.SINGLE)
        _take_h(rw.GetAtomWithIdx(a))
    return _sanitised(rw)


def _take_h(atom) -> None:
    if atom.GetNumExplicitHs() > 0:
        atom.SetNumExplicitHs(atom.GetNumExplicitHs() - 1)


def _sanitised(rw) -> Chem.Mol | None:
    mol = rw.GetMol()
    with quiet_rdkit():
        try:
            Chem.SanitizeMol(mol)
        except Exception:
            return None
    return mol


def build_molecule(vocab: FragmentVocab, blocks, parents, pstems) -> Chem.Mol | None:
    """RDKit molecule of a block tree (lists over filled slots); None when sanitisation fails."""
    if not blocks:
        return None
    rw = Chem.RWMol()
    offsets = []
    for b in blocks:
        offsets.append(rw.GetNumAtoms())
        rw.InsertMol(kekulized(vocab.smiles[b]))
    for c, (p, j) in enumerate(zip(parents, pstems, strict=True)):
        if p < 0:
            continue
        a1 = offsets[p] + vocab.stems[blocks[p]][j]
        a2 = offsets[c] + vocab.stems[blocks[c]][0]
        rw.AddBond(a1, a2, Chem.BondType.SINGLE)
        _take_h(rw.GetAtomWithIdx(a1))
        _take_h(rw.GetAtomWithIdx(a2))
    return _sanitised(rw)


# additive block properties for ``FragmentEnv.bounds``: per block, and the change per join (at most one
# hydrogen of each side becomes the bond); tests/test_size_limit.py checks the sums against RDKit
H_MASS = 1.008  # RDKit's average atomic weight of H, as Descriptors.MolWt uses


def _block_property(name: str, mol: Chem.Mol) -> float:
    from rdkit.Chem import Descriptors, rdMolDescriptors

    if name == "mol_weight":
        return Descriptors.MolWt(mol)
    if name == "hba":
        return float(rdMolDescriptors.CalcNumLipinskiHBA(mol))
    return float(mol.GetNumHeavyAtoms())


ADDITIVE = {"heavy_atoms": 0.0, "mol_weight": -2 * H_MASS, "hba": 0.0}  # property -> change per join


@dataclass(frozen=True)
class FragmentEnv:
    vocab: FragmentVocab
    max_blocks: int = 8
    max_heavy_atoms: int | None = None  # a size limit of the molecule (e.g. an oracle's): see ``fits``
    blocked: tuple[int, ...] = ()  # blocks never added (e.g. blocks whose own alert fails a filter)
    bounds: tuple[tuple[tuple[str, float], ...], ...] = ()  # additive property limits: see the module doc
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.max_blocks < 1:
            raise ValueError("max_blocks must be >= 1")
        V, S = self.vocab.size, self.vocab.max_stems
        nst = torch.tensor([len(r) for r in self.vocab.stems], dtype=torch.long)
        mols = [Chem.MolFromSmiles(smi) for smi in self.vocab.smiles]  # each block parsed once
        heavy = torch.tensor([m.GetNumHeavyAtoms() for m in mols], dtype=torch.long)
        root_ok = torch.zeros(V, dtype=torch.bool)
        child_ok = torch.zeros(V, dtype=torch.bool)
        seen_root, seen_child = set(), set()
        for b, (mol, r) in enumerate(zip(mols, self.vocab.stems, strict=True)):
            canon = Chem.MolToSmiles(mol)
            kr = (canon, tuple(sorted(r)))
            if kr not in seen_root:
                seen_root.add(kr)
                root_ok[b] = True
            if len(r) >= 1:
                kc = (canon, r[0], tuple(sorted(r[1:])))
                if kc not in seen_child:
                    seen_child.add(kc)
                    child_ok[b] = True
        if self.blocked:
            allowed = torch.ones(V, dtype=torch.bool)
            allowed[list(self.blocked)] = False
            root_ok &= allowed
            child_ok &= allowed
            if not bool(root_ok.any()):
                from ..errors import InputError

                raise InputError("every block of the vocabulary is excluded (blocked); nothing can be built")
        if self.max_heavy_atoms is not None:
            root_ok &= heavy <= self.max_heavy_atoms
            if not bool(root_ok.any()):
                from ..errors import InputError

                raise InputError(f"max_heavy_atoms={self.max_heavy_atoms}: every block of the vocabulary has more "
                                 f"heavy atoms (the smallest has {int(heavy.min())}); raise the limit or use "
                                 "smaller blocks")
        bounds = tuple((*self.bounds, (("heavy_atoms", float(self.max_heavy_atoms)),))
                       if self.max_heavy_atoms is not None else self.bounds)
        props = sorted({p for bound in bounds for p, _ in bound})
        unknown = [p for p in props if p not in ADDITIVE]
        if unknown:
            raise ValueError(f"bounds on {unknown}: only additive properties can be bounded ({', '.join(ADDITIVE)})")
        pvals = torch.tensor([[_block_property(p, m) for m in mols] for p in props],
                             dtype=torch.float64).reshape(len(props), V)
        limits = torch.full((len(bounds), max(len(props), 1)), float("inf"), dtype=torch.float64)
        for k, bound in enumerate(bounds):
            for p, lim in bound:
                limits[k, props.index(p)] = float(lim)
        if bounds:  # a root alone outside a bound can never be the start of a molecule inside it
            root_ok &= ~self._outside(pvals.T, limits)
            if not bool(root_ok.any()):
                from ..errors import InputError

                raise InputError(f"every block of the vocabulary alone is beyond the limits {bounds}; nothing can be "
                                 "built: loosen the filter or use smaller blocks")
        self._cache.update(n_stems=nst, root_ok=root_ok, child_ok=child_ok, heavy=heavy, S=S, V=V, smiles={},
                           pvals=pvals, pdelta=torch.tensor([ADDITIVE[p] for p in props], dtype=torch.float64),
                           limits=limits, has_bounds=bool(bounds),
                           blocked=torch.tensor(sorted(self.blocked), dtype=torch.long))

    # -- sizes -------------------------------------------------------------------------
    @property
    def V(self) -> int:
        return self._cache["V"]

    @property
    def S(self) -> int:
        return self._cache["S"]

    @property
    def M(self) -> int:
        return self.max_blocks

    @property
    def n_fwd(self) -> int:
        return 1 + self.V + self.M * self.S * self.V

    @property
    def n_bwd(self) -> int:
        return 2 + self.M * self.S

    @property
    def traj_len(self) -> int:
        return self.max_blocks + 1

    @property
    def state_shape(self) -> tuple[int, ...]:
        return (3 * self.max_blocks + 1,)

    def _const(self, name: str, device) -> torch.Tensor:
        key = (name, str(device))
        t = self._cache.get(key)
        if t is None:
            t = self._cache[name].to(device)
            self._cache[key] = t
        return t

    # -- views -------------------------------------------------------------------------
    def split(self, s: torch.Tensor):
        M = self.M
        return s[:, :M], s[:, M : 2 * M], s[:, 2 * M : 3 * M], s[:, 3 * M]

    def num_blocks(self, s: torch.Tensor) -> torch.Tensor:
        return (s[:, : self.M] >= 0).sum(-1)

    def free_stems(self, s: torch.Tensor) -> torch.Tensor:
        """(B, M, S) bool: stem j of slot i exists and is free."""
        blk, par, pst, _ = self.split(s)
        B, M, S = s.shape[0], self.M, self.S
        exists = blk >= 0
        nonroot = exists & (par >= 0)
        idx = torch.where(nonroot, par * S + pst, M * S)
        occ = torch.zeros(B, M * S + 1, dtype=torch.bool, device=s.device).scatter_(1, idx, True)
        occ = occ[:, : M * S].view(B, M, S).clone()
        occ[:, :, 0] |= nonroot  # a non-root block joins its parent by its stem 0
        nst = self._const("n_stems", s.device)[blk.clamp(min=0)]
        has = (torch.arange(S, device=s.device)[None, None] < nst[..., None]) & exists[..., None]
        return has & ~occ

    def leaves(self, s: torch.Tensor) -> torch.Tensor:
        """(B, M) bool: non-root blocks without children (removable when not done)."""
        blk, par, _, _ = self.split(s)
        nonroot = (blk >= 0) & (par >= 0)
        idx = torch.where(nonroot, par, self.M)
        has_child = torch.zeros(s.shape[0], self.M + 1, dtype=torch.bool, device=s.device).scatter_(1, idx, True)
        return nonroot & ~has_child[:, : self.M]

    def heavy_atoms(self, s: torch.Tensor) -> torch.Tensor:
        """(B,) heavy atoms of each state's molecule: the sum over its blocks (joining blocks by a bond
        removes hydrogens only)."""
        blk = s[:, : self.M]
        return (self._const("heavy", s.device)[blk.clamp(min=0)] * (blk >= 0)).sum(-1)

    @staticmethod
    def _outside(values: torch.Tensor, limits: torch.Tensor) -> torch.Tensor:
        """(..., P) property values, (K, P) limits (inf: not part of that bound) -> (...) bool: outside
        some bound, i.e. above every finite limit of one of its rows."""
        over = (values[..., None, :] > limits) | torch.isinf(limits)
        return over.all(-1).any(-1)

    def properties(self, s: torch.Tensor) -> torch.Tensor:
        """(B, P) the bounded additive properties of each state's molecule (``ADDITIVE``): the sum over
        its blocks plus the change per join, one join per block after the first."""
        blk = s[:, : self.M]
        vals = self._const("pvals", s.device)[:, blk.clamp(min=0)] * (blk >= 0)  # (P, B, M)
        joins = ((blk >= 0).sum(-1) - 1).clamp(min=0).to(torch.float64)
        return vals.sum(-1).T + joins[:, None] * self._const("pdelta", s.device)[None]

    def fits(self, s: torch.Tensor) -> torch.Tensor | None:
        """(B, V) bool: block b may be added to state s without leaving a bound (``max_heavy_atoms``,
        ``bounds``); None without one. The properties only grow forwards, so every state reachable
        under this mask is inside the bounds, every parent of such a state is too (P_B needs no extra
        mask) and stop stays allowed in every non-empty state: a terminal state is always reachable."""
        if not self._cache["has_bounds"]:
            return None
        joins = (self.num_blocks(s) >= 1).to(torch.float64)[:, None, None]  # the root itself joins nothing
        after = (self.properties(s)[:, None, :] + self._const("pvals", s.device).T[None]
                 + joins * self._const("pdelta", s.device)[None, None])
        return ~self._outside(after, self._const("limits", s.device))

    def within_limits(self, s: torch.Tensor) -> torch.Tensor:
        """(B,) bool: the state is inside the masked space (within the bounds, no blocked block); the
        trainer drops replay objects of a run logged before a mask was set, which it can no longer reach."""
        ok = torch.ones(s.shape[0], dtype=torch.bool, device=s.device)
        if self.blocked:
            ok &= ~torch.isin(s[:, : self.M], self._const("blocked", s.device)).any(1)
        if self._cache["has_bounds"]:
            ok &= ~self._outside(self.properties(s), self._const("limits", s.device))
        return ok

    # -- dynamics ----------------------------------------------------------------------
    def initial(self, n: int, device: torch.device | str = "cpu") -> torch.Tensor:
        s = torch.full((n, 3 * self.M + 1), -1, dtype=torch.long, device=device)
        s[:, -1] = 0
        return s

    def forward_mask(self, s: torch.Tensor) -> torch.Tensor:
        blk, _, _, done = self.split(s)
        n = self.num_blocks(s)
        live = done == 0
        stop = live & (n >= 1)
        first = (live & (n == 0))[:, None] & self._const("root_ok", s.device)[None]
        grow = (live & (n < self.M))[:, None, None, None]
        attach = grow & self.free_stems(s)[..., None] & self._const("child_ok", s.device)[None, None, None]
        fits = self.fits(s)
        if fits is not None:
            attach = attach & fits[:, None, None, :]
        return torch.cat([stop[:, None], first, attach.flatten(1)], dim=1)

    def backward_mask(self, s: torch.Tensor) -> torch.Tensor:
        _, par, pst, done = self.split(s)
        n = self.num_blocks(s)
        live = done == 0
        unstop = done == 1
        lone = live & (n == 1)
        leaf = self.leaves(s) & live[:, None]
        idx = torch.where(leaf, par * self.S + pst, self.M * self.S)
        rm = torch.zeros(s.shape[0], self.M * self.S + 1, dtype=torch.bool, device=s.device).scatter_(1, idx, True)
        return torch.cat([unstop[:, None], lone[:, None], rm[:, : self.M * self.S]], dim=1)

    def forward_valid(self, s: torch.Tensor, a: torch.Tensor, n=None, decoded=None) -> torch.Tensor:
        """forward_mask(s)[r, a[r]] per row, without building the (B, n_fwd) mask."""
        M, V, S = self.M, self.V, self.S
        n = self.num_blocks(s) if n is None else n
        i, j, b = self._decode_attach(a) if decoded is None else decoded
        live = s[:, -1] == 0
        first = (n == 0) & (a >= 1) & (a <= V) & self._const("root_ok", s.device)[(a - 1).clamp(0, V - 1)]
        free = self.free_stems(s).view(-1, M * S).gather(1, (i * S + j).clamp(0, M * S - 1)[:, None])[:, 0]
        attach = (a > V) & (a < self.n_fwd) & (n < M) & free & self._const("child_ok", s.device)[b]
        fits = self.fits(s)
        if fits is not None:
            attach = attach & fits.gather(1, b[:, None])[:, 0]
        return live & torch.where(a == 0, n >= 1, first | attach)

    def _decode_attach(self, a: torch.Tensor):
        att = (a - 1 - self.V).clamp(min=0)
        b = att % self.V
        ij = att // self.V
        return ij // self.S, ij % self.S, b

    def step(self, s: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        """Apply forward actions; invalid ones (e.g. from done states) leave the state unchanged."""
        M, V = self.M, self.V
        n = self.num_blocks(s)
        is_stop = a == 0
        is_first = (a >= 1) & (a <= V)
        i, j, b = self._decode_attach(a)
        valid = self.forward_valid(s, a, n, (i, j, b))
        newblk = torch.where(is_first, a - 1, b)
        newpar = torch.where(is_first, torch.full_like(i, -1), i)
        newpst = torch.where(is_first, torch.full_like(j, -1), j)
        slot = n.clamp(max=M - 1)[:, None]
        grown = s.clone()
        grown.scatter_(1, slot, newblk[:, None])
        grown.scatter_(1, slot + M, newpar[:, None])
        grown.scatter_(1, slot + 2 * M, newpst[:, None])
        stopped = s.clone()
        stopped[:, -1] = 1
        out = torch.where(is_stop[:, None], stopped, grown)
        return torch.where(valid[:, None], out, s)

    def _child_at(self, s: torch.Tensor, i: torch.Tensor, j: torch.Tensor) -> torch.Tensor:
        blk, par, pst, _ = self.split(s)
        match = (blk >= 0) & (par == i[:, None]) & (pst == j[:, None])
        return match.int().argmax(1)

    def backward_step(self, s: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Apply backward actions; invalid ones (e.g. from s_0) leave the state unchanged."""
        M, S = self.M, self.S
        valid = self.backward_mask(s).gather(1, b[:, None].clamp(0, self.n_bwd - 1))[:, 0]
        rm = (b - 2).clamp(min=0)
        c = torch.where(b == 1, torch.zeros_like(b), self._child_at(s, rm // S, rm % S))
        blk, par, pst, _ = self.split(s)
        k = torch.arange(M, device=s.device)[None]
        src = (k + (k >= c[:, None]).long()).clamp(max=M - 1)
        last = k == M - 1
        nblk = blk.gather(1, src).masked_fill(last, -1)
        npar = par.gather(1, src).masked_fill(last, -1)
        npst = pst.gather(1, src).masked_fill(last, -1)
        npar = npar - (npar > c[:, None]).long()
        removed = torch.cat([nblk, npar, npst, s[:, -1:]], dim=1)
        unstopped = s.clone()
        unstopped[:, -1] = 0
        out = torch.where((b == 0)[:, None], unstopped, removed)
        return torch.where(valid[:, None], out, s)

    def backward_of(self, fwd_actions: torch.Tensor) -> torch.Tensor:
        """The backward action that undoes each forward action."""
        a = fwd_actions
        V = self.V
        attach = 2 + ((a - 1 - V).clamp(min=0) // V)
        return torch.where(a == 0, 0, torch.where(a <= V, 1, attach)).clamp(max=self.n_bwd - 1)

    def forward_of(self, s_after: torch.Tensor, bactions: torch.Tensor) -> torch.Tensor:
        """The forward action undone by each backward action applied to ``s_after``."""
        S, V = self.S, self.V
        blk = s_after[:, : self.M]
        rm = (bactions - 2).clamp(min=0)
        i, j = rm // S, rm % S
        c = self._child_at(s_after, i, j)
        i_before = i - (i > c).long()  # slot of the parent once the child is removed and slots compacted
        child_blk = blk.gather(1, c[:, None])[:, 0].clamp(min=0)
        attach = 1 + V + (i_before * S + j) * V + child_blk
        lone = 1 + blk[:, 0].clamp(min=0)
        out = torch.where(bactions == 0, 0, torch.where(bactions == 1, lone, attach))
        return out.clamp(0, self.n_fwd - 1)

    # -- encodings ---------------------------------------------------------------------
    def encode(self, s: torch.Tensor) -> torch.Tensor:
        """The GNN policy reads the state tensor itself."""
        return s

    def make_policy(self, cfg, n_prefs: int = 0):
        """The trainer's hook: fragment tasks train the graph-transformer policy (``n_prefs``: with preferences)."""
        from ..gnn import FragmentGNNPolicy
        from ..objectives import needs_flow_head

        return FragmentGNNPolicy(self, hidden=cfg.hidden, n_layers=cfg.n_layers, conditioning=cfg.conditioning,
                                 flow_head=needs_flow_head(cfg.objective), uniform_pb=cfg.uniform_pb,
                                 n_prefs=n_prefs)

    def tree_key(self, row: list[int]) -> tuple:
        """Slot-order independent key of one state row (a rooted stem-labelled tree, + done)."""
        M = self.M
        blk, par, pst = row[:M], row[M : 2 * M], row[2 * M : 3 * M]
        children: dict[int, list[int]] = {}
        root = -1
        for c in range(M):
            if blk[c] < 0:
                continue
            if par[c] < 0:
                root = c
            else:
                children.setdefault(par[c], []).append(c)

        def canon(v: int) -> tuple:
            return (blk[v], tuple(sorted((pst[c], canon(c)) for c in children.get(v, ()))))

        return (canon(root) if root >= 0 else (), row[-1])

    def molecule(self, row: list[int]) -> Chem.Mol | None:
        M = self.M
        filled = [c for c in range(M) if row[c] >= 0]
        return build_molecule(self.vocab, [row[c] for c in filled], [row[M + c] for c in filled],
                              [row[2 * M + c] for c in filled])

    def smiles_of_row(self, row: list[int]) -> str:
        M = self.M
        key = tuple(row[: 3 * M])
        cache = self._cache["smiles"]
        out = cache.get(key)
        if out is None:
            if row[0] < 0:
                out = ""
            else:
                mol = self.molecule(row)
                out = Chem.MolToSmiles(mol) if mol is not None else INVALID_PREFIX + repr(self.tree_key(row)[0])
            if len(cache) > 500_000:
                cache.clear()
            cache[key] = out
        return out

    def to_strings(self, s: torch.Tensor) -> list[str]:
        """Canonical SMILES of each state's molecule ('' for the empty state); the object key."""
        return [self.smiles_of_row(r) for r in s.tolist()]

    def molecules(self, s: torch.Tensor) -> list[Chem.Mol | None]:
        return [self.molecule(r) for r in s.tolist()]


def load_vocab(path: str | Path | None = None, data_dir=None) -> FragmentVocab:
    """The seh-frag-blocks vocabulary (105 blocks) or a user's JSON in the same format."""
    if path is None:
        from ..assets import resolve

        path = resolve("seh-frag-blocks", data_dir)
    return _load_vocab_cached(str(path))


@lru_cache(maxsize=8)
def _load_vocab_cached(path: str) -> FragmentVocab:
    return FragmentVocab.load(path)
