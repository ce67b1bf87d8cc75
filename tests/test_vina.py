"""vina: docking against a tiny receptor built here (nothing downloaded), and its bad options."""

import importlib.util
import math
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from cli import app

VOCAB = str(Path(__file__).resolve().parents[1] / "data" / "qm9_blocks.json")  # small molecules dock fast


def need_vina():
    if importlib.util.find_spec("vina") is None or importlib.util.find_spec("meeko") is None:
        pytest.skip('vina and meeko are not installed: pip install "molgfn[docking]"')


def shell_receptor(path: Path, radius: float = 6.5, n: int = 60) -> Path:
    """A pocket: n atoms (two carbons to one oxygen acceptor) on a sphere around the origin."""
    lines = []
    for i in range(n):
        z = 1 - 2 * (i + 0.5) / n
        r, phi = math.sqrt(1 - z * z), i * math.pi * (3 - math.sqrt(5))  # Fibonacci sphere
        x, y, zz = radius * r * math.cos(phi), radius * r * math.sin(phi), radius * z
        ad, el = ("OA", "O") if i % 3 == 0 else ("C", "C")
        lines.append(f"ATOM  {i + 1:5d}  {el:<3s} ALA A{1 + i // 10:4d}    {x:8.3f}{y:8.3f}{zz:8.3f}  1.00  0.00"
                     f"    {0.0:+6.3f} {ad:<2s}")
    path.write_text("\n".join(lines) + "\n")
    return path


def task(tmp_path, **kw):
    from molgfn.tasks import get_task

    opts = dict(receptor=str(shell_receptor(tmp_path / "pocket.pdbqt")), center="0,0,0", size="12,12,12",
                exhaustiveness=1, vocab=VOCAB)
    return get_task("vina", **{**opts, **kw})


def test_docking_in_a_pocket_scores_contacts(tmp_path):
    need_vina()
    t = task(tmp_path)
    try:
        ethanol, biphenyl, again = t.score_smiles(["CCO", "c1ccc(-c2ccccc2)cc1", "CCO"]).tolist()
    finally:
        t.close()
    # inside a closed pocket every pose is a contact: a bigger ligand has more of them (Vina's
    # gauss terms), so it scores lower (better); the search is seeded, so a repeat is identical
    assert biphenyl < ethanol < 0 and ethanol == again
    r = torch.exp(t.log_reward(torch.tensor([ethanol, biphenyl, 5.0])))
    assert r[1] > r[0] > r[2] and r[2] == pytest.approx(r.new_tensor(1e-3 / 12) ** 3)  # a clash gets the floor


def test_same_receptor_same_settings_hash_other_box_other_hash(tmp_path):
    need_vina()
    a, b, c = task(tmp_path), task(tmp_path), task(tmp_path, size="14,12,12")
    assert a.oracle.settings_hash == b.oracle.settings_hash != c.oracle.settings_hash


@pytest.mark.parametrize("opt,msg", [
    (None, "needs a receptor and a box"),
    ("receptor=/no/such/file.pdbqt", "does not exist"),
    ("center=1,2", "center must be three numbers"),
    ("size=10,0,10", "size must be three box side lengths"),
    ("size=10,10,500", "size must be three box side lengths"),
    ("exhaustiveness=0", "exhaustiveness must be a whole number"),
])
def test_bad_vina_options_are_one_line_errors(tmp_path, opt, msg):
    need_vina()
    rec = shell_receptor(tmp_path / "pocket.pdbqt")
    f = tmp_path / "in.smi"
    f.write_text("CCO\n")
    opts = [] if opt is None else ["--task-option", f"receptor={rec}", "--task-option", "center=0,0,0",
                                   "--task-option", "size=12,12,12", "--task-option", opt]
    r = CliRunner().invoke(app, ["score", "--task", "vina", "--input", str(f), *opts])
    assert r.exit_code == 2 and msg in r.output and len(r.output.strip().splitlines()) == 1, r.output


def test_receptor_must_be_pdbqt(tmp_path):
    need_vina()
    pdb = tmp_path / "r.pdb"
    pdb.write_text("HEADER nothing\n")
    with pytest.raises(Exception, match="not a PDBQT file"):
        task(tmp_path, receptor=str(pdb))


def test_score_command_docks_through_the_pool(tmp_path):
    need_vina()
    rec = shell_receptor(tmp_path / "pocket.pdbqt")
    f = tmp_path / "in.smi"
    f.write_text("CCO\nc1ccccc1\n")
    r = CliRunner().invoke(app, ["score", "--task", "vina", "--input", str(f), "--task-option", f"receptor={rec}",
                                 "--task-option", "center=0,0,0", "--task-option", "size=12,12,12",
                                 "--task-option", "exhaustiveness=1", "--task-option", f"vocab={VOCAB}",
                                 "--executor", "process", "--workers", 2, "--score-store", str(tmp_path / "s.db")])
    assert r.exit_code == 0, r.output
    from molgfn.oracle import read_store

    df = read_store(tmp_path / "s.db")
    assert sorted(df["object"]) == ["CCO", "c1ccccc1"] and (df["raw_score"] < 0).all()


