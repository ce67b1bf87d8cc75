"""Fragment-molecule benchmark (seh-frag): speed, and modes found at a fixed reward-call budget.

Writes bench/FRAGMENTS.md. Measures, on the CPU, each in a fresh child process (so that peak RSS is
its own), for this checkout and - with ``--baseline [LABEL=]DIR`` (repeatable) - for other checkouts of
molgfn in the same session (interleaved), so that the ratios are measured under the same machine load:
  * the issue-11 round: batch 64 + 32 replayed, 3 gradient steps, GNN width 128 (median wall and
    CPU ms per round, peak RSS), and for this checkout where its CPU time goes (rollout, reward,
    backward rollout, scoring forward, backward pass, optimiser);
  * training rounds per second with the graph-transformer policy (batch 64, TB, sEH proxy reward);
  * sEH proxy molecules per second (the task's oracle on fresh sampled molecules, no cache);
  * after ``--rounds`` x 64 reward calls, for TB and for Logit-GFN + local search, over seeds:
    the number of distinct molecules with proxy score > 7.5 that are pairwise Tanimoto < 0.7
    (Morgan radius 2, 2048 bits; greedy in order of score, as in Bengio et al. 2021), the best
    score, the mean of the top-10 distinct molecules and the count above 7.0.

The "proxy score" is the proxy's raw output (the normalised docking score the 7.5
threshold of the papers refers to); the reward is (max(score, 0.1) / 8)^10.

Run: MOLGFN_DATA=../shared/data OMP_NUM_THREADS=1 .venv/bin/python bench/fragments.py --rounds 100 --seeds 0 1 2 \
        [--baseline issue=/path/to/old/checkout --baseline main=/path/to/main] [--modes-baselines main]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import harness
import numpy as np
import torch
from harness import median, parser

ROOT = harness.ROOT
if "--tree" in sys.argv:  # a child process measuring another checkout
    ROOT = Path(sys.argv[sys.argv.index("--tree") + 1]).resolve()
    sys.path.insert(0, str(ROOT))

from molgfn.tasks import get_task  # noqa: E402

from molgfn.config import TrainConfig  # noqa: E402
from molgfn.metrics import diverse_modes  # noqa: E402
from molgfn.trainer import Trainer  # noqa: E402

METHODS = {
    "TB": dict(objective="tb"),
    "Logit-GFN + LS": dict(objective="tb", conditioning="logit", beta_dist="uniform:1,3", local_search=True,
                           ls_iterations=7, ls_filter="greedy"),
}
COMMON = dict(batch_size=64, replay_size=32, grad_steps=1, lr=1e-3, lr_logz=0.1, epsilon=0.05, hidden=64,
              n_layers=2, device="cpu", checkpoint_every=10**9)


def run_method(name: str, seed: int, rounds: int) -> dict:
    task = get_task("seh-frag", device="cpu")
    cfg = TrainConfig(task="seh-frag", rounds=rounds, seed=seed, **COMMON, **METHODS[name])
    tr = Trainer(cfg, task)
    t0 = time.perf_counter()
    tr.train()
    wall = time.perf_counter() - t0
    smiles = [s for s in tr.seen.raw if task.is_candidate(s)]
    scores = [tr.seen.raw[s] for s in smiles]
    top = sorted(scores, reverse=True)[:10]
    return {"method": name, "seed": seed, "reward_calls": tr.reward_calls, "distinct": len(smiles),
            "modes_7.5": diverse_modes(smiles, scores, 7.5), "above_7.0": int(sum(s > 7.0 for s in scores)),
            "best": max(scores), "top10_mean": float(np.mean(top)), "wall_s": wall}


ISSUE_ROUND = dict(batch_size=64, replay_size=32, grad_steps=3, hidden=128, n_layers=2, lr=1e-3, epsilon=0.05,
                   device="cpu", checkpoint_every=10**9)


PHASES = {"rollout": ("molgfn.trainer", "sample_forward"), "reward (RDKit + sEH proxy)": ("trainer", "_evaluate"),
          "backward rollout (replay)": ("molgfn.trainer", "sample_backward"),
          "scoring forward (x grad steps)": ("molgfn.trainer", "score"),
          "backward pass (x grad steps)": ("torch.Tensor", "backward"), "Adam": ("opt", "step")}


def issue_round(rounds: int = 8, phases: bool = False) -> dict:
    """Median wall and CPU ms of the issue-11 round (after 2 warm-up rounds) and this process's peak RSS;
    with ``phases``, the mean CPU ms per round spent in each of ``PHASES`` (timed by wrapping them)."""
    import importlib
    import resource

    task = get_task("seh-frag", device="cpu")
    tr = Trainer(TrainConfig(task="seh-frag", rounds=10**6, seed=0, **ISSUE_ROUND), task)
    spent = dict.fromkeys(PHASES, 0.0)
    if phases:
        for label, (owner, name) in PHASES.items():
            obj = {"trainer": tr, "opt": tr.opt, "torch.Tensor": torch.Tensor}.get(owner)
            obj = importlib.import_module(owner) if obj is None else obj
            setattr(obj, name, _timed(getattr(obj, name), spent, label))
    for _ in range(2):
        tr.train_round()
    spent.update(dict.fromkeys(PHASES, 0.0))
    wall, cpu = [], []
    for _ in range(rounds):
        w, c = time.perf_counter(), time.process_time()
        tr.train_round()
        wall.append(time.perf_counter() - w)
        cpu.append(time.process_time() - c)
    return {"wall_ms": median(wall) * 1e3, "cpu_ms": median(cpu) * 1e3,
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "phases_ms": {k: v / rounds * 1e3 for k, v in spent.items()} if phases else {}}


def _timed(fn, spent: dict, label: str):
    def wrapper(*args, **kwargs):
        c = time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            spent[label] += time.process_time() - c
    return wrapper


def child(tree: Path, what: str, *args) -> dict:
    return harness.child([__file__, "--tree", tree, "--child", what, *args])


def proxy_speed(n: int = 512) -> float:
    from molgfn.sampling import sample_forward

    task = get_task("seh-frag", device="cpu")
    torch.manual_seed(0)
    pol = task.env.make_policy(TrainConfig(hidden=32, n_layers=1))
    smiles = []
    while len(set(smiles)) < n:
        smiles += task.env.to_strings(sample_forward(task.env, pol, torch.ones(256)).terminals)
    smiles = list(dict.fromkeys(smiles))[:n]
    oracle = task.oracle
    oracle.cache_size = 0
    oracle.clear_cache()
    oracle.raw(smiles[:32])  # warm-up
    t0 = time.perf_counter()
    oracle.raw(smiles)
    return n / (time.perf_counter() - t0)


def rounds_per_second(rounds: int = 5) -> tuple[float, float]:
    """(TB rounds/s with the sEH reward, the same without the oracle's share)."""
    task = get_task("seh-frag", device="cpu")
    tr = Trainer(TrainConfig(task="seh-frag", rounds=rounds + 1, seed=0, **COMMON), task)
    tr.train_round()  # warm-up
    oracle_time = 0.0
    raw_scores = task.raw_scores

    def timed(smiles):
        nonlocal oracle_time
        t = time.perf_counter()
        out = raw_scores(smiles)
        oracle_time += time.perf_counter() - t
        return out

    task.raw_scores = timed
    t0 = time.perf_counter()
    for _ in range(rounds):
        tr.train_round()
    wall = time.perf_counter() - t0
    return rounds / wall, rounds / (wall - oracle_time)


def main() -> None:
    ap = parser(seeds=[0, 1, 2])
    ap.add_argument("--rounds", type=int, default=40, help="training rounds per run (64 reward calls each)")
    ap.add_argument("--repeats", type=int, default=3, help="child processes per tree for the issue-11 round")
    ap.add_argument("--baseline", action="append", default=[], metavar="[LABEL=]DIR",
                    help="another molgfn checkout to measure in the same session (repeatable)")
    ap.add_argument("--modes-baselines", nargs="*", metavar="LABEL",
                    help="the baselines that also run the modes benchmark (default: all)")
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("FRAGMENTS.md"))
    ap.add_argument("--tree", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        what, *rest = args.child
        res = (issue_round(phases=bool(rest)) if what == "round"
               else run_method(rest[0], int(rest[1]), int(rest[2])))
        print(json.dumps(res))
        return
    threads = torch.get_num_threads()
    baselines = {}
    for b in args.baseline:
        label, _, path = b.rpartition("=")
        baselines[label or ("baseline" if len(args.baseline) == 1 else Path(path).name)] = Path(path).resolve()
    trees = {"this checkout": ROOT} | baselines
    modes_trees = {k: v for k, v in trees.items()
                   if k == "this checkout" or args.modes_baselines is None or k in args.modes_baselines}
    timing: dict[str, list[dict]] = {k: [] for k in trees}
    phases = child(ROOT, "round", "phases")["phases_ms"]  # its own process: the wrappers cost a little
    print("phases", phases, flush=True)
    for _ in range(args.repeats):  # interleaved, so every tree sees the same load
        for k, tree in trees.items():
            timing[k].append(child(tree, "round"))
            print(k, timing[k][-1], flush=True)
    rps, rps_no_oracle = rounds_per_second()
    print(f"rounds/s {rps:.3f} (without oracle {rps_no_oracle:.3f})", flush=True)
    mps = proxy_speed()
    print(f"proxy {mps:.0f} mol/s", flush=True)
    rows = []
    for name in METHODS:
        for seed in args.seeds:
            for k, tree in modes_trees.items():
                r = child(tree, "modes", name, seed, args.rounds)
                r["tree"] = k
                print(r, flush=True)
                rows.append(r)
    seeds = " ".join(map(str, args.seeds))
    cmd = (f"MOLGFN_DATA=../shared/data OMP_NUM_THREADS={threads} .venv/bin/python bench/fragments.py "
           f"--rounds {args.rounds} --seeds {seeds} --repeats {args.repeats}"
           + "".join(f" --baseline {k}=DIR" for k in baselines)
           + (f" --modes-baselines {' '.join(args.modes_baselines)}" if args.modes_baselines is not None else ""))

    def med(k: str, key: str) -> float:
        return median(r[key] for r in timing[k])

    lines = [
        "# Fragment molecules (seh-frag): speed and modes at a fixed budget",
        "",
        f"Made by `{cmd}` on {platform.processor() or platform.machine()}, CPU only, {threads} torch threads "
        "(**no GPU was available**; see bench/GPU.md). The machine was shared with other jobs: wall times "
        "vary with their load, so the table gives CPU time too, and ratios come from interleaved runs.",
        "",
        "## The issue-11 round: batch 64 + 32 replayed, 3 gradient steps, GNN width 128, TB, sEH reward",
        "",
        f"Medians over {args.repeats} fresh processes (each: 2 warm-up rounds, median of 8).",
        "",
        "| checkout | wall ms / round | CPU ms / round | peak RSS (MB) |",
        "|---|---|---|---|",
    ]
    for k in trees:
        lines.append(f"| {k} | {med(k, 'wall_ms'):.0f} | {med(k, 'cpu_ms'):.0f} | {med(k, 'rss_mb'):.0f} |")
    for k in baselines:
        wall = med(k, "wall_ms") / med("this checkout", "wall_ms")
        cpu = med(k, "cpu_ms") / med("this checkout", "cpu_ms")
        lines += ["", f"Speed-up ({k} / this checkout): wall {wall:.2f}x, CPU {cpu:.2f}x."]
    total = sum(phases.values())
    lines += ["", "Where this checkout's CPU time goes in the round (one more process, each phase timed by "
              "wrapping it; the rest is bookkeeping):", "", "| phase | CPU ms / round | share |", "|---|---|---|"]
    lines += [f"| {k} | {v:.0f} | {v / max(total, 1e-9):.0%} |" for k, v in phases.items()]
    lines += [
        "",
        "| measure (this checkout) | value |",
        "|---|---|",
        f"| training rounds/s, batch 64 (+32 replay), GNN width 64, 1 grad step, TB, sEH reward | {rps:.2f} |",
        f"| same, excluding the time spent in the sEH proxy | {rps_no_oracle:.2f} |",
        f"| sEH proxy molecules/s (CPU, fresh molecules, no cache) | {mps:.0f} |",
        "",
        f"## Modes after {args.rounds * 64} reward calls ({args.rounds} rounds x 64)",
        "",
        "Proxy score = the proxy's raw output (normalised docking score). Mode = distinct molecule with score "
        "> 7.5, kept greedily in order of score when its Tanimoto similarity (Morgan r=2, 2048 bits) to every "
        "kept one is < 0.7. Settings: " + ", ".join(f"{k}={v}" for k, v in COMMON.items() if k != "checkpoint_every")
        + "; Logit-GFN + LS: beta ~ U[1, 3], logit scaling, 7 local-search iterations, K = 5, greedy filter.",
        "",
        "| checkout | method | seed | reward calls | distinct molecules | modes > 7.5 | molecules > 7.0 | "
        "best score | top-10 mean | wall s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['tree']} | {r['method']} | {r['seed']} | {r['reward_calls']} | {r['distinct']} | "
                     f"{r['modes_7.5']} | {r['above_7.0']} | {r['best']:.3f} | {r['top10_mean']:.3f} | "
                     f"{r['wall_s']:.0f} |")
    lines += ["", "| checkout | method | modes > 7.5 (mean over seeds) | molecules > 7.0 (mean) | best score (mean) | "
              "top-10 mean (mean) |", "|---|---|---|---|---|---|"]
    for k in modes_trees:
        for name in METHODS:
            rs = [r for r in rows if r["method"] == name and r["tree"] == k]
            lines.append(f"| {k} | {name} | {np.mean([r['modes_7.5'] for r in rs]):.2f} | "
                         f"{np.mean([r['above_7.0'] for r in rs]):.1f} | {np.mean([r['best'] for r in rs]):.3f} | "
                         f"{np.mean([r['top10_mean'] for r in rs]):.3f} |")
    lines += ["", "The papers count modes after 10^5-10^6 reward calls; at this budget the counts are small and "
              "differ by less than the seed-to-seed spread: read them as a check that the faster code finds "
              "molecules as good as before at equal reward calls, not as a ranking."]
    args.out.write_text("\n".join(lines) + "\n")
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
