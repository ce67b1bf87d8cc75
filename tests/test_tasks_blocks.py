"""qm9str and sehstr tasks against the facts published with their data (SOURCES.md): qm9str's
805 / 364 mode sets; sehstr's global maximum 7.0333 at 'ag550c', its 159 published modes and the
tree arrays rebuilt from the original scikit-learn pickle; hand-checked chains of both real block
vocabularies. Real data only: without it this module is ONE skip naming the assets; the loaders,
the tree walk, the chains and both tasks run on synthetic assets in test_chem_blocks_trees.py and
test_synthetic_tasks.py."""

import shutil

import numpy as np
import pytest
import torch
from molgfn.tasks import get_task
from rdkit import Chem

from molgfn import assets
from molgfn.chem.blocks import blocks_from_asset, string_to_smiles
from molgfn.chem.trees import TreeEnsemble, load_tree_arrays, score_strings, trees_from_sklearn_pickle
from molgfn.safe_pickle import safe_load

from .conftest import SHARED, need_assets, need_reference_data

need_reference_data("qm9str-table", "qm9str-modes", "qm9str-blocks",
                    "sehstr-trees", "sehstr-proxy", "sehstr-modes", "sehstr-blocks")

SEH_MAX, SEH_ARGMAX = 7.0333, "ag550c"  # SOURCES.md: max over all 18^6 strings


def test_qm9str_modes_are_the_top_half_percent():
    t = get_task("qm9str")
    table = t.table
    assert table.shape == (11**5,)
    modes = t.mode_sets()["modes"]
    assert int(modes.sum()) == 805 == t.num_modes()
    # the 805 modes are exactly the strings with raw >= 9.1303 (top 0.5% of 161,051)
    assert torch.equal(modes, table >= float(table[modes].min()))
    assert float(table[modes].min()) == pytest.approx(9.1303, abs=1e-4)
    diverse = t.mode_sets()["modes_div_threshold_05"]
    assert int(diverse.sum()) == 364 and bool((diverse <= modes).all())
    assert float(torch.exp(t.log_reward(table)).max()) == pytest.approx(100.0)
    assert get_task("qm9str", modes="diverse").num_modes() == 364
    assert t.smiles(["00000", "00001"]) == ["CCCCC", "CCCCO"]  # the chain rule on the real blocks


@pytest.fixture
def ens():
    return TreeEnsemble.from_asset()  # the npz, or the same arrays read from the original pickle


def test_sehstr_scores_and_reward_scale():
    t = get_task("sehstr")
    raw = t.score_strings(["ag550c"])
    assert raw[0] == pytest.approx(7.0333, abs=1e-4)
    assert float(torch.exp(t.log_reward(torch.tensor(raw)))[0]) == pytest.approx(10.0, rel=1e-4)
    pub = sorted(t.published_modes())
    assert len(pub) == 159
    toks = t.env.from_strings(pub)
    assert bool(t.mode_mask(toks).all())  # every published mode clears the top-0.05% threshold
    assert bool(get_task("sehstr", modes="published").mode_mask(toks).all())
    smi = t.smiles(pub[:5])
    assert all(Chem.MolFromSmiles(s) is not None for s in smi)


def test_sehstr_trees_are_rebuilt_from_the_original_pickle(tmp_path, monkeypatch):
    for name in ("sehstr-proxy", "sehstr-modes", "sehstr-blocks"):  # everything but sehstr-trees
        dest = tmp_path / assets.get_asset(name).file
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(SHARED / assets.get_asset(name).file, dest)
    monkeypatch.setenv("MOLGFN_DATA", str(tmp_path))
    assert assets.status("sehstr-trees")[0] == "missing"
    assets.require("sehstr-trees")  # usable through its parent
    t = get_task("sehstr")
    assert t.score_strings(["ag550c"])[0] == pytest.approx(7.0333, abs=1e-4)


