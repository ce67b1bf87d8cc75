"""`molgfn receptor prepare`: a PDB file -> receptor.pdbqt + box.json, on a tiny complex built here
(tests/receptor_helpers.py: a peptide, a phenol ligand LIG, waters, a zinc ion, a sulfate), and
`--task vina --task-option target=FOLDER` docking into what it wrote."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli import app

from .receptor_helpers import complex_pdb, het_line, ligand_atoms, peptide_coords

VOCAB = str(Path(__file__).resolve().parents[1] / "data" / "qm9_blocks.json")  # no asset needed to score SMILES


def need_docking():
    missing = [m for m in ("gemmi", "meeko", "vina") if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f'{" and ".join(missing)} not installed: pip install "molgfn[docking]"')


def expected_box(coords, padding, min_side=20.0):
    """The box by hand: the midpoint of the extents, extent + 2 * padding (at least min_side)."""
    center, size = [], []
    for i in range(3):
        lo, hi = min(c[i] for c in coords), max(c[i] for c in coords)
        center.append((lo + hi) / 2)
        size.append(max(hi - lo + 2 * padding, min_side))
    return center, size


def prepare(tmp_path, *args, pdb=None):
    pdb = pdb or complex_pdb(tmp_path / "complex.pdb")
    out = tmp_path / "rec"
    r = CliRunner().invoke(app, ["receptor", "prepare", str(pdb), "--out", str(out), *args])
    return r, out


def records(path: Path) -> list[tuple[str, str, str]]:
    """(residue name, atom name, AutoDock type) of each atom of a PDBQT."""
    return [(ln[17:20].strip(), ln[12:16].strip(), ln[77:79].strip()) for ln in path.read_text().splitlines()
            if ln.startswith(("ATOM", "HETATM"))]


def test_box_around_is_the_extents_midpoint_padded_with_a_minimum_side():
    from molgfn.chem.receptor import box_around
    from molgfn.errors import InputError

    pts = [(0.0, 0.0, 0.0), (10.0, 2.0, -4.0), (4.0, 30.0, -1.0)]
    center, size = box_around(pts, padding=4.0)
    assert center == [5.0, 15.0, -2.0]
    assert size == [20.0, 38.0, 20.0]  # 10+8 and 4+8 are below the 20 A minimum; 30+8 is not
    assert box_around(pts, padding=0.0, min_side=1.0)[1] == [10.0, 30.0, 4.0]
    with pytest.raises(InputError, match="the box would be empty"):
        box_around([], padding=4.0)
    with pytest.raises(InputError, match="longest side"):
        box_around([(0, 0, 0), (200, 0, 0)], padding=4.0)


def test_a_box_over_vinas_volume_is_named_in_the_report():
    from molgfn.chem.receptor import report_lines

    data = {"center": [0.0, 0.0, 0.0], "atoms": 10, "removed": {"waters": 0, "hetero": [], "no_template": []},
            "source": {"kind": "residues", "residues": ["ALA A:1"], "atoms": 5, "padding": 4.0, "min_side": 20.0}}
    for size, warned in (([30.0, 30.0, 30.0], False), ([30.0, 30.0, 31.0], True)):
        lines = report_lines("rec", {**data, "size": size})
        assert any("Vina warns above 27,000 A^3" in ln for ln in lines) == warned


def test_prepare_from_the_cocrystallised_ligand_docks(tmp_path):
    need_docking()
    r, out = prepare(tmp_path, "--ligand-resname", "LIG", "--padding", "10")
    assert r.exit_code == 0, r.output
    box = json.loads((out / "box.json").read_text())
    center, size = expected_box([xyz for _, xyz in ligand_atoms()], padding=10.0)
    assert box["center"] == pytest.approx(center, abs=1e-3) and box["size"] == pytest.approx(size, abs=1e-3)
    assert min(size) > 20  # padding 10 around a phenol: the extents decide, not the minimum
    assert box["source"] == {"kind": "ligand-resname", "residue": "LIG A:101", "atoms": 7, "padding": 10.0,
                             "min_side": 20.0}
    assert box["removed"]["waters"] == 2 and box["removed"]["hetero"] == ["LIG A:101", "ZN A:301", "SO4 A:302"]
    assert box["command"].startswith("molgfn receptor prepare ") and "--ligand-resname LIG" in box["command"]
    atoms = records(out / "receptor.pdbqt")
    assert {res for res, _, _ in atoms} == {"GLY", "HIS", "TRP", "ALA", "PHE", "TYR", "LYS", "ASP", "GLU"}
    assert any(t == "HD" for _, _, t in atoms) and any(t == "OA" for _, _, t in atoms)  # polar H added, typed
    heavy = [ln for ln in (out / "receptor.pdb").read_text().splitlines() if ln.startswith("ATOM")]
    assert len(heavy) > len(peptide_coords())  # the viewing copy has every hydrogen
    # the next command, printed whole on one line
    assert f"next: molgfn design --task vina --task-option target={out}" in r.output.splitlines()

    from molgfn.tasks.vina import DockOracle  # Vina.set_receptor reads the PDBQT, then docks into its box

    score = DockOracle(str(out / "receptor.pdbqt"), box["center"], box["size"], 1, 0)(["Oc1ccccc1"])[0]
    assert math.isfinite(score.value) and score.value < 0


def test_the_ligand_file_gives_the_same_box_as_its_residue(tmp_path):
    need_docking()
    from rdkit import Chem
    from rdkit.Geometry import Point3D

    atoms = ligand_atoms()
    mol = Chem.RWMol(Chem.MolFromSmiles("Oc1ccccc1"))  # atoms in the order they were written
    conf = Chem.Conformer(mol.GetNumAtoms())
    for i, (_, xyz) in enumerate(atoms):
        conf.SetAtomPosition(i, Point3D(*xyz))
    mol.AddConformer(conf)
    sdf = tmp_path / "lig.sdf"
    Chem.MolToMolFile(Chem.AddHs(mol, addCoords=True), str(sdf))  # hydrogens do not count
    pdb = tmp_path / "lig.pdb"
    pdb.write_text("\n".join(het_line(i + 1, f"{el}{i + 1}", "LIG", "X", 1, xyz, el)
                             for i, (el, xyz) in enumerate(atoms)) + "\nEND\n")
    mol2 = tmp_path / "lig.mol2"  # Tripos MOL2 by hand (RDKit reads it, does not write it)
    bonds = [(b.GetBeginAtomIdx() + 1, b.GetEndAtomIdx() + 1, "ar" if b.GetIsAromatic() else "1")
             for b in mol.GetBonds()]
    mol2.write_text("@<TRIPOS>MOLECULE\nphenol\n" + f"{len(atoms)} {len(bonds)} 0 0 0\nSMALL\nNO_CHARGES\n\n"
                    + "@<TRIPOS>ATOM\n" + "".join(
                        f"{i + 1} {el}{i + 1} {x:.3f} {y:.3f} {z:.3f} {el}{'.ar' if el == 'C' else '.3'} 1 LIG 0.0\n"
                        for i, (el, (x, y, z)) in enumerate(atoms))
                    + "@<TRIPOS>BOND\n" + "".join(f"{i + 1} {a} {b} {t}\n" for i, (a, b, t) in enumerate(bonds)))
    center, size = expected_box([xyz for _, xyz in atoms], padding=4.0)
    for lig in (sdf, pdb, mol2):
        r, out = prepare(tmp_path, "--ligand", str(lig), "--force")
        assert r.exit_code == 0, r.output
        box = json.loads((out / "box.json").read_text())
        assert box["center"] == pytest.approx(center, abs=1e-3) and box["size"] == [20.0, 20.0, 20.0]
        assert box["source"]["kind"] == "ligand-file" and box["source"]["atoms"] == 7


def test_mmcif_input_gives_the_same_receptor_and_box(tmp_path):
    need_docking()
    import gemmi

    pdb = complex_pdb(tmp_path / "complex.pdb")
    st = gemmi.read_structure(str(pdb))
    st.setup_entities()
    st.make_mmcif_document().write_file(str(tmp_path / "complex.cif"))
    boxes, atoms = [], []
    for name in ("complex.pdb", "complex.cif"):
        r, out = prepare(tmp_path, "--ligand-resname", "LIG", "--force", pdb=tmp_path / name)
        assert r.exit_code == 0, r.output
        box = json.loads((out / "box.json").read_text())
        boxes.append((box["center"], box["size"], box["removed"]))
        atoms.append(records(out / "receptor.pdbqt"))
    assert boxes[0] == boxes[1] and atoms[0] == atoms[1]


def test_residue_selection_box_and_kept_zinc_and_waters(tmp_path):
    need_docking()
    r, out = prepare(tmp_path, "--residues", "A:5-7,A:9", "--padding", "6", "--keep-hetero", "zn", "--keep-waters")
    assert r.exit_code == 0, r.output
    box = json.loads((out / "box.json").read_text())
    center, size = expected_box(peptide_coords({5, 6, 7, 9}), padding=6.0)
    assert box["center"] == pytest.approx(center, abs=1e-3) and box["size"] == pytest.approx(size, abs=1e-3)
    assert box["source"]["residues"] == ["PHE A:5", "TYR A:6", "LYS A:7", "GLU A:9"]

    assert box["removed"]["waters"] == 0 and box["removed"]["hetero"] == ["LIG A:101", "SO4 A:302"]
    names = {res for res, _, _ in records(out / "receptor.pdbqt")}
    assert {"ZN", "HOH"} <= names and not {"LIG", "SO4"} & names


def test_target_folder_docks_end_to_end_like_its_explicit_options(tmp_path):
    need_docking()
    r, out = prepare(tmp_path, "--ligand-resname", "LIG")
    assert r.exit_code == 0, r.output
    smi = tmp_path / "x.smi"
    smi.write_text("Oc1ccccc1\n")
    r = CliRunner().invoke(app, ["score", "--task", "vina", "--input", str(smi), "--task-option", f"target={out}",
                                 "--task-option", "exhaustiveness=1", "--task-option", f"vocab={VOCAB}",
                                 "-o", str(tmp_path / "s.csv"), "--executor", "local"])
    assert r.exit_code == 0, r.output
    import pandas as pd

    raw = pd.read_csv(tmp_path / "s.csv")["raw_score"].tolist()
    assert len(raw) == 1 and math.isfinite(raw[0]) and raw[0] < 0

    from molgfn.tasks import get_task

    box = json.loads((out / "box.json").read_text())
    by_folder = get_task("vina", target=str(out), exhaustiveness=1, vocab=VOCAB)
    explicit = get_task("vina", receptor=str(out / "receptor.pdbqt"), center=",".join(map(str, box["center"])),
                        size=",".join(map(str, box["size"])), exhaustiveness=1, vocab=VOCAB)
    assert by_folder.oracle.settings_hash == explicit.oracle.settings_hash  # the same receptor and box


def test_target_folder_that_is_not_one_is_a_clear_error(tmp_path, monkeypatch):
    from molgfn.chem.docktargets import resolve_target

    with pytest.raises(ValueError, match="holds no box.json; prepare one with: molgfn receptor prepare"):
        resolve_target(str(tmp_path))
    shipped = tmp_path / "targets"  # a dockstring-style folder of prepared targets
    shipped.mkdir()
    (shipped / "DRD2_target.pdbqt").write_text("ATOM\n")
    (shipped / "DRD2_conf.txt").write_text("center_x=1\ncenter_y=2\ncenter_z=3\nsize_x=20\nsize_y=20\nsize_z=20\n")
    monkeypatch.chdir(tmp_path)
    Path("DRD2").mkdir()  # a folder of that name without a box.json does not hide dockstring's DRD2
    assert resolve_target("DRD2", shipped)[0] == shipped / "DRD2_target.pdbqt"
    Path("DRD2/box.json").write_text('{"center": [4, 5, 6], "size": [22, 22, 22]}')  # nor with one: a dockstring
    assert resolve_target("DRD2", shipped)[0] == shipped / "DRD2_target.pdbqt"  # name means dockstring's target
    assert resolve_target("./DRD2", shipped) == (Path("DRD2/receptor.pdbqt"), (4.0, 5.0, 6.0), (22.0, 22.0, 22.0))
    Path("DRD2").rename("mine")  # a bare name that is no dockstring target: the folder
    assert resolve_target("mine", shipped) == (Path("mine/receptor.pdbqt"), (4.0, 5.0, 6.0), (22.0, 22.0, 22.0))
    (tmp_path / "box.json").write_text("{not json")
    with pytest.raises(ValueError, match="box.json cannot be read"):
        resolve_target(str(tmp_path))
    (tmp_path / "box.json").write_text('{"center": [1, 2], "size": [20, 20, 20]}')
    with pytest.raises(ValueError, match="three numbers each"):
        resolve_target(str(tmp_path) + "/")
    with pytest.raises(ValueError, match="is not a folder"):
        resolve_target(str(tmp_path / "nope") + "/")


def test_a_receptor_that_is_not_the_one_of_its_box_is_refused(tmp_path):
    need_docking()
    from molgfn.chem.docktargets import resolve_target

    r, out = prepare(tmp_path, "--ligand-resname", "LIG")
    assert r.exit_code == 0, r.output
    assert resolve_target(str(out))[0] == out / "receptor.pdbqt"
    with open(out / "receptor.pdbqt", "a") as f:
        f.write("ATOM      1  C   ALA B   1       0.000   0.000   0.000  1.00  0.00    +0.000 C \n")
    with pytest.raises(ValueError, match="is not the receptor box.json was written with"):
        resolve_target(str(out))


def test_residues_meeko_cannot_type_are_refused_near_the_box_and_dropped_on_request(tmp_path):
    need_docking()
    text = complex_pdb(tmp_path / "complex.pdb").read_text().splitlines()
    # residue 3 loses its side-chain ring (an incomplete residue); residue 8 becomes a name meeko does not know
    incomplete = [ln for ln in text if not (ln.startswith("ATOM") and ln[22:26].strip() == "3"
                                            and ln[12:16].strip() in ("CZ2", "CH2", "CZ3", "CE3"))]
    renamed = [ln[:17] + "MSE" + ln[20:] if ln.startswith("ATOM") and ln[22:26].strip() == "8" else ln for ln in text]
    both = [ln[:17] + "MSE" + ln[20:] if ln.startswith("ATOM") and ln[22:26].strip() == "8" else ln
            for ln in incomplete]
    for name, lines, where, msg in (("mse", renamed, "A:8", "meeko has no residue template for MSE A:8 within 8 A "
                                     "of the box"),
                                    ("incomplete", incomplete, "A:3", "meeko could not match TRP A:3 to its residue "
                                     "templates")):
        pdb = tmp_path / f"{name}.pdb"
        pdb.write_text("\n".join(lines) + "\n")
        r, out = prepare(tmp_path, "--residues", where, pdb=pdb)
        assert r.exit_code == 2 and msg in r.output, r.output
        assert len(r.output.strip().splitlines()) == 1 and not out.exists(), r.output
    pdb = tmp_path / "both.pdb"
    pdb.write_text("\n".join(both) + "\n")
    r, out = prepare(tmp_path, "--residues", "A:3", "--drop-bad-residues", pdb=pdb)
    assert r.exit_code == 0, r.output
    # GLU A:9, the last residue, has no neighbour left once MSE A:8 is out: no terminal template fits it alone
    assert json.loads((out / "box.json").read_text())["removed"]["no_template"] == ["MSE A:8", "TRP A:3", "GLU A:9"]
    names = {res for res, _, _ in records(out / "receptor.pdbqt")}
    assert "MSE" not in names and "TRP" not in names and "HIS" in names


def _garbage(tmp_path):
    p = tmp_path / "garbage.pdb"
    p.write_bytes(b"\x00\xff\xfe\x89PNG\r\n\x1a\n" * 20)
    return p


def _no_atoms(tmp_path):
    p = tmp_path / "empty.sdf"
    p.write_text("\n  RDKit\n\n  0  0  0  0  0  0  0  0  0  0999 V2000\nM  END\n$$$$\n")
    return p


def _user_folder(tmp_path):
    (tmp_path / "rec").mkdir()
    (tmp_path / "rec" / "box.json").write_text('{"mine": true}\n')


@pytest.mark.parametrize("args,msg", [
    (["--ligand-resname", "LIG", "--protein", "nope.pdb"], "PROTEIN {D}/nope.pdb does not exist"),
    (["--ligand-resname", "LIG", "--protein", "garbage"], "holds no atoms"),
    (["--ligand-resname", "XYZ"], "no residue named XYZ; its hetero residues are LIG A:101, ZN A:301, SO4 A:302"),
    (["--ligand-resname", "LIG", "--chain", "B"], "no residue named LIG in chain B (chains: A)"),
    (["--residues", "A:50-60,B:3"], "--residues A:50-60, B:3 names no residue of the structure (chain A: 1-"),
    (["--residues", "A45"], "is not CHAIN:NUMBER"),
    (["--ligand", "{D}/empty.sdf"], "holds no atoms with coordinates, so the box would be empty"),
    (["--ligand", "{D}/lig.xyz"], "expected a .sdf, .mol, .mol2, .pdb, .ent, .pdbqt file"),
    ([], "draw the box with one of --ligand FILE, --ligand-resname NAME or --residues"),
    (["--ligand-resname", "LIG", "--residues", "A:3"], "(not --ligand-resname and --residues)"),
    (["--ligand-resname", "LIG", "--padding", "nan"], "--padding must be a number of Angstrom in [0, 30]"),
    (["--ligand-resname", "LIG", "--padding", "200"], "--padding must be a number of Angstrom in [0, 30]"),
    (["--ligand-resname", "LIG", "--keep-hetero", "SO4"], "--keep-hetero SO4: meeko has no template for it"),
    (["--ligand-resname", "LIG", "--keep-hetero", "LIG"], "do not keep it with --keep-hetero"),
    (["--ligand-resname", "LIG", "--user-folder"], "holds box.json, which molgfn did not write"),
])
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, args, msg):
    need_docking()
    pdb = complex_pdb(tmp_path / "complex.pdb")
    _garbage(tmp_path)
    _no_atoms(tmp_path)
    (tmp_path / "lig.xyz").write_text("1\n\nC 0 0 0\n")
    if "--user-folder" in args:
        _user_folder(tmp_path)
        args = [a for a in args if a != "--user-folder"]
    if "--protein" in args:
        i = args.index("--protein")
        name = args[i + 1]
        pdb = tmp_path / (name if name.endswith(".pdb") else f"{name}.pdb")
        args = args[:i] + args[i + 2:]
    before = sorted(p.name for p in tmp_path.rglob("*"))
    args = [a.replace("{D}", str(tmp_path)) for a in args]
    r, out = prepare(tmp_path, *args, pdb=pdb)
    assert r.exit_code == 2, r.output
    assert msg.replace("{D}", str(tmp_path)) in r.output and len(r.output.strip().splitlines()) == 1, r.output
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing written
    if (out / "box.json").exists():
        assert json.loads((out / "box.json").read_text()) == {"mine": True}


def test_meeko_failure_is_one_line(tmp_path):
    need_docking()
    # a protein made of one residue with a lone alpha carbon: no template fits anything
    pdb = tmp_path / "ca.pdb"
    pdb.write_text("ATOM      1  CA  ALA A   1       0.000   0.000   0.000  1.00 20.00           C\n"
                   + het_line(2, "C1", "LIG", "A", 2, (3.0, 0.0, 0.0), "C") + "\nEND\n")
    r, out = prepare(tmp_path, "--ligand-resname", "LIG", "--drop-bad-residues", pdb=pdb)
    assert r.exit_code == 2 and "meeko could not match any residue" in r.output, r.output
    assert len(r.output.strip().splitlines()) == 1 and not out.exists()


def test_a_folder_molgfn_wrote_is_replaced(tmp_path):
    need_docking()
    r, out = prepare(tmp_path, "--ligand-resname", "LIG")
    assert r.exit_code == 0, r.output
    r, out = prepare(tmp_path, "--residues", "A:1-3")  # the same folder again: its files are molgfn's
    assert r.exit_code == 0, r.output
    assert json.loads((out / "box.json").read_text())["source"]["kind"] == "residues"


def test_vina_path_options_are_recorded_as_absolute_paths(tmp_path, monkeypatch):
    # a run's config.json must name the same receptor whatever folder a later --resume runs from
    from molgfn.commands.common import _absolute_paths

    monkeypatch.chdir(tmp_path)
    Path("rec.pdbqt").write_text("ATOM\n")
    out = _absolute_paths("vina", {"receptor": "rec.pdbqt", "target": "./site", "exhaustiveness": 4})
    assert out == {"receptor": str(tmp_path / "rec.pdbqt"), "target": str(tmp_path / "site"), "exhaustiveness": 4}
    assert _absolute_paths("vina", {"target": "DRD2"}) == {"target": "DRD2"}  # a dockstring name stays a name
    assert _absolute_paths("pmo-qed", {"vocab_like": "./x"}) == {"vocab_like": "./x"}  # tasks without path options
