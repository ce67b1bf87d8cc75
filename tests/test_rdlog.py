"""RDKit's log levels survive molgfn's quiet blocks: a level the user (or an oracle) switched off
stays off, and RDKit's info/debug output (off by default) is never switched on by molgfn."""

from __future__ import annotations

import pytest
from rdkit import Chem, rdBase

from molgfn.chem.rdlog import log_levels, quiet_rdkit


@pytest.fixture
def user_levels():
    """The user silenced warnings; errors on; info and debug off (RDKit's default)."""
    before = log_levels()
    rdBase.DisableLog("rdApp.*")
    rdBase.EnableLog("rdApp.error")
    yield log_levels()
    rdBase.DisableLog("rdApp.*")
    for name, on in before.items():
        if on:
            rdBase.EnableLog(name)


def test_quiet_rdkit_restores_each_level_and_nests(user_levels):
    assert user_levels["rdApp.warning"] is False and user_levels["rdApp.error"] is True
    with quiet_rdkit():
        assert not any(log_levels().values())
        with quiet_rdkit():
            pass
        assert not any(log_levels().values())
    assert log_levels() == user_levels
    with pytest.raises(ValueError), quiet_rdkit():
        raise ValueError
    assert log_levels() == user_levels


def test_molgfn_chemistry_leaves_the_users_log_levels_as_they_were(user_levels, tmp_path):
    import pandas as pd

    from molgfn.chem.descriptors import describe, mol_from_smiles
    from molgfn.envs.fragments import _sanitised
    from molgfn.report import molecule_grid

    assert mol_from_smiles("C1CC") is None  # unparsable: RDKit would log it
    assert log_levels() == user_levels
    describe(Chem.MolFromSmiles("CC(F)Cl"))  # undefined stereo: InChI warns
    assert log_levels() == user_levels
    assert _sanitised(Chem.RWMol(Chem.MolFromSmiles("C", sanitize=False))) is not None
    assert log_levels() == user_levels
    molecule_grid(pd.DataFrame({"smiles": ["CCO", "C1CC"], "raw_score": [1.0, 2.0]}), tmp_path / "m.png")
    assert log_levels() == user_levels
