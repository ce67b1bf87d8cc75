"""A tiny protein-ligand complex built here (nothing downloaded): a nine-residue peptide embedded by RDKit,
a phenol ligand (HETATM LIG) beside it, two waters, a zinc ion and a sulfate, written as a PDB file."""

from __future__ import annotations

import functools
from pathlib import Path

SEQUENCE = "GHWAFYKDE"


def het_line(serial: int, name: str, resname: str, chain: str, resnum: int, xyz, element: str) -> str:
    """One HETATM record in the PDB's fixed columns."""
    atom = f" {name:<3s}" if len(name) < 4 and len(element) == 1 else f"{name:<4s}"
    x, y, z = xyz
    return (f"HETATM{serial:5d} {atom} {resname:>3s} {chain}{resnum:4d}    {x:8.3f}{y:8.3f}{z:8.3f}  1.00 20.00"
            f"          {element:>2s}")


@functools.cache
def _peptide() -> tuple[tuple[str, ...], tuple[tuple[float, float, float], ...]]:
    """The peptide's ATOM lines (heavy atoms, as a crystal structure has them) and its coordinates."""
    from rdkit import Chem
    from rdkit.Chem import AllChem

    mol = Chem.AddHs(Chem.MolFromSequence(SEQUENCE), addResidueInfo=True)
    params = AllChem.ETKDGv3()
    params.randomSeed, params.useRandomCoords = 7, True
    assert AllChem.EmbedMolecule(mol, params) == 0
    mol = Chem.RemoveHs(mol)
    lines = tuple(ln for ln in Chem.MolToPDBBlock(mol).splitlines() if ln.startswith("ATOM"))
    xyz = tuple(tuple(p) for p in mol.GetConformer().GetPositions().tolist())
    return lines, xyz


@functools.cache
def _ligand(offset: tuple[float, float, float]) -> tuple[tuple[str, tuple[float, float, float]], ...]:
    """Phenol's heavy atoms (element, xyz), its centroid moved to ``offset``."""
    from rdkit import Chem
    from rdkit.Chem import AllChem

    mol = Chem.AddHs(Chem.MolFromSmiles("Oc1ccccc1"))
    assert AllChem.EmbedMolecule(mol, randomSeed=3) == 0
    mol = Chem.RemoveHs(mol)
    pos = mol.GetConformer().GetPositions()
    pos = pos - pos.mean(axis=0) + offset
    return tuple((a.GetSymbol(), tuple(pos[a.GetIdx()].tolist())) for a in mol.GetAtoms())


def ligand_site() -> tuple[float, float, float]:
    """Where the ligand sits: 4 A beyond the peptide's largest x, at its mean y and z."""
    _, xyz = _peptide()
    xs, ys, zs = zip(*xyz, strict=True)
    return (round(max(xs) + 4.0, 3), round(sum(ys) / len(ys), 3), round(sum(zs) / len(zs), 3))


def ligand_atoms() -> list[tuple[str, tuple[float, float, float]]]:
    """(element, xyz) of the ligand's heavy atoms, as written to the PDB (3 decimals)."""
    return [(el, tuple(round(c, 3) for c in xyz)) for el, xyz in _ligand(ligand_site())]


def peptide_coords(resnums: set[int] | None = None) -> list[tuple[float, float, float]]:
    """Coordinates of the peptide's atoms (of the residues numbered ``resnums``, all when None)."""
    lines, _ = _peptide()
    return [(float(ln[30:38]), float(ln[38:46]), float(ln[46:54])) for ln in lines
            if resnums is None or int(ln[22:26]) in resnums]


def complex_pdb(path: Path, extras: bool = True) -> Path:
    """The peptide (chain A, residues 1-9), the ligand LIG A:101 and, with ``extras``, waters HOH A:201-202,
    a zinc ion ZN A:301 and a sulfate SO4 A:302 around it."""
    lines, _ = _peptide()
    out = list(lines)
    serial = len(lines)
    out.append("TER")
    for el, xyz in ligand_atoms():
        serial += 1
        out.append(het_line(serial, f"{el}{serial - len(lines)}", "LIG", "A", 101, xyz, el))
    if extras:
        cx, cy, cz = ligand_site()
        het = [("O", "HOH", 201, (cx + 3.0, cy + 3.0, cz), "O"), ("O", "HOH", 202, (cx - 9.0, cy, cz + 9.0), "O"),
               ("ZN", "ZN", 301, (cx, cy - 6.0, cz), "ZN"), ("S", "SO4", 302, (cx, cy + 9.0, cz + 2.0), "S"),
               ("O1", "SO4", 302, (cx, cy + 10.5, cz + 2.0), "O"), ("O2", "SO4", 302, (cx + 1.4, cy + 8.5, cz + 2.0),
                                                                    "O"),
               ("O3", "SO4", 302, (cx - 1.4, cy + 8.5, cz + 2.0), "O"), ("O4", "SO4", 302, (cx, cy + 8.5, cz + 3.4),
                                                                     "O")]
        for name, res, num, xyz, el in het:
            serial += 1
            out.append(het_line(serial, name, res, "A", num, xyz, el))
    out.append("END")
    path.write_text("\n".join(out) + "\n")
    return path
