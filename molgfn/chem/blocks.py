"""Building-block vocabularies (qm9str / sehstr) and the chain rule that turns block strings into molecules.

A vocabulary JSON has three dicts keyed by the block index as a string: ``block_name``,
``block_smi`` and ``block_r`` (two attachment atom indices per block). Blocks join as a
chain: block i+1 bonds (single bond) from its atom ``r[0]`` to atom ``r[1]`` of block i; the
first block's ``r[0]`` and the last block's ``r[1]`` stay free. Each new bond takes one
hydrogen from both atoms it joins, so an attachment atom needs a hydrogen to give up; when
``r[0] == r[1]`` an inner block's atom takes both bonds and needs two.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from rdkit import Chem, rdBase

#: characters of block strings, in block-index order (base 36 digits)
BLOCK_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True)
class Block:
    index: int
    name: str
    smiles: str
    r: tuple[int, int]  # (atom bonded to the previous block, atom bonded to the next block)


def load_blocks(path: str | Path) -> tuple[Block, ...]:
    """Read a block vocabulary JSON; returns the blocks in index order (a hashable tuple)."""
    raw = json.loads(Path(path).read_text())
    try:
        names, smis, rs = raw["block_name"], raw["block_smi"], raw["block_r"]
    except KeyError as e:
        raise ValueError(f"{path}: block vocabulary lacks key {e}") from None
    keys = sorted(smis, key=int)
    if [int(k) for k in keys] != list(range(len(keys))):
        raise ValueError(f"{path}: block indices must be 0..n-1, got {keys}")
    blocks = []
    for k in keys:
        r = tuple(int(a) for a in rs[k])
        if len(r) != 2:
            raise ValueError(f"{path}: block {k} has {len(r)} attachment atoms, expected 2")
        mol = Chem.MolFromSmiles(smis[k])
        if mol is None:
            raise ValueError(f"{path}: block {k} has an invalid SMILES {smis[k]!r}")
        if max(r) >= mol.GetNumAtoms() or min(r) < 0:
            raise ValueError(f"{path}: block {k} attachment atoms {r} outside 0..{mol.GetNumAtoms() - 1}")
        blocks.append(Block(int(k), str(names.get(k, smis[k])), smis[k], (r[0], r[1])))
    return tuple(blocks)


def blocks_from_asset(name: str, data_dir: str | Path | None = None) -> tuple[Block, ...]:
    """Blocks of a named asset, e.g. ``"qm9str-blocks"`` or ``"sehstr-blocks"``."""
    from ..assets import resolve

    return _load_cached(str(resolve(name, data_dir)))


@lru_cache(maxsize=8)
def _load_cached(path: str) -> tuple[Block, ...]:
    return load_blocks(path)


@lru_cache(maxsize=1024)
def kekulized(smiles: str) -> Chem.Mol:
    """A block's molecule with explicit single/double bonds, so atoms can be edited safely."""
    mol = Chem.MolFromSmiles(smiles)
    Chem.Kekulize(mol, clearAromaticFlags=True)
    return mol


def chain_smiles(block_indices: Sequence[int], blocks: Sequence[Block]) -> str:
    """Canonical SMILES of the chain of blocks; ValueError (with the reason) if it cannot exist."""
    key = tuple(int(i) for i in block_indices)
    return _chain_smiles(key, tuple(blocks))


@lru_cache(maxsize=1 << 18)
def _chain_smiles(key: tuple[int, ...], blocks: tuple[Block, ...]) -> str:
    if not key:
        raise ValueError("an empty chain has no molecule")
    bad = [i for i in key if not 0 <= i < len(blocks)]
    if bad:
        raise ValueError(f"block index {bad[0]} outside 0..{len(blocks) - 1}")
    mol = Chem.RWMol()
    hs: list[int] = []  # hydrogens left on each atom of the growing molecule
    prev = -1  # atom of the previous block that bonds to the next one
    for pos, bi in enumerate(key):
        b = blocks[bi]
        frag = kekulized(b.smiles)
        offset = mol.GetNumAtoms()
        mol.InsertMol(frag)
        hs.extend(a.GetTotalNumHs() for a in frag.GetAtoms())
        if pos > 0:
            here = offset + b.r[0]
            ends = ((prev, pos - 1, blocks[key[pos - 1]].r[1]), (here, pos, b.r[0]))
            for atom, p, local in ends:
                if hs[atom] < 1:
                    blk = blocks[key[p]]
                    sym = mol.GetAtomWithIdx(atom).GetSymbol()
                    raise ValueError(
                        f"chain {key}: atom {local} ({sym}) of block {blk.index} {blk.smiles!r} at position "
                        f"{p} has no hydrogen left to give up for the bond joining positions {pos - 1}-{pos}"
                    )
                hs[atom] -= 1
            mol.AddBond(prev, here, Chem.BondType.SINGLE)
        prev = offset + b.r[1]
    for atom, h in zip(mol.GetAtoms(), hs, strict=True):
        atom.SetNoImplicit(True)
        atom.SetNumExplicitHs(h)
    try:
        with rdBase.BlockLogs():
            Chem.SanitizeMol(mol)
    except Exception as e:  # RDKit raises several sanitisation error types
        raise ValueError(f"chain {key} does not give a valid molecule: {e}") from e
    return Chem.MolToSmiles(mol)


def string_to_indices(s: str, n_blocks: int | None = None) -> tuple[int, ...]:
    """'0a371' -> (0, 10, 3, 7, 1); characters are base-36 digits."""
    out = []
    for c in s:
        i = BLOCK_ALPHABET.find(c.lower())
        if i < 0 or (n_blocks is not None and i >= n_blocks):
            raise ValueError(f"character {c!r} in {s!r} is not a block of a {n_blocks}-block vocabulary")
        out.append(i)
    return tuple(out)


def string_to_smiles(s: str, blocks: Sequence[Block]) -> str:
    """Canonical SMILES of a block string such as '0a371' (character = block index, base 36)."""
    return chain_smiles(string_to_indices(s, len(blocks)), blocks)

