"""`molgfn receptor prepare` checked against a receptor someone else prepared: dockstring's DRD2.

dockstring ships DRD2 as a prepared PDBQT only (no PDB entry, no ligand), so its preparation cannot be redone
from the source structure. What can be done: strip its hydrogens, charges and atom types (a crystal-like PDB
of the same heavy atoms), dock risperidone into dockstring's receptor and box for a co-crystal-like ligand
pose, then run molgfn's preparation on the stripped PDB with the box drawn around that pose, and compare
(1) the AutoDock atom types and polar hydrogens meeko assigns with dockstring's and (2) the Vina scores of
bench/drd2_known.csv in dockstring's receptor and box, in molgfn's receptor and box, and in molgfn's
receptor with dockstring's box. Prints Markdown tables.

    python bench/receptor_drd2.py [--exhaustiveness 8] [--work DIR]
"""

from __future__ import annotations

import csv
import tempfile
import time
from collections import Counter
from pathlib import Path

from harness import BENCH, ROOT, command, parser, print_table


def heavy_pdb(pdbqt: Path, dest: Path) -> int:
    """The PDBQT's heavy atoms as PDB records (coordinates kept; charges, types and hydrogens dropped)."""
    out = []
    for line in pdbqt.read_text().splitlines():
        if line.startswith(("ATOM", "HETATM")) and not line[77:79].strip().startswith("H"):
            out.append(f"{line[:54]}  1.00  0.00          {line[12:16].strip()[0]:>2s}")
    dest.write_text("\n".join(out) + "\nEND\n")
    return len(out)


def atoms(pdbqt: Path) -> tuple[dict, int]:
    """{(residue number, atom name): (residue name, AutoDock type)} of the heavy atoms, and the hydrogens."""
    heavy, hydrogens = {}, 0
    for line in pdbqt.read_text().splitlines():
        if line.startswith(("ATOM", "HETATM")):
            ad = line[77:79].strip()
            if ad.startswith("H"):
                hydrogens += 1
            else:
                heavy[(line[22:27].strip(), line[12:16].strip())] = (line[17:20], ad)
    return heavy, hydrogens


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--exhaustiveness", type=int, default=8)
    ap.add_argument("--work", type=Path, default=None, help="keep the files here (default: a temporary folder)")
    args = ap.parse_args()
    from molgfn.tasks.vina import DockOracle
    from rdkit import Chem

    from molgfn.chem.docktargets import resolve_target
    from molgfn.chem.receptor import prepare

    known = list(csv.DictReader(open(BENCH / "drd2_known.csv")))
    for row in known:  # as molgfn scores them (canonical SMILES: the conformer, so the search, follows the atom order)
        row["smiles"] = Chem.MolToSmiles(Chem.MolFromSmiles(row["smiles"]))
    work = args.work or Path(tempfile.mkdtemp(prefix="receptor_drd2."))
    work.mkdir(parents=True, exist_ok=True)
    ds_receptor, ds_center, ds_size = resolve_target("DRD2")
    n_heavy = heavy_pdb(ds_receptor, work / "drd2_heavy.pdb")

    ds_dock = DockOracle(str(ds_receptor), ds_center, ds_size, args.exhaustiveness, 0)
    pose = ds_dock([known[0]["smiles"]])[0]  # risperidone, the first row
    Chem.MolToMolFile(Chem.MolFromMolBlock(pose.extra, removeHs=False), str(work / "pose.sdf"))
    t0 = time.perf_counter()
    box = prepare(work / "drd2_heavy.pdb", work / "drd2", ligand=work / "pose.sdf", force=True)
    prep_s = time.perf_counter() - t0

    theirs, h_theirs = atoms(ds_receptor)
    ours, h_ours = atoms(work / "drd2" / "receptor.pdbqt")
    common = set(theirs) & set(ours)
    differ = Counter((theirs[k][0], theirs[k][1], ours[k][1]) for k in common if theirs[k][1] != ours[k][1])
    print(command())
    print()
    print(f"{n_heavy} heavy atoms; molgfn's preparation {prep_s:.1f} s; its box: center "
          f"{','.join(f'{v:g}' for v in box['center'])}, size {','.join(f'{v:g}' for v in box['size'])} "
          f"(dockstring's: {','.join(f'{v:g}' for v in ds_center)}, {','.join(f'{v:g}' for v in ds_size)})")
    print()
    print_table(["", "dockstring", "molgfn (meeko)"], [
        ["heavy atoms", len(theirs), len(ours)],
        ["polar hydrogens", h_theirs, h_ours],
        ["same AutoDock type (heavy atoms)", "", f"{sum(theirs[k][1] == ours[k][1] for k in common)} of {len(common)}"],
        ["types that differ (residue: dockstring -> molgfn, count)", "",
         "; ".join(f"{r} {a}->{b} x{n}" for (r, a, b), n in differ.most_common())],
    ])
    print()
    ours_rec = str(work / "drd2" / "receptor.pdbqt")
    settings = {"dockstring receptor + box": ds_dock,
                "molgfn receptor + box (ligand pose, padding 4)": DockOracle(ours_rec, box["center"], box["size"],
                                                                            args.exhaustiveness, 0),
                "molgfn receptor + dockstring's box": DockOracle(ours_rec, ds_center, ds_size, args.exhaustiveness, 0)}
    rows = []
    for row in known:
        rows.append([row["name"], *(f"{oracle([row['smiles']])[0].value:.2f}" for oracle in settings.values())])
    where = work.relative_to(ROOT) if work.is_relative_to(ROOT) else work
    print_table(["molecule", *settings], rows, head=f"Vina score (kcal/mol), exhaustiveness {args.exhaustiveness}, "
                                                    f"seed 0; the receptor files are in {where}")


if __name__ == "__main__":
    main()
