"""molgfn.adam.FusedAdam against torch.optim.Adam(fused=True): the same parameters step for step,
state dicts that load either way, and no torch._dynamo import in a training process."""

import copy
import os
import subprocess
import sys
from pathlib import Path

import torch

from molgfn.adam import FusedAdam
from molgfn.policies import MLPPolicy

ROOT = Path(__file__).resolve().parents[1]


def _pair():
    torch.manual_seed(0)
    a = MLPPolicy(12, 4, 2, hidden=16)
    return a, copy.deepcopy(a)


def _grads(models, seed):
    g = torch.Generator().manual_seed(seed)
    for ps in zip(*(m.parameters() for m in models), strict=True):
        d = torch.randn(ps[0].shape, generator=g)
        for p in ps:
            p.grad = d.clone()


def _equal(m1, m2):
    return all(torch.equal(p, q) for p, q in zip(m1.parameters(), m2.parameters(), strict=True))


def test_steps_equal_torch_fused_adam_bit_for_bit():
    ours, ref = _pair()
    opt = FusedAdam(ours.param_groups(1e-3, 1e-1))
    topt = torch.optim.Adam(ref.param_groups(1e-3, 1e-1), fused=True)
    for k in range(6):
        _grads([ours, ref], k)
        if k == 3:  # a parameter without a gradient is left alone, as torch does
            ours.log_z.value.grad = ref.log_z.value.grad = None
        opt.step()
        topt.step()
        assert _equal(ours, ref)
    sd, tsd = opt.state_dict(), topt.state_dict()
    assert sd["param_groups"] == tsd["param_groups"]
    assert sd["state"].keys() == tsd["state"].keys()
    for i in sd["state"]:
        for k in ("step", "exp_avg", "exp_avg_sq"):
            a, b = sd["state"][i][k], tsd["state"][i][k]
            assert torch.equal(a, b) and a.dtype == b.dtype


def test_state_dicts_load_either_way():
    ours, ref = _pair()
    opt = FusedAdam(ours.param_groups(1e-3, 1e-1))
    topt = torch.optim.Adam(ref.param_groups(1e-3, 1e-1), fused=True)
    for k in range(3):
        _grads([ours, ref], k)
        opt.step()
        topt.step()
    # swap: each continues from the other's state (a checkpoint of an older molgfn, and back)
    ours2, ref2 = copy.deepcopy(ours), copy.deepcopy(ref)
    opt2 = FusedAdam(ours2.param_groups(5.0, 5.0))  # the saved learning rates win, as in torch
    opt2.load_state_dict(topt.state_dict())
    topt2 = torch.optim.Adam(ref2.param_groups(1e-3, 1e-1), fused=True)
    topt2.load_state_dict(copy.deepcopy(opt.state_dict()))  # as from a file: torch's load keeps the tensors
    assert opt2.param_groups[0]["lr"] == 1e-3
    for k in range(3, 6):
        _grads([ours, ref, ours2, ref2], k)
        for o in (opt, topt, opt2, topt2):
            o.step()
    assert _equal(ours, ref) and _equal(ours2, ref) and _equal(ref2, ref)


def test_training_imports_no_dynamo():
    code = ("import sys, torch; from molgfn.config import TrainConfig; from molgfn.trainer import Trainer; "
            "from tests.helpers import TableTask; t = TableTask('AB', 4); "
            "tr = Trainer(TrainConfig(task='x', rounds=3, device='cpu', track_modes=False), t); "
            "[tr.train_round() for _ in range(3)]; tr.state_dict(); print('torch._dynamo' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "False"


def test_probe_accepts_this_torch_and_rejects_a_drifted_kernel(monkeypatch, caplog):
    import logging

    from molgfn import adam

    adam.fused_kernel_problem.cache_clear()
    assert adam.fused_kernel_problem() is None  # this torch's kernel is the textbook update
    assert isinstance(adam.make_adam(MLPPolicy(12, 4, 2, hidden=16).param_groups(1e-3, 1e-1)), FusedAdam)
    real = torch._fused_adam_

    def no_bias_correction(params, grads, m, v, maxv, steps, **kw):  # a changed meaning, same signature
        real(params, grads, m, v, maxv, [torch.ones_like(s) * 1e9 for s in steps], **kw)

    def new_signature(*a, **kw):
        raise TypeError("_fused_adam_() got an unexpected keyword argument 'beta1'")

    for fake in (no_bias_correction, new_signature):
        monkeypatch.setattr(torch, "_fused_adam_", fake)
        adam.fused_kernel_problem.cache_clear()
        with caplog.at_level(logging.INFO, logger="molgfn.adam"):
            opt = adam.make_adam(MLPPolicy(12, 4, 2, hidden=16).param_groups(1e-3, 1e-1))
        assert isinstance(opt, torch.optim.Adam) and not isinstance(opt, FusedAdam)
        assert "torch.optim.Adam" in caplog.text
        caplog.clear()
    monkeypatch.undo()
    adam.fused_kernel_problem.cache_clear()
