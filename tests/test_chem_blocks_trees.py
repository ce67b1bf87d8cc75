"""Block chains (qm9str / sehstr) and the sehstr tree proxy: chain chemistry and the vectorised
tree walk against a node-by-node reference. Each test runs on the real asset when present and on
its synthetic stand-in (tests/synthetic.py) otherwise; the published values (global maximum, mode
range, hand-checked chains of the real vocabularies) are in test_tasks_blocks.py."""

from __future__ import annotations

import itertools
import random
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from rdkit import Chem

from molgfn.assets import resolve
from molgfn.chem.blocks import Block, blocks_from_asset, chain_smiles, load_blocks, string_to_smiles
from molgfn.chem.trees import (
    TreeEnsemble,
    load_tree_arrays,
    one_hot,
    strings_to_tokens,
)
from tests.conftest import real_or_synthetic

SEH_ALPHABET = "0123456789abcdefgh"
QM9_ALPHABET = "0123456789a"


def need(request, name: str) -> Path:
    """The asset's file: the real one when present, else the synthetic one (same format)."""
    real_or_synthetic(request, name)
    return resolve(name)


@pytest.fixture
def qm9(request):
    need(request, "qm9str-blocks")
    return blocks_from_asset("qm9str-blocks")


@pytest.fixture
def seh(request):
    need(request, "sehstr-blocks")
    return blocks_from_asset("sehstr-blocks")


@pytest.fixture
def trees(request) -> Path:
    return need(request, "sehstr-trees")


@pytest.fixture
def ens(trees):
    return TreeEnsemble.from_npz(trees)


def heavy_and_h(smiles: str) -> Counter:
    mol = Chem.AddHs(Chem.MolFromSmiles(smiles))
    return Counter(a.GetSymbol() for a in mol.GetAtoms()) + Counter(charge=Chem.GetFormalCharge(mol))


# ------------------------------------------------------------------------------ blocks


def test_single_blocks_give_their_own_smiles(qm9, seh):
    for blocks, alphabet in ((qm9, QM9_ALPHABET), (seh, SEH_ALPHABET)):
        for i, c in enumerate(alphabet):
            assert string_to_smiles(c, blocks) == Chem.CanonSmiles(blocks[i].smiles)


def test_all_two_block_qm9str_strings_are_valid(qm9):
    for a, b in itertools.product(QM9_ALPHABET, repeat=2):
        smi = string_to_smiles(a + b, qm9)
        assert Chem.MolFromSmiles(smi) is not None, (a + b, smi)


def test_three_block_qm9str_strings_share_molecules(qm9):
    mols = {chain_smiles(k, qm9) for k in itertools.product(range(11), repeat=3)}
    assert 1 < len(mols) < 11 ** 3


def test_random_sehstr_strings_are_valid_and_conserve_atoms(seh):
    rng = random.Random(0)
    for _ in range(200):
        s = "".join(rng.choice(SEH_ALPHABET) for _ in range(6))
        smi = string_to_smiles(s, seh)
        assert Chem.MolFromSmiles(smi) is not None, (s, smi)
        # each of the 5 bonds removes one H from each side; heavy atoms and charge add up
        want = sum((heavy_and_h(seh[SEH_ALPHABET.index(c)].smiles) for c in s), Counter())
        want["H"] -= 2 * (len(s) - 1)
        got = heavy_and_h(smi)
        assert +got == +want, (s, smi)


def test_chain_without_hydrogen_to_give_raises():
    fluor = [Block(0, "F", "F", (0, 0))]
    assert chain_smiles([0, 0], fluor) == "FF"
    with pytest.raises(ValueError, match="hydrogen"):
        chain_smiles([0, 0, 0], fluor)  # the middle F would need two bonds
    with pytest.raises(ValueError, match="hydrogen"):
        chain_smiles([0, 0], [Block(0, "CF4", "FC(F)(F)F", (1, 1))])


def test_bad_strings_raise(qm9):
    with pytest.raises(ValueError):
        string_to_smiles("0b", qm9)  # 'b' = block 11, qm9str has 11 blocks
    with pytest.raises(ValueError):
        string_to_smiles("", qm9)


def test_load_blocks_reads_vocabulary_json(tmp_path):
    p = tmp_path / "v.json"
    p.write_text('{"block_name": {"1": "O", "0": "C"}, "block_smi": {"1": "O", "0": "C"},'
                 ' "block_r": {"0": [0, 0], "1": [0, 0]}}')
    blocks = load_blocks(p)
    assert [b.smiles for b in blocks] == ["C", "O"]
    assert string_to_smiles("101", blocks) == "OCO"


# ------------------------------------------------------------------------------ trees


def naive_predict(arrays: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """Reference: walk each tree node by node for each sample."""
    out = np.full(len(x), float(arrays["baseline"][0]))
    for i, row in enumerate(x):
        for t in range(arrays["value"].shape[0]):
            n = 0
            while not arrays["is_leaf"][t, n]:
                v = row[arrays["feature_idx"][t, n]]
                left = v <= arrays["num_threshold"][t, n] or (np.isnan(v) and arrays["missing_go_to_left"][t, n])
                n = arrays["left"][t, n] if left else arrays["right"][t, n]
            out[i] += arrays["value"][t, n]
    return out


def test_vectorised_paths_match_naive_walk(ens, trees):
    arrays = load_tree_arrays(trees)
    tok = torch.randint(0, 18, (300, 6), generator=torch.Generator().manual_seed(1))
    x = one_hot(tok)
    ref = naive_predict(arrays, x.numpy())
    np.testing.assert_allclose(ens.predict_tokens(tok).numpy(), ref, rtol=0, atol=1e-12)
    np.testing.assert_allclose(ens(x).numpy(), ref, rtol=0, atol=1e-12)
    walked = ens._chunks(ens._walk_tokens, tok)  # the depth walk, used when leaf masks do not fit
    np.testing.assert_allclose(walked.numpy(), ref, rtol=0, atol=1e-12)
    # features that are not one-hot, and missing values
    xr = np.random.default_rng(2).uniform(-1, 2, (50, 108))
    xr[np.random.default_rng(3).random(xr.shape) < 0.1] = np.nan
    np.testing.assert_allclose(ens(xr).numpy(), naive_predict(arrays, xr), rtol=0, atol=1e-12)
    strings = ["".join(SEH_ALPHABET[i] for i in row) for row in tok.tolist()]
    assert torch.equal(strings_to_tokens(strings), tok)
    np.testing.assert_allclose(ens.score_strings(strings).numpy(), ref, rtol=0, atol=1e-12)


def test_strings_to_tokens_rejects_bad_input():
    with pytest.raises(ValueError):
        strings_to_tokens(["ag550"])
    with pytest.raises(ValueError):
        strings_to_tokens(["ag550z"])

