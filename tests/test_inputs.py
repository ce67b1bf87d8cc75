"""One reader for the user's object files (molgfn.inputs): score --input, --seed-molecules, fragments build."""

from __future__ import annotations

import pytest

from molgfn.errors import InputError
from molgfn.inputs import read_objects
from molgfn.seeding import read_smiles_file


def test_smi_files_with_names_comments_and_a_header(tmp_path):
    f = tmp_path / "actives.smi"
    f.write_text("SMILES Name\n# a comment\nCCO ethanol\n\nc1ccccc1\tbenzene\n")
    assert read_objects(f) == (["CCO", "c1ccccc1"], 2)
    assert read_smiles_file(f) == ["CCO", "c1ccccc1"]


def test_csv_columns_any_case_and_the_first_column_otherwise(tmp_path):
    f = tmp_path / "m.csv"
    f.write_text("name,SMILES\nethanol,CCO\nempty,\n")
    assert read_objects(f) == (["CCO", ""], 2)  # empty cells kept: row numbers stay the file's
    assert read_smiles_file(f) == ["CCO"]
    g = tmp_path / "n.csv"
    g.write_text("mol,score\nCCO,1\n")
    assert read_objects(g)[0] == ["CCO"]  # `score`: the first column
    with pytest.raises(InputError, match="needs a 'smiles' column"):
        read_smiles_file(g, "--seed-molecules")  # seeds: the column must be named


@pytest.mark.parametrize("content, match", [(None, "does not exist"), (b"\x00\x01", "not UTF-8"),
                                            (b"a,b\n\"x", "not a readable CSV")])
def test_bad_files_are_one_line_errors_naming_the_flag(tmp_path, content, match):
    f = tmp_path / "in.csv"
    if content is not None:
        f.write_bytes(content)
    with pytest.raises(InputError, match=match) as e:
        read_objects(f, flag="--seed-molecules")
    assert "--seed-molecules" in str(e.value) or match == "not a readable CSV"
    assert "\n" not in str(e.value)


def test_score_reads_a_smi_file_with_names(tmp_path):
    from rdkit import Chem
    from rdkit.Chem import QED
    from typer.testing import CliRunner

    from molgfn.cli import app

    f = tmp_path / "drugs.smi"
    f.write_text("smiles name\nCC(=O)Nc1ccc(O)cc1 paracetamol\n")
    res = CliRunner().invoke(app, ["score", "--task", "pmo-qed", "--input", str(f), "--output", "-"])
    assert res.exit_code == 0, res.output
    row = next(ln for ln in res.output.splitlines() if ln.startswith("CC(=O)N"))
    assert abs(float(row.split(",")[2]) - QED.qed(Chem.MolFromSmiles("CC(=O)Nc1ccc(O)cc1"))) < 1e-9
