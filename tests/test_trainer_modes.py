"""The trainer's fast train/eval switch sets every module's flag as Module.train would: the policy
samples in eval mode and takes gradient steps in train mode, with the plain and the fallback path."""

from __future__ import annotations

import torch

from molgfn.config import TrainConfig
from molgfn.trainer import Trainer

from .helpers import TableTask


class _Custom(torch.nn.Identity):
    def train(self, mode: bool = True):  # an override: the trainer must fall back to Module.train
        self.calls = getattr(self, "calls", 0) + 1
        return super().train(mode)


def _modes_seen(tr: Trainer) -> list[tuple[bool, bool]]:
    seen = []
    mods = list(tr.policy.modules())
    for mod in mods:  # every module: the rollout's fast path calls only some (the logit scale g(beta))
        mod.register_forward_pre_hook(lambda m, a: seen.append((m.training, all(x.training == m.training
                                                                                 for x in mods))))
    tr.train_round()
    return seen


def test_rollout_in_eval_and_gradient_step_in_train_mode():
    for custom in (False, True):
        tr = Trainer(TrainConfig(task="table", hidden=16, batch_size=8, replay_size=0, device="cpu",
                                 conditioning="logit"),  # the rollout calls g(beta) (a hook sees it)
                     TableTask("AB", 3, seed=0))
        if custom:
            tr.policy.extra = _Custom()
        seen = _modes_seen(tr)
        assert all(same for _, same in seen)  # every submodule agrees with the policy, every call
        modes = [m for m, _ in seen]
        assert modes[0] is False and modes[-1] is True and modes == sorted(modes)  # eval calls, then train
        assert all(m.training for m in tr.policy.modules())
        assert getattr(getattr(tr.policy, "extra", None), "calls", 0) == (2 if custom else 0)
