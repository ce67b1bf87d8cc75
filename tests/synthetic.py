"""Synthetic stand-ins for the third-party assets, written by the tests in the assets' own
file formats, so that loading, scoring, training, evaluation and the candidate writer of
tfbind8, qm9str, sehstr and seh-frag run on a machine that has never seen the real data.

Every value is random (fixed seed) or chosen here; nothing is copied from the real files.
Tests check the tasks against what this module wrote (independent of the task code):
  * tfbind8-table: a tab-separated table of every 8-mer and its reverse complement with a
    random E-score; tfbind8-modes: a pickled list of the 10 best strings (tokens '0123');
  * qm9str-table: a pickled dict of all 11^5 strings -> random gap (some negative);
    qm9str-modes: pickled sets ('modes': top 50, 'modes_div_threshold_05': 20 of them);
    qm9str-blocks / sehstr-blocks: block vocabularies of simple chains (C, CC, N, ...);
  * sehstr-trees: npz arrays of random depth-2 trees on the 6 x 18 one-hot features;
    sehstr-modes: a pickled list of strings;
  * seh-frag-blocks: a three-block vocabulary; seh-frag-proxy: the 22 weight arrays of the
    sEH proxy with the real shapes, randomly initialised.
"""

from __future__ import annotations

import gzip
import hashlib
import itertools
import json
import pickle
from dataclasses import replace
from pathlib import Path

import numpy as np

SEED = 0
COMP = {"A": "T", "C": "G", "G": "C", "T": "A"}
CHAIN_BLOCKS = ["C", "CC", "CCC", "N", "CN", "CO", "O", "CCN", "CCO", "NC", "CCCC",
                "OC", "NCC", "OCC", "CNC", "COC", "CCCO", "CCCN"]  # every inner block has spare H


def _chain_vocab(n: int) -> dict:
    smis = CHAIN_BLOCKS[:n]
    r = {}
    for i, s in enumerate(smis):
        last = len(s) - 1  # atoms are the characters here
        r[str(i)] = [0, last]
    return {"block_name": {str(i): f"b{i}_{s}" for i, s in enumerate(smis)},
            "block_smi": {str(i): s for i, s in enumerate(smis)}, "block_r": r}


def tfbind8_scores() -> dict[str, float]:
    """E-score per canonical pair (the lexicographically smaller of s and its reverse complement)."""
    rng = np.random.default_rng(SEED)
    out = {}
    for t in itertools.product("ACGT", repeat=8):
        s = "".join(t)
        rc = "".join(COMP[c] for c in reversed(s))
        if s <= rc:
            out[s] = float(np.round(rng.uniform(-0.5, 0.5), 5))
    return out


def tfbind8_top(n: int = 10) -> list[str]:
    best: dict[str, float] = {}
    for s, e in tfbind8_scores().items():
        best[s] = e
        best["".join(COMP[c] for c in reversed(s))] = e
    return sorted(best, key=lambda s: (-best[s], s))[:n]


def qm9str_table() -> dict[str, float]:
    rng = np.random.default_rng(SEED + 1)
    keys = ["".join(t) for t in itertools.product("0123456789a", repeat=5)]
    vals = rng.normal(5.0, 2.0, len(keys))  # a few hundred negative entries, as in the real table
    return dict(zip(keys, vals.tolist(), strict=True))


def sehstr_trees(n_trees: int = 40) -> dict[str, np.ndarray]:
    """Depth-2 trees: node 0 splits on feature f0, its children 1, 2 on f1, f2, leaves 3-6."""
    rng = np.random.default_rng(SEED + 2)
    m = 7
    feat = np.zeros((n_trees, m), np.uint32)
    feat[:, :3] = rng.integers(0, 6 * 18, (n_trees, 3))
    thr = np.zeros((n_trees, m))
    thr[:, :3] = 0.5
    left = np.zeros((n_trees, m), np.uint32)
    right = np.zeros((n_trees, m), np.uint32)
    left[:, 0], right[:, 0] = 1, 2
    left[:, 1], right[:, 1] = 3, 4
    left[:, 2], right[:, 2] = 5, 6
    is_leaf = np.zeros((n_trees, m), np.uint8)
    is_leaf[:, 3:] = 1
    value = np.zeros((n_trees, m))
    value[:, 3:] = rng.normal(0.0, 0.3, (n_trees, 4))
    return {"value": value, "feature_idx": feat, "num_threshold": thr, "left": left, "right": right,
            "is_leaf": is_leaf, "missing_go_to_left": rng.integers(0, 2, (n_trees, m)).astype(np.uint8),
            "n_nodes": np.full(n_trees, m, np.int64), "baseline": np.array([4.0])}


