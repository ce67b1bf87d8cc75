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
