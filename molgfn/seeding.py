"""Known molecules as fragment trees of a vocabulary (``--seed-molecules``).

A molecule is expressible in a fragment environment when it splits into blocks of the
vocabulary joined at their attachment points: blocks join by single bonds that are in no ring,
so the molecule is cut into *units* (the pieces left when every acyclic single bond is cut),
and a decomposition groups connected units into pieces that are blocks. The search (largest
pieces first, a bounded number of steps) takes a piece when its SMILES, hydrogens where its
cuts are, is a block's; then, for some choice of root piece, every piece needs a block whose
attachment atoms cover its cuts - for a non-root piece, ``r[0]`` on the cut towards its parent
(``molgfn.envs.fragments`` grows trees that way). The tree becomes a done state row (parents in
lower slots, breadth-first), whose molecule is checked to be the input's (canonical SMILES,
stereochemistry removed: blocks carry none).

The trainer scores the seeds in its first round (reward calls like any other), puts them in
the replay buffer (their trajectories come from the backward policy, as for any replayed
object) and, with local search, starts its first round's chains from them.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from pathlib import Path

import torch
from rdkit import Chem

from .chem.blocks import kekulized
from .chem.fragmentation import prepare
from .envs.fragments import _sanitised, _take_h

SEARCH_STEPS = 20_000  # pieces tried per molecule before the search gives up


@dataclass
class Decomposition:
    smiles: str  # as given
    canonical: str = ""  # canonical SMILES (largest component, no stereo), '' when unparsable
    row: list[int] | None = None  # the done state, when expressible
    reason: str = ""  # why not, when not
    notes: tuple[str, ...] = ()


class _Index:
    """A vocabulary's blocks by the SMILES of the block with a dummy atom on each stem in use (the parent's
    marked), for every set of stems in use, as the environment joins them; roots and children as it allows."""

    def __init__(self, env) -> None:
        from itertools import combinations

        self.env = env
        vocab = env.vocab
        root_ok, child_ok = env._cache["root_ok"].tolist(), env._cache["child_ok"].tolist()
        self.roles: dict[str, tuple[int, tuple[int, ...], int | None]] = {}  # key -> (block, stems, parent)
        self.plain: set[str] = set()  # the same keys with no dummy marked: a piece worth trying
        self.sizes: set[int] = set()
        for b, (smi, stems) in enumerate(zip(vocab.smiles, vocab.stems, strict=True)):
            if not (root_ok[b] or child_ok[b]):
                continue
            self.sizes.add(kekulized(smi).GetNumAtoms())
            n = len(stems)
            uses = []
            if root_ok[b]:
                uses += [(c, None) for k in range(n + 1) for c in combinations(range(n), k)]
            if child_ok[b] and n:
                uses += [((0, *c), 0) for k in range(n) for c in combinations(range(1, n), k)]
            for used, parent in uses:
                key = _smiles(_block_with_dummies(smi, stems, used, parent))
                if key is not None:
                    self.roles.setdefault(key, (b, used, parent))
                    self.plain.add(key if parent is None else _smiles(_block_with_dummies(smi, stems, used, None)))
        self.max_atoms = max(self.sizes) if self.sizes else 0


def _smiles(mol: Chem.Mol | None) -> str | None:
    return None if mol is None else Chem.MolToSmiles(mol)


def _block_with_dummies(smi: str, stems: tuple[int, ...], used, parent) -> Chem.Mol | None:
    """Block ``smi`` with a dummy atom bonded at each stem index in ``used`` (isotope 1 on the parent's),
    hydrogens taken as ``FragmentEnv`` takes them."""
    rw = Chem.RWMol(kekulized(smi))
    for j in used:
        d = rw.AddAtom(Chem.Atom(0))
        rw.GetAtomWithIdx(d).SetIsotope(1 if j == parent else 0)
        rw.AddBond(stems[j], d, Chem.BondType.SINGLE)
        _take_h(rw.GetAtomWithIdx(stems[j]))
    return _sanitised(rw)


def _piece_with_dummies(mol: Chem.Mol, atoms: list[int], cuts: list[tuple[int, int]], parent: int | None = None):
    """The atoms of ``mol`` with a dummy atom for each cut (my atom, atom across); isotope 1 on cut ``parent``."""
    rw = Chem.RWMol()
    pos = {}
    for a in atoms:
        pos[a] = rw.AddAtom(Chem.Atom(mol.GetAtomWithIdx(a)))
    inside = set(atoms)
    for a in atoms:
        for bond in mol.GetAtomWithIdx(a).GetBonds():
            o = bond.GetOtherAtomIdx(a)
            if o in inside and a < o:
                rw.AddBond(pos[a], pos[o], bond.GetBondType())
                rw.GetBondBetweenAtoms(pos[a], pos[o]).SetIsAromatic(bond.GetIsAromatic())
    dummies = []
    for k, (mine, _) in enumerate(cuts):
        d = rw.AddAtom(Chem.Atom(0))
        rw.GetAtomWithIdx(d).SetIsotope(1 if k == parent else 0)
        rw.AddBond(pos[mine], d, Chem.BondType.SINGLE)
        dummies.append(d)
    return _sanitised(rw), dummies


def _units(mol: Chem.Mol) -> tuple[list[int], list[tuple[int, int]], dict[tuple[int, int], int]]:
    """unit of each atom, unit tree edges, and the bond index joining two units."""
    cuttable = [b.GetIdx() for b in mol.GetBonds() if b.GetBondType() == Chem.BondType.SINGLE and not b.IsInRing()]
    unit = [-1] * mol.GetNumAtoms()
    cut = set(cuttable)
    u = 0
    for start in range(mol.GetNumAtoms()):
        if unit[start] >= 0:
            continue
        stack = [start]
        unit[start] = u
        while stack:
            a = stack.pop()
            for bond in mol.GetAtomWithIdx(a).GetBonds():
                if bond.GetIdx() in cut:
                    continue
                o = bond.GetOtherAtomIdx(a)
                if unit[o] < 0:
                    unit[o] = u
                    stack.append(o)
        u += 1
    joins = {}
    for b in cuttable:
        bond = mol.GetBondWithIdx(b)
        x, y = unit[bond.GetBeginAtomIdx()], unit[bond.GetEndAtomIdx()]
        joins[(x, y)] = joins[(y, x)] = b
    edges = [(x, y) for (x, y) in joins if x < y]
    return unit, edges, joins


class _Search:
    def __init__(self, mol: Chem.Mol, index: _Index, max_blocks: int, steps: int = SEARCH_STEPS) -> None:
        self.mol, self.index, self.max_blocks, self.steps = mol, index, max_blocks, steps
        self.unit, edges, self.joins = _units(mol)
        self.n_units = max(self.unit) + 1
        self.atoms_of = [[] for _ in range(self.n_units)]
        for a, u in enumerate(self.unit):
            self.atoms_of[u].append(a)
        self.adj: list[list[int]] = [[] for _ in range(self.n_units)]
        for x, y in edges:
            self.adj[x].append(y)
            self.adj[y].append(x)
        # the unit tree rooted at unit 0, breadth-first
        self.parent = [-1] * self.n_units
        self.order = [0]
        seen = {0}
        q = deque([0])
        while q:
            x = q.popleft()
            for y in sorted(self.adj[x]):
                if y not in seen:
                    seen.add(y)
                    self.parent[y] = x
                    self.order.append(y)
                    q.append(y)
        self.children = [[y for y in self.adj[x] if self.parent[y] == x] for x in range(self.n_units)]
        self._piece: dict[frozenset, str | None] = {}
        self.used = 0
        self.fewest = None  # fewest pieces of a partition found (all too many / incompatible)
        self.incompatible: str = ""

    # -- pieces ----------------------------------------------------------------------------
    def cuts_of(self, units: frozenset) -> tuple[list[int], list[tuple[int, int]]]:
        """Atoms of these units and their cuts (my atom, atom across), in a fixed order."""
        atoms = sorted(a for u in units for a in self.atoms_of[u])
        cuts = []
        for u in sorted(units):
            for v in self.adj[u]:
                if v not in units:
                    bond = self.mol.GetBondWithIdx(self.joins[(u, v)])
                    x, y = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
                    cuts.append((x, y) if self.unit[x] == u else (y, x))
        return atoms, cuts

    def piece(self, units: frozenset) -> str | None:
        """The piece's SMILES (a dummy atom at each cut) when it is a block's with some stems in use."""
        if units in self._piece:
            return self._piece[units]
        self.used += 1
        atoms, cuts = self.cuts_of(units)
        out = None
        if len(atoms) in self.index.sizes:
            key = _smiles(_piece_with_dummies(self.mol, atoms, cuts)[0])
            if key in self.index.plain:
                out = key
        self._piece[units] = out
        return out

    def sets_down(self, top: int, free: set[int]):
        """Connected sets of free units that contain ``top`` and lie in its subtree, largest first."""
        limit = self.index.max_atoms
        found = []

        def grow(cur: list[int], frontier: list[int], size: int) -> None:
            if not frontier:
                found.append(frozenset(cur))
                return
            y, rest = frontier[0], frontier[1:]
            if size + len(self.atoms_of[y]) <= limit:
                grow(cur + [y], rest + [c for c in self.children[y] if c in free], size + len(self.atoms_of[y]))
            grow(cur, rest, size)

        if len(self.atoms_of[top]) <= limit:
            grow([top], [c for c in self.children[top] if c in free], len(self.atoms_of[top]))
        found.sort(key=lambda s: -sum(len(self.atoms_of[u]) for u in s))
        return found

    def coverable(self) -> int | None:
        """A unit no block can hold (no matching connected set contains it), else None."""
        limit = self.index.max_atoms
        covered: set[int] = set()
        for top in range(self.n_units):
            if top in covered:
                continue
            ok = False
            stack = [(frozenset([top]), len(self.atoms_of[top]))]
            seen = set()
            while stack and not ok and self.used < self.steps:
                s, size = stack.pop()
                if s in seen or size > limit:
                    continue
                seen.add(s)
                if self.piece(s) is not None:
                    covered |= s
                    ok = True
                    break
                for u in s:
                    for v in self.adj[u]:
                        if v not in s:
                            stack.append((s | {v}, size + len(self.atoms_of[v])))
            if not ok and self.used < self.steps:
                return top
        return None

    # -- partitions ------------------------------------------------------------------------
    def partitions(self):
        free = set(range(self.n_units))
        chosen: list[frozenset] = []
        dead: set[tuple[frozenset, int]] = set()  # units no pieces cover within the blocks left (any prefix)

        def rec():
            if self.used >= self.steps:
                return
            if not free:
                yield list(chosen)
                return
            if len(chosen) >= self.max_blocks:
                self.fewest = len(chosen) + 1 if self.fewest is None else min(self.fewest, len(chosen) + 1)
                return
            state = (frozenset(free), len(chosen))
            if state in dead:
                return
            found = False
            top = next(u for u in self.order if u in free)
            for s in self.sets_down(top, free):
                if self.piece(s) is None:
                    continue
                chosen.append(s)
                free.difference_update(s)
                for parts in rec():
                    found = True
                    yield parts
                free.update(s)
                chosen.pop()
            if not found and self.used < self.steps:
                dead.add(state)

        yield from rec()

    # -- a partition as a state -------------------------------------------------------------
    def tree(self, parts: list[frozenset]) -> list[int] | None:
        where = {u: k for k, part in enumerate(parts) for u in part}
        cuts = [self.cuts_of(part)[1] for part in parts]
        for root in range(len(parts)):
            row = self._rooted(parts, cuts, where, root)
            if row is not None:
                return row
        return None

    def _rooted(self, parts, cuts, where, root: int) -> list[int] | None:
        M = self.max_blocks
        slot_of = {root: 0}
        order = [root]
        up: dict[int, tuple[int, int] | None] = {root: None}  # piece -> (parent piece, index of my cut to it)
        q = deque([root])
        while q:
            k = q.popleft()
            for c, (_, other) in enumerate(cuts[k]):
                o = where[self.unit[other]]
                if o not in slot_of:
                    slot_of[o] = len(order)
                    order.append(o)
                    back = next(i for i, (m2, o2) in enumerate(cuts[o]) if (o2, m2) == cuts[k][c])
                    up[o] = (k, back)
                    q.append(o)
        blk, par, pst = [-1] * M, [-1] * M, [-1] * M
        for k in order:
            got = self._block_for(parts[k], up[k][1] if up[k] is not None else None)
            if got is None:
                return None
            b, stem_of_cut = got
            blk[slot_of[k]] = b
            for c, (_, other) in enumerate(cuts[k]):
                o = where[self.unit[other]]
                if up[o] is not None and up[o][0] == k:
                    par[slot_of[o]] = slot_of[k]
                    pst[slot_of[o]] = stem_of_cut[c]
        return blk + par + pst + [1]

    def _block_for(self, units: frozenset, parent_cut: int | None) -> tuple[int, list[int]] | None:
        """(block, stem index of each cut) for these units, with cut ``parent_cut`` on the block's r[0]."""
        atoms, cuts = self.cuts_of(units)
        pm, pd = _piece_with_dummies(self.mol, atoms, cuts, parent_cut)
        hit = self.index.roles.get(_smiles(pm))
        if hit is None:
            self.incompatible = self.incompatible or (
                f"no block of {self.piece(units)} has attachment points where the molecule joins it")
            return None
        b, used, parent = hit
        smi, stems = self.index.env.vocab.smiles[b], self.index.env.vocab.stems[b]
        bm = _block_with_dummies(smi, stems, used, parent)
        n = bm.GetNumAtoms() - len(used)
        # equal canonical SMILES: atoms of equal canonical rank correspond
        rank_b = list(Chem.CanonicalRankAtoms(bm, breakTies=True))
        rank_p = list(Chem.CanonicalRankAtoms(pm, breakTies=True))
        stem_by_rank = {rank_b[n + i]: j for i, j in enumerate(used)}
        return b, [stem_by_rank[rank_p[d]] for d in pd]


def _masked_reason(env, row: list[int]) -> str:
    """Why a tree lies outside the environment's masks (its filters' blocked blocks or rule-of-five limits)."""
    s = torch.tensor([row])
    if env.blocked and bool(torch.isin(s[:, : env.M], torch.tensor(env.blocked)).any()):
        return "it holds a block that carries an alert of the task's --filter (masked in the environment)"
    return "it is over the rule-of-five limits that the task's --filter masks in the environment (MW > 500, N + O > 10)"


def decompose(smiles: str, env, index: _Index | None = None, steps: int = SEARCH_STEPS) -> Decomposition:
    """The molecule as a done state of ``env`` (a ``FragmentEnv``), or the reason it cannot be one."""
    index = index or _Index(env)
    mol, why, notes = prepare(smiles)
    d = Decomposition(smiles, notes=tuple(notes))
    if mol is None:
        d.reason = why
        return d
    d.canonical = Chem.MolToSmiles(mol)
    limit = getattr(env, "max_heavy_atoms", None)  # every tree of this molecule has its heavy atoms
    if limit is not None and mol.GetNumHeavyAtoms() > limit:  # the environment's size mask forbids it
        d.reason = f"{mol.GetNumHeavyAtoms()} heavy atoms (> max_heavy_atoms {limit} of this task)"
        return d
    search = _Search(mol, index, env.max_blocks, steps)
    masked = ""
    for parts in search.partitions():
        row = search.tree(parts)
        if row is None:
            continue
        built = env.smiles_of_row(row)
        if built != d.canonical:  # a safeguard: the tree must give back the molecule itself
            search.incompatible = search.incompatible or f"rebuilt as {built}, not the same molecule"
            continue
        if not bool(env.within_limits(torch.tensor([row]))[0]):  # a state the sampler can never reach
            masked = masked or _masked_reason(env, row)
            continue
        d.row = row
        return d
    if masked:
        d.reason = masked
        return d
    if search.used >= steps:
        d.reason = f"the search gave up after {steps} pieces tried"
    elif (u := search.coverable()) is not None:
        atoms, cuts = search.cuts_of(frozenset([u]))
        d.reason = f"no block matches fragment {_smiles(_piece_with_dummies(mol, atoms, cuts)[0])}"
    elif search.fewest is not None:
        d.reason = f"too many blocks (> max_blocks {env.max_blocks})"
    elif search.incompatible:
        d.reason = search.incompatible
    else:
        d.reason = "no grouping of its fragments is made of blocks of the vocabulary"
    return d


def decompose_all(smiles: list[str], env) -> list[Decomposition]:
    index = _Index(env)
    return [decompose(s, env, index) for s in smiles]


def read_smiles_file(path: str | Path, flag: str = "") -> list[str]:
    """SMILES of a .smi file (first field of each line; blank lines and # comments skipped) or of a
    CSV's ``smiles`` column (``molgfn.inputs``, the reader of `score --input` too)."""
    from .inputs import read_objects

    objs, _ = read_objects(path, None, "smiles", flag or "file", require_column=True)
    return [s for s in objs if s]


def seed_states(path: str | Path, env, log=print) -> tuple[list[list[int]], list[Decomposition]]:
    """Done states of the expressible molecules of a SMILES file (distinct molecules), and every
    molecule's decomposition; ``log`` gets one line per molecule that cannot be expressed and a summary."""
    from .errors import InputError

    smiles = read_smiles_file(path, "--seed-molecules")
    if not smiles:
        raise InputError(f"--seed-molecules {path}: no SMILES in the file; give one SMILES per line")
    decs = decompose_all(smiles, env)
    rows, seen = [], set()
    for i, d in enumerate(decs, 1):
        if d.row is None:
            log(f"seed molecule {i} {d.smiles[:80]}: cannot be expressed: {d.reason}")
        elif d.canonical not in seen:
            seen.add(d.canonical)
            rows.append(d.row)
    log(f"seed molecules: {len(rows)} of {len(smiles)} expressible in the vocabulary "
        f"({len(smiles) - sum(d.row is not None for d in decs)} not)")
    return rows, decs


def check_seed_file(path: str | Path, task, log=print) -> int:
    """Before a run: the seed molecules of ``path`` in ``task``'s vocabulary; logs each one that cannot be
    expressed, and refuses a task that is not a fragment task or a file with no expressible molecule."""
    from .errors import InputError

    env = getattr(task, "env", None)
    if getattr(task, "kind", None) != "fragment" or env is None:
        raise InputError(f"--seed-molecules starts fragment tasks (seh-frag, qed-frag, custom-frag) from known "
                         f"molecules; task {getattr(task, 'name', task)!r} is not one")
    rows, decs = seed_states(path, env, log)
    if not rows:
        raise InputError(f"--seed-molecules {path}: none of its {len(decs)} molecules can be expressed in the "
                         "vocabulary (reasons above); build a vocabulary from them with `molgfn fragments build`, "
                         "or pass it with --vocab")
    return len(rows)


def seed_option(path: str | Path | None, task) -> str:
    """``--seed-molecules PATH`` of a new run: checked against the task's vocabulary (a line on stderr per
    molecule that cannot be expressed, and a summary); the absolute path the run's config keeps ('' if none)."""
    import sys

    if path is None:
        return ""
    check_seed_file(path, task, log=lambda line: print(line, file=sys.stderr))
    return str(Path(path).resolve())


def seed_tensor(path: str, env, device) -> torch.Tensor | None:
    """The done states of a run's --seed-molecules (round one of training), or None when none is expressible."""
    rows, _ = seed_states(path, env, log=lambda line: None)
    return torch.tensor(rows, dtype=torch.long, device=device) if rows else None


def seed_trajectories(trainer, seeds: torch.Tensor, beta: torch.Tensor):
    """Scored seed molecules, their trajectories drawn with P_B (off-policy, like replayed objects)."""
    from .conditioning import preferences
    from .sampling import sample_backward

    t = sample_backward(trainer.env, trainer.policy, seeds, beta, gen=trainer.gen).mark(False)
    return t.with_reward(trainer._evaluate(seeds, preferences(beta)))
