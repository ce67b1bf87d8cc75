"""`molgfn fragments build` (vocabularies from the user's molecules) and `--seed-molecules` (known
molecules as fragment trees of the vocabulary): issue 20, "their fragments, their actives"."""

from __future__ import annotations

import json

import pytest
import torch
from rdkit import Chem
from typer.testing import CliRunner

from molgfn.chem.fragmentation import MARK, build_vocabulary, vocabulary_json
from molgfn.config import TrainConfig
from molgfn.envs.fragments import FragmentEnv, FragmentVocab
from molgfn.seeding import decompose, decompose_all, seed_states
from molgfn.trainer import Trainer

# a small public set: known drugs (their usual SMILES)
DRUGS = [
    "CC(=O)Nc1ccc(O)cc1",  # paracetamol
    "CC(C)Cc1ccc(C(C)C(=O)O)cc1",  # ibuprofen
    "COc1ccc2[nH]cc(CCN(C)C)c2c1",  # 5-MeO-DMT
    "CN1CCN(c2ccccc2)CC1",
    "O=C(Nc1ccccc1)N1CCCC1",
    "COc1ccc(CC(=O)NC2CCCCC2)cc1",
    "Cc1ccc(NC(=O)c2ccc(CN3CCN(C)CC3)cc2)cc1Nc1nccc(-c2cccnc2)n1",  # imatinib
    "CC(C)NCC(O)COc1cccc2ccccc12",  # propranolol
    "CN1C(=O)CN=C(c2ccccc2)c2cc(Cl)ccc21",  # diazepam
    "C[C@H](N)Cc1ccccc1",  # amphetamine (stereo is removed)
]


def canon(s: str) -> str:
    m = Chem.MolFromSmiles(s)
    Chem.RemoveStereochemistry(m)
    return Chem.MolToSmiles(m)


def write(path, vocab: dict):
    path.write_text(vocabulary_json(vocab))
    return path


def random_done_states(env: FragmentEnv, n: int, seed: int, min_blocks: int = 3) -> torch.Tensor:
    """States of a uniformly random policy (stop allowed from ``min_blocks`` blocks, or when nothing else is)."""
    g = torch.Generator().manual_seed(seed)
    s = env.initial(n)
    for _ in range(env.traj_len):
        m = env.forward_mask(s)
        m[:, 0] &= env.num_blocks(s) >= min_blocks
        m[:, 0] |= ~m[:, 1:].any(1)
        s = env.step(s, torch.multinomial(m.float(), 1, generator=g)[:, 0])
    return s


def test_build_keeps_the_most_frequent_fragments_as_blocks_with_attachment_points(vocab_file):
    lib = DRUGS + ["not a smiles", "[Fe+2]", "C", "c1ccccc1C(C)(c1ccccc1)c1ccccc1"]
    vocab, rep = build_vocabulary(lib, "brics", max_blocks_in_vocab=100, max_stems=2)
    assert rep.molecules == len(lib) and rep.dropped["unparsable SMILES"] == 1
    assert rep.dropped["unsupported atoms (Fe)"] == 1
    assert any(why.startswith("no bond the rules cut") for why in rep.dropped)
    assert rep.dropped_pieces["more than 2 attachment points"] >= 1  # the trityl-like centre (3 cuts)
    assert rep.notes["stereochemistry removed"] == 1
    path = vocab_file(vocab)
    assert FragmentVocab.load(path, check=False).stems == FragmentVocab.load(path).stems  # every stem is usable
    counts = [vocab["block_count"][k] for k in sorted(vocab["block_smi"], key=int)]
    assert counts == sorted(counts, reverse=True)  # most frequent first
    # paracetamol cut by BRICS: acetyl | NH | 4-hydroxyphenyl; the NH joins two blocks on one atom
    smis = set(vocab["block_smi"].values())
    assert {"CC=O", "N", "Oc1ccccc1"} <= smis
    n_block = next(k for k, s in vocab["block_smi"].items() if s == "N")
    assert vocab["block_r"][n_block] == [0, 0]
    # a fragment with two non-equivalent attachment atoms gives one block per choice of r[0]
    variants = [r for k, r in vocab["block_r"].items() if vocab["block_name"][k].startswith("*CC(*)=O_")]
    assert sorted(variants) == [[0, 1], [1, 0]]
    # ... and one only when the attachment atoms are symmetry-equivalent (para-phenylene, ethylene)
    assert [r for k, r in vocab["block_r"].items() if vocab["block_name"][k].startswith("*CC*_")] == [[0, 1]]
    assert [r for k, r in vocab["block_r"].items() if vocab["block_name"][k].startswith("*c1ccc(*)cc1_")] == [[2, 5]]
    small, rep2 = build_vocabulary(lib, "brics", max_blocks_in_vocab=5, max_stems=2)
    assert 1 <= len(small["block_smi"]) <= 5 and rep2.dropped_pieces
    assert any("beyond the 5-block vocabulary" in why for why in rep2.dropped_pieces)


