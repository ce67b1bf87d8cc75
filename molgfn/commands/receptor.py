"""`molgfn receptor prepare`: a protein structure -> a receptor PDBQT and a Vina box (molgfn.chem.receptor)."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated

import typer

from .base import console
from .errors import friendly
from .options import ForceOpt


@friendly
def receptor_prepare(
    protein: Annotated[Path, typer.Argument(help="The protein structure: a PDB or mmCIF file (e.g. from rcsb.org).")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for receptor.pdbqt, receptor.pdb and box.json "
                                          "(use it with --task-option target=FOLDER).")],
    ligand: Annotated[Path | None, typer.Option(help="Box around this co-crystallised ligand (SDF, MOL2 or PDB "
                                                "file).")] = None,
    ligand_resname: Annotated[str | None, typer.Option(help="Box around the structure's HETATM residue of this "
                                                       "name (the co-crystallised ligand, e.g. STI).")] = None,
    chain: Annotated[str | None, typer.Option(help="The chain of --ligand-resname's copy, when there are "
                                              "several.")] = None,
    residues: Annotated[str | None, typer.Option(help="Box around these residues: CHAIN:NUMBER items, e.g. "
                                                 "A:45,A:78,A:80-84.")] = None,
    padding: Annotated[float, typer.Option(help="Angstrom added on each side of the atoms' extent (each side "
                                           "is at least 20 A).")] = 4.0,
    keep_waters: Annotated[bool, typer.Option(help="Keep the crystal waters in the receptor (removed "
                                              "otherwise).")] = False,
    keep_hetero: Annotated[str | None, typer.Option(help="Hetero residues to keep, by name (metal ions, e.g. "
                                                    "ZN,MG); all others are removed.")] = None,
    drop_bad_residues: Annotated[bool, typer.Option(help="Leave out residues meeko cannot type (unknown or "
                                                    "incomplete) even near the box.")] = False,
    force: ForceOpt = False,
) -> None:
    """Prepare a receptor for docking: remove waters and hetero groups, add hydrogens and write the PDBQT
    (meeko), and draw the Vina box around a ligand or residues."""
    from molgfn.chem.receptor import prepare, report_lines

    argv = ["molgfn", "receptor", "prepare", str(protein), "--out", str(out_dir)]
    for flag, value in (("--ligand", ligand), ("--ligand-resname", ligand_resname), ("--chain", chain),
                        ("--residues", residues), ("--keep-hetero", keep_hetero)):
        if value is not None:
            argv += [flag, str(value)]
    argv += ["--padding", f"{padding:g}"] + ["--keep-waters"] * keep_waters + ["--drop-bad-residues"] * \
        drop_bad_residues
    data = prepare(protein, out_dir, ligand=ligand, ligand_resname=ligand_resname, chain=chain, residues=residues,
                   padding=padding, keep_waters=keep_waters, keep_hetero=keep_hetero, drop_bad=drop_bad_residues,
                   force=force, command=shlex.join(argv))
    for line in report_lines(out_dir, data):
        console.print(line, markup=False, highlight=False, soft_wrap=True)  # the next command stays one line
