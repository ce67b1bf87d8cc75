"""Training throughput: median ms per round, reward calls per second, peak memory.

Rounds of 32 on-policy + 32 replayed trajectories, 3 gradient steps, MLP width 128 (the
LS-GFN authors' TFBind8 settings). Each configuration runs in a fresh process so its peak
RSS is its own. Reference (LS-GFN authors' code, same settings, a 2-core machine like this):
~4.4 s/round TB, ~3.7 s/round LS-GFN, ~620 MB peak.

    MOLGFN_DATA=../shared/data .venv/bin/python bench/throughput.py [--rounds 100] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

CONFIGS = [
    ("tfbind8", "tb", False),
    ("tfbind8", "tb+ls", True),
    ("rna1", "tb", False),
    ("rna1", "tb+ls", True),
]


def one(task: str, ls: bool, rounds: int, seed: int) -> dict:
    import resource

    import torch

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from molgfn.config import TrainConfig
    from molgfn.trainer import Trainer
    from tasks import get_task

    torch.set_num_threads(1)
    t = get_task(task)
    tr = Trainer(TrainConfig(task=task, rounds=rounds, local_search=ls, seed=seed, device="cpu"), t)
    tr.train_round()  # warm-up: lazy tables, worker processes
    t0 = time.perf_counter()
    times = []
    calls0 = tr.reward_calls
    for _ in range(rounds):
        s = time.perf_counter()
        tr.train_round()
        times.append(time.perf_counter() - s)
    wall = time.perf_counter() - t0
    t.close()
    n = t.num_modes()
    return {
        "median_ms": statistics.median(times) * 1e3,
        "calls_per_s": (tr.reward_calls - calls0) / wall,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "modes": len(tr.modes_found) if n else None,
        "reward_calls": tr.reward_calls,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--child", nargs=4)
    a = ap.parse_args()
    if a.child:
        task, ls, rounds, seed = a.child
        print(json.dumps(one(task, ls == "1", int(rounds), int(seed))))
        return
    rows = []
    for task, name, ls in CONFIGS:
        res = []
        for rep in range(a.repeats):
            out = subprocess.run([sys.executable, __file__, "--child", task, str(int(ls)), str(a.rounds), str(rep)],
                                 capture_output=True, text=True, check=True)
            res.append(json.loads(out.stdout.strip().splitlines()[-1]))
        med = lambda k: statistics.median(r[k] for r in res)  # noqa: E731
        modes = [r["modes"] for r in res if r["modes"] is not None]
        rows.append((task, name, med("median_ms"), med("calls_per_s"), med("peak_rss_mb"),
                     f"{statistics.median(modes):.0f} ({', '.join(map(str, modes))})" if modes else "n/a",
                     res[0]["reward_calls"]))
    cmd = "MOLGFN_DATA=../shared/data .venv/bin/python bench/throughput.py " + " ".join(sys.argv[1:])
    print(f"# throughput ({a.rounds} rounds after 1 warm-up, {a.repeats} runs each, medians; 1 torch thread)\n")
    print(f"command: `{cmd.strip()}`\n")
    print("| task | method | ms / round | reward calls / s | peak RSS (MB) | modes after run (per seed) | calls |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]:.1f} | {r[3]:.0f} | {r[4]:.0f} | {r[5]} | {r[6]} |")


if __name__ == "__main__":
    main()