def test_pickle_trees_equal_npz():
    need_assets("sehstr-trees")  # the npz itself (`molgfn data fetch` gets only the pickle it is derived from)
    npz = load_tree_arrays(assets.resolve("sehstr-trees"))
    from_pkl = trees_from_sklearn_pickle(assets.resolve("sehstr-proxy"))
    assert set(from_pkl) == set(npz)
    for k in npz:
        np.testing.assert_array_equal(from_pkl[k], npz[k], err_msg=k)
        assert from_pkl[k].dtype == npz[k].dtype, k
    assert npz["baseline"][0] == pytest.approx(4.494288, abs=1e-6)
    assert score_strings([SEH_ARGMAX]).item() == pytest.approx(SEH_MAX, abs=5e-5)  # the default: the npz


def test_global_max_string(ens):
    assert ens.score_strings([SEH_ARGMAX]).item() == pytest.approx(SEH_MAX, abs=5e-5)


def test_sehstr_modes_have_proxy_values_in_stated_range(ens):
    modes = safe_load(assets.resolve("sehstr-modes"))
    assert isinstance(modes, list) and len(modes) == 159 == len(set(modes))
    v = ens.score_strings(modes)
    assert v.min().item() >= 6.699 - 5e-4 and v.max().item() <= 6.880 + 5e-4
    assert v.max().item() < SEH_MAX


def test_random_million_strings_stay_below_global_max(ens):
    tok = torch.randint(0, 18, (1_000_000, 6), generator=torch.Generator().manual_seed(0))
    v = ens.predict_tokens(tok)
    assert v.max().item() <= SEH_MAX + 1e-4
    assert v.max().item() > 6.5  # the top 0.05% (>= 6.69886) holds ~500 of a million


def test_sehstr_vocabulary():
    seh = blocks_from_asset("sehstr-blocks")
    assert len(seh) == 18 and [b.index for b in seh] == list(range(18))
    assert seh[0].smiles == "CO" and seh[0].r == (1, 0)


@pytest.mark.parametrize("s, smiles", [
    ("22", "SS"), ("55", "c1ccc(-c2ccccc2)cc1"), ("00", "COCO"),
    ("555", "c1ccc(-c2cccc(-c3ccccc3)c2)cc1"),  # meta: r = (0, 2)
])
def test_sehstr_hand_checked_chains(s, smiles):
    assert string_to_smiles(s, blocks_from_asset("sehstr-blocks")) == Chem.CanonSmiles(smiles)


@pytest.mark.slow
def test_sehstr_num_modes_is_the_threshold_count_over_all_strings():
    """num_modes() must count the set mode_mask() defines: raw >= 6.69886 over all 18^6 strings
    (34M proxy evaluations, a few minutes on one core)."""
    from molgfn.tasks.sehstr import TOP_005_PERCENT

    t = get_task("sehstr")
    A, L = 18, 6
    w = A ** torch.arange(L - 1, -1, -1)
    chunk = A**5
    count = 0
    for start in range(0, A**L, chunk):
        idx = torch.arange(start, start + chunk)
        count += int((t.ensemble.predict_tokens((idx[:, None] // w) % A) >= TOP_005_PERCENT).sum())
    assert t.num_modes() == count


def test_qm9str_vocabulary():
    qm9 = blocks_from_asset("qm9str-blocks")
    assert len(qm9) == 11 and [b.index for b in qm9] == list(range(11))
    assert qm9[7].smiles == "c1ccccc1" and qm9[7].r == (0, 3)


@pytest.mark.parametrize("s, smiles", [
    ("00", "CC"), ("000", "CCC"), ("01", "CO"), ("10", "CO"), ("010", "COC"),
    ("aa", "CCCCCC"), ("55", "C=CC=C"), ("44", "O=CC=O"), ("77", "c1ccc(-c2ccccc2)cc1"),
    ("07", "Cc1ccccc1"), ("70", "Cc1ccccc1"), ("777", "c1ccc(-c2ccc(-c3ccccc3)cc2)cc1"),  # para: r = (0, 3)
])
def test_qm9str_hand_checked_chains(s, smiles):
    assert string_to_smiles(s, blocks_from_asset("qm9str-blocks")) == Chem.CanonSmiles(smiles)