@pytest.fixture
def vocab_file(tmp_path):
    """Writes a vocabulary dict to a new JSON file in the test's folder; returns its path."""
    n = iter(range(100))
    return lambda vocab: write(tmp_path / f"vocab{next(n)}.json", vocab)


def test_recap_cuts_the_named_bonds_and_keeps_every_atom():
    vocab, rep = build_vocabulary(["CC(=O)Nc1ccc(O)cc1", "CC(=O)OCC"], "recap", 50, 4)
    assert rep.rules == {"RECAP amide": 1, "RECAP ester": 1}
    assert sorted(vocab["block_smi"].values()) == ["CC=O", "CCO", "Nc1ccc(O)cc1"]  # the acetyl of both, once
    assert vocab["block_count"]["0"] == 2 and vocab["block_smi"]["0"] == "CC=O"


def test_fragments_build_command_writes_atomically_and_never_over_a_foreign_file(tmp_path):
    from cli import app

    lib = tmp_path / "library.smi"
    lib.write_text("\n".join(DRUGS) + "\n")
    out = tmp_path / "blocks.json"
    res = CliRunner().invoke(app, ["fragments", "build", str(lib), "-o", str(out), "--max-blocks-in-vocab", "30"])
    assert res.exit_code == 0, res.output
    assert "10 molecules read" in res.output and "blocks" in res.output
    raw = json.loads(out.read_text())
    assert raw[MARK]["method"] == "brics" and 1 <= len(raw["block_smi"]) <= 30
    FragmentVocab.load(out)
    # its own file may be rebuilt; a file molgfn did not write is refused without --force
    res = CliRunner().invoke(app, ["fragments", "build", str(lib), "-o", str(out), "--method", "recap"])
    assert res.exit_code == 0, res.output
    assert json.loads(out.read_text())[MARK]["method"] == "recap"
    foreign = tmp_path / "mine.json"
    foreign.write_text('{"my": "data"}')
    res = CliRunner().invoke(app, ["fragments", "build", str(lib), "-o", str(foreign)])
    assert res.exit_code == 2 and "molgfn did not write it" in res.output
    assert foreign.read_text() == '{"my": "data"}'
    res = CliRunner().invoke(app, ["fragments", "build", str(lib), "-o", str(foreign), "--method", "nope"])
    assert res.exit_code == 2 and "--method must be brics or recap" in res.output
    assert not list(tmp_path.glob(".*.tmp"))


def test_molecules_of_the_environment_decompose_and_rebuild_identically(request, vocab_file):
    from molgfn.envs.fragments import load_vocab
    from tests.conftest import frag_vocab_path

    for vocab in (load_vocab(frag_vocab_path(request)[0]), FragmentVocab.load(vocab_file(
            build_vocabulary(DRUGS, "brics", 200, 4)[0]))):
        env = FragmentEnv(vocab, 4)
        states = random_done_states(env, 12, seed=1)
        smiles = [s for s in env.to_strings(states) if s and not s.startswith("!")]
        assert len(smiles) >= 8
        for smi, d in zip(smiles, decompose_all(smiles, env), strict=True):
            assert d.row is not None, (smi, d.reason)
            assert env.smiles_of_row(d.row) == smi
            blk, par = d.row[: env.M], d.row[env.M: 2 * env.M]
            assert all(par[i] < i for i in range(env.M) if blk[i] >= 0)  # parents in lower slots
            assert env.forward_mask(torch.tensor([d.row]))[0].sum() == 0  # a done state


