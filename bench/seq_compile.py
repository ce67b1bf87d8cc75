"""Is ``torch.compile`` worth it for a sequence training step? Compile time against the time saved.

tfbind8 at gfnx's TB settings (batch 32, width 128): the scoring forward + TB loss compiled with
``torch.compile`` (default inductor backend, AOT autograd: the backward is compiled too) against the
same code eagerly, CPU microseconds per call (score + loss + backward), and the compile's own CPU
and wall time - which counts against a whole ``molgfn train`` process of ~2,000 rounds.

    .venv/bin/python bench/seq_compile.py [--calls 500]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from molgfn.envs import SequenceEnv  # noqa: E402
from molgfn.objectives.tb import trajectory_balance  # noqa: E402
from molgfn.policies import MLPPolicy  # noqa: E402
from molgfn.sampling import sample_forward  # noqa: E402
from molgfn.trajectories import Trajectories, score  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
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
        return statistics.median(out)

    eager_us, compiled_us = per_call(loss_of), per_call(compiled)
    saved = (eager_us - compiled_us) * 1e-6
    print("command: `.venv/bin/python bench/seq_compile.py " + " ".join(sys.argv[1:]) + "` (1 thread; a shared "
          "machine: CPU times)\n")
    print("| score + TB loss + backward | CPU us per call | compile CPU s (wall) | rounds to repay the compile |")
    print("|---|---|---|---|")
    print(f"| eager | {eager_us:.0f} | - | - |")
    print(f"| torch.compile (inductor) | {compiled_us:.0f} | {compile_cpu:.1f} ({compile_wall:.1f}) | "
          f"{compile_cpu / saved:.0f} |" if saved > 0 else
          f"| torch.compile (inductor) | {compiled_us:.0f} | {compile_cpu:.1f} ({compile_wall:.1f}) | never (slower) |")
    print(f"\ntorch {torch.__version__}")


if __name__ == "__main__":
    main()
