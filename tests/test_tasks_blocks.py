"""qm9str and sehstr tasks against the facts published with their data."""

import pytest
import torch

from tasks import get_task

from .conftest import need_assets


def test_qm9str_modes_are_the_top_half_percent():
    need_assets("qm9str-table", "qm9str-modes", "qm9str-blocks")
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


def test_sehstr_scores_and_reward_scale():
    need_assets("sehstr-trees", "sehstr-modes", "sehstr-blocks")
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
    from rdkit import Chem

    assert all(Chem.MolFromSmiles(s) is not None for s in smi)


def test_sehstr_trees_are_rebuilt_from_the_original_pickle(tmp_path, monkeypatch):
    need_assets("sehstr-proxy", "sehstr-modes", "sehstr-blocks")
    import shutil

    from molgfn import assets
    from tests.conftest import SHARED

    for name in ("sehstr-proxy", "sehstr-modes", "sehstr-blocks"):  # everything but sehstr-trees
        dest = tmp_path / assets.get_asset(name).file
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(SHARED / assets.get_asset(name).file, dest)
    monkeypatch.setenv("MOLGFN_DATA", str(tmp_path))
    assert assets.status("sehstr-trees")[0] == "missing"
    assets.require("sehstr-trees")  # usable through its parent
    t = get_task("sehstr")
    assert t.score_strings(["ag550c"])[0] == pytest.approx(7.0333, abs=1e-4)


@pytest.mark.slow
def test_sehstr_num_modes_is_the_threshold_count_over_all_strings():
    """num_modes() must count the set mode_mask() defines: raw >= 6.69886 over all 18^6 strings
    (34M proxy evaluations, a few minutes on one core)."""
    need_assets("sehstr-trees")
    from tasks.sehstr import TOP_005_PERCENT

    t = get_task("sehstr")
    A, L = 18, 6
    w = A ** torch.arange(L - 1, -1, -1)
    chunk = A**5
    count = 0
    for start in range(0, A**L, chunk):
        idx = torch.arange(start, start + chunk)
        count += int((t.ensemble.predict_tokens((idx[:, None] // w) % A) >= TOP_005_PERCENT).sum())
    assert t.num_modes() == count