def test_known_molecules_decompose_into_a_vocabulary_built_from_them(vocab_file):
    vocab, _ = build_vocabulary(DRUGS, "brics", 200, 4)
    env = FragmentEnv(FragmentVocab.load(vocab_file(vocab)), 12)  # imatinib: 11 BRICS pieces
    for smi, d in zip(DRUGS, decompose_all(DRUGS, env), strict=True):
        if "Cl" in smi:  # diazepam: BRICS cuts none of its bonds, so the vocabulary has no block of it
            assert d.row is None and d.reason.startswith("no block matches fragment *C1=NCC(=O)N(*)c2ccc(*)cc21")
            continue
        assert d.row is not None, (smi, d.reason)
        assert env.smiles_of_row(d.row) == canon(smi)
    assert decompose_all(DRUGS[-1:], env)[0].notes == ("stereochemistry removed",)


def test_molecules_that_cannot_be_expressed_say_why(tmp_path, vocab_file):
    vocab, _ = build_vocabulary(DRUGS[:2], "brics", 200, 4)  # paracetamol and ibuprofen pieces only
    env = FragmentEnv(FragmentVocab.load(vocab_file(vocab)), 4)
    d = decompose("CC(=O)Nc1ccc(O)cc1", env)
    assert d.row is not None
    d = decompose("CC(=O)Nc1ccc(Cl)cc1", env)  # a chlorophenyl is no block
    assert d.row is None and d.reason.startswith("no block matches fragment") and "Cl" in d.reason
    d = decompose("CC(C)Cc1ccc(Nc2ccc(C(C)C(=O)O)cc2)cc1", env)  # blocks of both, but 5 of them
    assert d.row is None and d.reason == "too many blocks (> max_blocks 4)"
    assert decompose("C1CC", env).reason == "unparsable SMILES"
    f = tmp_path / "actives.smi"
    f.write_text("smiles\nCC(=O)Nc1ccc(O)cc1 paracetamol\n\n# a comment\nCC(=O)Nc1ccc(Cl)cc1\nCC(=O)Nc1ccc(O)cc1\n")
    lines: list[str] = []
    rows, decs = seed_states(f, env, lines.append)
    assert len(rows) == 1 and len(decs) == 3  # the duplicate is one seed
    assert lines[0].startswith("seed molecule 2 CC(=O)Nc1ccc(Cl)cc1: cannot be expressed: no block matches")
    assert lines[-1] == "seed molecules: 1 of 3 expressible in the vocabulary (1 not)"


def test_seed_file_errors_are_one_line_and_name_the_option(tmp_path, vocab_file):
    from types import SimpleNamespace

    from molgfn.errors import InputError
    from molgfn.seeding import check_seed_file

    env = FragmentEnv(FragmentVocab.load(vocab_file(build_vocabulary(DRUGS[:2], "brics", 50, 4)[0])), 4)
    task = SimpleNamespace(kind="fragment", env=env, name="qed-frag")
    f = tmp_path / "actives.smi"
    with pytest.raises(InputError, match=r"--seed-molecules .*actives.smi does not exist"):
        check_seed_file(f, task)
    f.write_text("c1ccccc1[Se][Se]c1ccccc1\n")
    lines: list[str] = []
    with pytest.raises(InputError, match="none of its 1 molecules can be expressed"):
        check_seed_file(f, task, lines.append)
    assert "no block matches fragment *[Se]*" in lines[0]
    f.write_text("CC(=O)Nc1ccc(O)cc1\n")
    assert check_seed_file(f, task, lines.append) == 1
    with pytest.raises(InputError, match="task 'tfbind8' is not one"):
        check_seed_file(f, SimpleNamespace(kind="sequence", name="tfbind8"))