# --- dockstring's prepared targets (target=NAME): looked up and parsed here, nothing docked


def need_dockstring():
    from molgfn.chem.docktargets import targets_dir

    if targets_dir() is None:
        pytest.skip('dockstring is not installed: pip install "molgfn[docking]"')


def test_conf_parsing_reads_the_box_and_names_what_is_missing():
    from molgfn.chem.docktargets import parse_conf

    center, size = parse_conf("# a box\ncenter_x = 9.25\ncenter_y=6.167 \ncenter_z = -7\n\nsize_x = 30\n"
                              "size_y = 30\nsize_z = 32.0  # long side\nenergy_range = 3\n")
    assert center == (9.25, 6.167, -7.0) and size == (30.0, 30.0, 32.0)
    with pytest.raises(ValueError, match="has no size_y, size_z"):
        parse_conf("center_x=1\ncenter_y=2\ncenter_z=3\nsize_x=4\n")
    with pytest.raises(ValueError, match="line 2: center_y must be a number"):
        parse_conf("center_x=1\ncenter_y=abc\n")
    with pytest.raises(ValueError, match="line 1: expected 'key = value'"):
        parse_conf("center_x 1\n")


def test_targets_are_found_in_a_dockstring_style_folder(tmp_path):
    from molgfn.chem.docktargets import list_targets, resolve_target

    for name in ("DRD2", "ABL1"):
        (tmp_path / f"{name}_target.pdbqt").write_text("ATOM\n")
        (tmp_path / f"{name}_conf.txt").write_text("center_x=1\ncenter_y=2\ncenter_z=3\nsize_x=20\nsize_y=21\n"
                                                    "size_z=22\n")
    (tmp_path / "HALF_target.pdbqt").write_text("ATOM\n")  # no box: not a target
    assert list_targets(tmp_path) == ["ABL1", "DRD2"]
    rec, center, size = resolve_target("drd2", tmp_path)  # case does not matter
    assert rec == tmp_path / "DRD2_target.pdbqt" and center == (1.0, 2.0, 3.0) and size == (20.0, 21.0, 22.0)
    with pytest.raises(ValueError, match=r"unknown docking target 'DRD3' \(did you mean DRD2\?\); known targets: "
                                         r"ABL1, DRD2$"):
        resolve_target("DRD3", tmp_path)
    with pytest.raises(ValueError, match="not installed"):
        resolve_target("DRD2", tmp_path / "empty")


def test_target_option_docks_into_dockstrings_receptor_and_box():
    need_vina()
    need_dockstring()
    from molgfn import tasks
    from molgfn.chem.docktargets import list_targets, targets_dir

    get_task = tasks.get_task
    t = get_task("vina", target="drd2", vocab=VOCAB, exhaustiveness=1)
    dock = t.oracle.fn
    assert Path(dock.receptor) == targets_dir() / "DRD2_target.pdbqt"
    conf = (targets_dir() / "DRD2_conf.txt").read_text()
    assert [f"{v:g}" for v in dock.center + dock.size] == [
        f"{float(line.split('=')[1]):g}" for line in conf.splitlines() if line.strip()]
    wider = get_task("vina", target="DRD2", size="40,40,40", vocab=VOCAB)  # the box can still be overridden
    assert wider.oracle.fn.size == [40.0, 40.0, 40.0] and wider.oracle.settings_hash != t.oracle.settings_hash
    assert len(list_targets()) == 58  # dockstring 0.3.4's set


@pytest.mark.parametrize("opts,msg", [
    (["target=DRD9"], "unknown docking target 'DRD9' (did you mean DRD3 or DRD2"),
    (["target=DRD9"], "; known targets: ABL1, ACHE, "),
    (["target=DRD2", "receptor=mine.pdbqt"], "give target=DRD2 or receptor=mine.pdbqt, not both"),
])
def test_bad_target_options_are_one_line_errors(tmp_path, opts, msg):
    need_vina()
    need_dockstring()
    f = tmp_path / "in.smi"
    f.write_text("CCO\n")
    args = [a for o in opts for a in ("--task-option", o)]
    r = CliRunner().invoke(app, ["score", "--task", "vina", "--input", str(f), *args])
    assert r.exit_code == 2 and msg in r.output and len(r.output.strip().splitlines()) == 1, r.output


