"""Is ``torch.compile`` worth it for a sequence training step? Compile time against the time saved.

tfbind8 at gfnx's TB settings (batch 32, width 128): the scoring forward + TB loss compiled with
``torch.compile`` (default inductor backend, AOT autograd: the backward is compiled too) against the
same code eagerly, CPU microseconds per call (score + loss + backward), and the compile's own CPU
and wall time - which counts against a whole ``molgfn train`` process of ~2,000 rounds.

    .venv/bin/python bench/seq_compile.py [--calls 500]
"""

from __future__ import annotations

import time

import torch
from harness import command, median, parser, print_table

from molgfn.envs import SequenceEnv
from molgfn.objectives.tb import trajectory_balance
from molgfn.policies import MLPPolicy
from molgfn.sampling import sample_forward
from molgfn.trajectories import Trajectories, score


def main() -> None:
    ap = parser()
    ap.add_argument("--calls", type=int, default=500)
    a = ap.parse_args()
    torch.set_num_threads(1)
    env = SequenceEnv("ACGT", 8)
    torch.manual_seed(0)
    pol = MLPPolicy(env.state_dim, env.n_fwd, env.n_bwd, hidden=128)
    t = sample_forward(env, pol, torch.ones(32), 0.01, gen=torch.Generator().manual_seed(0))
    args = (t.states, t.fwd_actions, t.bwd_actions, t.beta, torch.randn(32))

    def loss_of(states, fwd, bwd, beta, log_reward):
        return trajectory_balance(score(env, pol, Trajectories(states, fwd, bwd, beta, log_reward)))[0]

    compiled = torch.compile(loss_of)
    c, w = time.process_time(), time.perf_counter()
    compiled(*args).backward()
    compile_cpu, compile_wall = time.process_time() - c, time.perf_counter() - w

    def per_call(f) -> float:
        for _ in range(20):
            f(*args).backward()
        out = []
        for _ in range(5):
            c = time.process_time()
            for _ in range(a.calls // 5):
                f(*args).backward()
            out.append((time.process_time() - c) / (a.calls // 5) * 1e6)
        return median(out)

    eager_us, compiled_us = per_call(loss_of), per_call(compiled)
    saved = (eager_us - compiled_us) * 1e-6
    print_table(["score + TB loss + backward", "CPU us per call", "compile CPU s (wall)",
                 "rounds to repay the compile"],
                [("eager", f"{eager_us:.0f}", "-", "-"),
                 ("torch.compile (inductor)", f"{compiled_us:.0f}", f"{compile_cpu:.1f} ({compile_wall:.1f})",
                  f"{compile_cpu / saved:.0f}" if saved > 0 else "never (slower)")],
                head=f"command: `{command('.venv/bin/python')}` (1 thread; a shared machine: CPU times)")
    print(f"\ntorch {torch.__version__}")


if __name__ == "__main__":
    main()
