"""Tiny fragment vocabularies and tasks whose state space can be enumerated."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import torch

from molgfn.fragtask import FragmentTask

TINY_BLOCKS = {  # benzene (join at 0, stem 3 free), CO (join by O, stem on C), N (a cap)
    "block_name": {"0": "benzene", "1": "CO", "2": "N"},
    "block_smi": {"0": "c1ccccc1", "1": "CO", "2": "N"},
    "block_r": {"0": [0, 3], "1": [1, 0], "2": [0]},
}


def write_vocab(folder: Path, blocks: dict = TINY_BLOCKS) -> Path:
    path = Path(folder) / "tiny_blocks.json"
    path.write_text(json.dumps(blocks))
    return path


def hashed_raw(smiles: str, spread: float = 3.0) -> float:
    u = int(hashlib.md5(smiles.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return math.exp(-spread * u)


class TinyFragTask(FragmentTask):
    """Fragment task on a tiny vocabulary with a fixed pseudo-random reward per molecule."""

    name = "tiny-frag"
    reward_exponent = 1.0
    raw_floor = 1e-6

    def raw_scores(self, smiles: list[str]) -> list[float]:
        return [hashed_raw(s) for s in smiles]


def smiles_length(smiles: list[str]) -> list[float]:
    """A user oracle for custom-frag tests: the length of each SMILES."""
    return [float(len(s)) for s in smiles]


def random_rollout(env, n, seed):
    """(n, T + 1, ...) states of n rollouts taking a uniformly random valid action at each step."""
    g = torch.Generator().manual_seed(seed)
    s = env.initial(n)
    states = [s]
    for _ in range(env.traj_len):
        m = env.forward_mask(s)
        a = torch.where(m, torch.rand(m.shape, generator=g), -1.0).argmax(1)
        s = env.step(s, a)
        states.append(s)
    return torch.stack(states, 1)