def test_docked_poses_are_stored_and_are_the_sdf_coordinates(tmp_path):
    need_vina()
    import numpy as np
    from rdkit import Chem

    from molgfn.chem.conformers import embed_conformer
    from molgfn.oracle import read_store

    rec = shell_receptor(tmp_path / "pocket.pdbqt")
    f = tmp_path / "in.smi"
    f.write_text("CCO\nNc1ccccc1C(=O)O\nCC(O)c1ccccc1\n")  # the last one's stereocentre is open: the pose fixes it
    args = ["score", "--task", "vina", "--input", str(f), "--task-option", f"receptor={rec}",
            "--task-option", "center=0,0,0", "--task-option", "size=12,12,12", "--task-option", "exhaustiveness=1",
            "--task-option", f"vocab={VOCAB}", "--executor", "local", "--score-store", str(tmp_path / "s.db")]
    r = CliRunner().invoke(app, [*args, "-o", str(tmp_path / "a.sdf")])
    assert r.exit_code == 0, r.output
    stored = read_store(tmp_path / "s.db").set_index("object")["extra"]
    for out in ("a.sdf", "b.sdf"):  # b: the scores and poses served by the store, nothing docked again
        if out == "b.sdf":
            r = CliRunner().invoke(app, [*args, "-o", str(tmp_path / out)])
            assert r.exit_code == 0, r.output
        mols = list(Chem.SDMolSupplier(str(tmp_path / out), removeHs=False))
        assert [m.GetProp("coordinates") for m in mols] == ["docked pose"] * 3
        for m in mols:
            smi = m.GetProp("smiles")
            pose = Chem.MolFromMolBlock(stored[smi], removeHs=False)
            xyz = m.GetConformer().GetPositions()
            assert Chem.MolToSmiles(Chem.RemoveHs(m), isomericSmiles=False) == Chem.MolToSmiles(
                Chem.MolFromSmiles(smi), isomericSmiles=False)
            assert np.allclose(xyz, pose.GetConformer().GetPositions(), atol=1e-3)
            assert (np.abs(xyz) <= 6.0 + 1.5).all()  # the heavy atoms' box, hydrogens a bond beyond it
            etkdg = embed_conformer(Chem.MolFromSmiles(smi), 0)[0].GetConformer().GetPositions()
            assert not (etkdg.shape == xyz.shape and np.allclose(etkdg, xyz, atol=0.1))  # not the ETKDG conformer


@pytest.mark.slow
def test_risperidone_docks_into_dockstrings_drd2_as_dockstring_reports(tmp_path):
    """dockstring's tutorial docks risperidone into its DRD2 target at -11.9 kcal/mol (dockstring/dockstring,
    tutorials/1_Docking_risperidone_against_DRD2.ipynb; García-Ortegón et al. 2022). molgfn's ligand preparation
    differs (ETKDG + meeko, no pH 7.4 protonation) and this docks at exhaustiveness 2, so it must land within
    1.5 kcal/mol of it, and ethanol far above it; the pose lies in the target's box."""
    need_vina()
    need_dockstring()
    import numpy as np
    from rdkit import Chem

    from molgfn.chem.docktargets import resolve_target

    f = tmp_path / "drugs.smi"
    f.write_text("CC1=C(C(=O)N2CCCCC2=N1)CCN3CCC(CC3)C4=NOC5=C4C=CC(=C5)F\nCCO\n")
    r = CliRunner().invoke(app, ["score", "--task", "vina", "--input", str(f), "--task-option", "target=DRD2",
                                 "--task-option", "exhaustiveness=2", "--task-option", f"vocab={VOCAB}",
                                 "--executor", "local", "-o", str(tmp_path / "out.sdf")])
    assert r.exit_code == 0, r.output
    mols = list(Chem.SDMolSupplier(str(tmp_path / "out.sdf"), removeHs=False))
    risperidone, ethanol = (float(m.GetProp("raw_score")) for m in mols)
    assert -11.9 - 1.5 <= risperidone <= -11.9 + 1.5 and ethanol > -5.0
    _, center, size = resolve_target("DRD2")
    heavy = np.array([p for a, p in zip(mols[0].GetAtoms(), mols[0].GetConformer().GetPositions(), strict=True)
                      if a.GetAtomicNum() > 1])
    assert mols[0].GetProp("coordinates") == "docked pose"
    assert (np.abs(heavy - np.array(center)) <= np.array(size) / 2 + 1e-6).all()


@pytest.mark.slow
def test_a_vina_design_writes_its_candidates_in_their_docked_poses(tmp_path):
    need_vina()
    from rdkit import Chem

    from molgfn.oracle import read_store

    rec = shell_receptor(tmp_path / "pocket.pdbqt")
    out = tmp_path / "run"
    r = CliRunner().invoke(app, ["design", "--task", "vina", "--task-option", f"receptor={rec}",
                                 "--task-option", "center=0,0,0", "--task-option", "size=12,12,12",
                                 "--task-option", "exhaustiveness=1", "--vocab", VOCAB, "--rounds", 2,
                                 "--batch-size", 4, "--no-local-search", "--num-samples", 8, "--num-candidates", 4,
                                 "--format", "sdf", "--executor", "process", "--workers", 2, "--out", str(out),
                                 "--quiet"])
    assert r.exit_code == 0, r.output
    poses = read_store(out / "scores.sqlite").set_index("object")["extra"]
    mols = list(Chem.SDMolSupplier(str(out / "candidates.sdf"), removeHs=False))
    assert len(mols) == 4 and all(m.GetProp("coordinates") == "docked pose" for m in mols)
    for m in mols:  # the coordinates are the stored pose's, atom for atom
        pose = Chem.MolFromMolBlock(poses[m.GetProp("smiles")], removeHs=False)
        assert m.GetConformer().GetPositions().round(3).tolist() == pose.GetConformer().GetPositions().round(3).tolist()