def sehstr_reference_score(s: str, arrays: dict[str, np.ndarray]) -> float:
    """The tree walk written out for one string (independent of ``molgfn.chem.trees``)."""
    x = np.zeros(6 * 18)
    for p, c in enumerate(s):
        x[p * 18 + "0123456789abcdefgh".index(c)] = 1.0
    total = float(arrays["baseline"][0])
    for t in range(arrays["value"].shape[0]):
        node = 0
        while not arrays["is_leaf"][t, node]:
            go_left = x[arrays["feature_idx"][t, node]] <= arrays["num_threshold"][t, node]
            node = int(arrays["left"][t, node] if go_left else arrays["right"][t, node])
        total += float(arrays["value"][t, node])
    return total


SEHSTR_MODES = ["000000", "123456", "abcdef", "h0h0h0"]
FRAG_VOCAB = {"block_name": {"0": "benzene", "1": "methanol", "2": "piperidine"},
              "block_smi": {"0": "c1ccccc1", "1": "CO", "2": "C1CCNCC1"},
              "block_r": {"0": [0, 1, 2], "1": [0, 1], "2": [0, 3]}}


def seh_proxy_arrays() -> list[np.ndarray]:
    from molgfn.chem.seh_proxy import EXPECTED_SHAPES

    rng = np.random.default_rng(SEED + 3)
    return [(rng.standard_normal(shape) * 0.1).astype(np.float32) for shape in EXPECTED_SHAPES]


def write_all(root: Path) -> None:
    """Every synthetic asset under ``root``, at the asset's manifest file name."""
    from molgfn import assets

    def path(name: str) -> Path:
        p = root / assets.get_asset(name).file
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    lines = ["8-mer\t8-mer\tE-score\tMedian\tZ-score\n"]
    for s, e in tfbind8_scores().items():
        lines.append(f"{s}\t{''.join(COMP[c] for c in reversed(s))}\t{e}\t0\t0\n")
    path("tfbind8-table").write_text("".join(lines))
    digits = str.maketrans("ACGT", "0123")
    path("tfbind8-modes").write_bytes(pickle.dumps([s.translate(digits) for s in tfbind8_top()]))
    table = qm9str_table()
    path("qm9str-table").write_bytes(pickle.dumps(table))
    top = sorted(table, key=lambda k: -table[k])
    path("qm9str-modes").write_bytes(pickle.dumps({"modes": set(top[:50]), "modes_div_threshold_05": set(top[:50:5])}))
    path("qm9str-blocks").write_text(json.dumps(_chain_vocab(11)))
    with open(path("sehstr-trees"), "wb") as f:
        np.savez(f, **sehstr_trees())
    path("sehstr-modes").write_bytes(pickle.dumps(SEHSTR_MODES))
    path("sehstr-blocks").write_text(json.dumps(_chain_vocab(18)))
    path("seh-frag-blocks").write_text(json.dumps(FRAG_VOCAB))
    path("seh-frag-proxy").write_bytes(gzip.compress(pickle.dumps(seh_proxy_arrays()), mtime=0))  # .pkl.gz


def synthetic_manifest(root: Path) -> dict:
    """The project's manifest with each asset's sha256 replaced by that of the synthetic file."""
    from molgfn import assets

    out = {}
    for name, a in assets.manifest().items():
        p = root / a.file
        out[name] = replace(a, sha256=hashlib.sha256(p.read_bytes()).hexdigest()) if p.is_file() else a
    return out