@pytest.mark.parametrize("local_search", [False, True])
def test_seed_molecules_are_scored_replayed_and_start_chains_in_round_one(tmp_path, local_search, vocab_file):
    from molgfn.tasks import get_task

    vocab_path = vocab_file(build_vocabulary(DRUGS, "brics", 200, 4)[0])
    seeds = tmp_path / "actives.smi"
    seeds.write_text("\n".join(DRUGS[:4]) + "\n")
    task = get_task("qed-frag", vocab=str(vocab_path), max_blocks=6)
    cfg = TrainConfig(task="qed-frag", rounds=2, batch_size=8, replay_size=4, grad_steps=1, hidden=16, n_layers=1,
                      device="cpu", local_search=local_search, ls_iterations=3, seed_molecules=str(seeds),
                      calibration_every=0)
    tr = Trainer(cfg, task)
    row = tr.train_round()
    want = {canon(s) for s in DRUGS[:4]}
    seen = set(tr.seen.count)
    assert want <= seen
    assert row["reward_calls"] == 8 + (3 if local_search else 4)  # a seed chain replaces a sampled chain
    in_buffer = set(tr.env.to_strings(tr.buffer.objects[: tr.buffer.size]))
    assert want <= in_buffer
    assert row["best_raw"] >= max(task.raw_scores(sorted(want)))
    row = tr.train_round()  # seeds are used in round one only
    assert row["reward_calls"] == 16 + (3 if local_search else 4)


def test_train_on_a_built_vocabulary_generates_molecules_of_its_blocks(tmp_path, vocab_file):
    from molgfn.tasks import get_task

    vocab, _ = build_vocabulary(DRUGS, "brics", 40, 3)
    path = vocab_file(vocab)
    task = get_task("qed-frag", vocab=str(path), max_blocks=4)
    assert task.env.vocab.smiles == tuple(vocab["block_smi"][str(i)] for i in range(len(vocab["block_smi"])))
    cfg = TrainConfig(task="qed-frag", rounds=3, batch_size=8, replay_size=4, grad_steps=1, hidden=16, n_layers=1,
                      device="cpu", calibration_every=0)
    tr = Trainer(cfg, task)
    tr.train(3)
    states = tr.sample(16)
    smiles = tr.env.to_strings(states)
    assert all(s and not s.startswith("!") for s in smiles)
    # every molecule is a tree of the vocabulary's blocks, and splits back into them
    other = FragmentEnv(FragmentVocab.load(path), 4)
    for smi, d in zip(smiles, decompose_all(smiles, other), strict=True):
        assert d.row is not None and other.smiles_of_row(d.row) == smi, (smi, d.reason)


def test_resume_refuses_other_seed_molecules(tmp_path, vocab_file):
    # seeds act in round one only: another file given on --resume would be silently ignored (and misrecorded)
    import cli

    vocab_path = vocab_file(build_vocabulary(DRUGS, "brics", 200, 4)[0])
    seeds, other = tmp_path / "actives.smi", tmp_path / "other.smi"
    seeds.write_text("\n".join(DRUGS[:3]) + "\n")
    other.write_text("\n".join(DRUGS[3:5]) + "\n")
    base = ["train", "--task", "qed-frag", "--vocab", str(vocab_path), "--max-blocks", "6", "--batch-size", "8",
            "--replay-size", "4", "--hidden", "16", "--layers", "1", "--device", "cpu", "--quiet", "--out",
            str(tmp_path / "run")]
    r = CliRunner().invoke(cli.app, [*base, "--rounds", "1", "--seed-molecules", str(seeds)])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(cli.app, [*base, "--rounds", "2", "--resume", "--seed-molecules", str(other)])
    assert r.exit_code == 2 and "--seed-molecules" in r.output and "contradict" in r.output, r.output
    r = CliRunner().invoke(cli.app, [*base, "--rounds", "2", "--resume", "--seed-molecules", str(seeds)])
    assert r.exit_code == 0, r.output  # the same file: fine
