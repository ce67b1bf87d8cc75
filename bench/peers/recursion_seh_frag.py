"""molgfn against recursionpharma/gflownet on its own seh_frag task, on the CPU (issue 11).

Each side trains for ``--iterations`` iterations in a fresh child process, the two interleaved
(``--repeats`` times), and reports CPU and wall ms per iteration (median of the iterations after
``--warmup``), peak RSS, reward calls, and the distinct molecules whose sEH proxy score (the
proxy's raw output; 7.5 is the papers' threshold) is above ``--threshold``.

* theirs: ``gflownet.tasks.seh_frag.SEHFragTrainer`` with its own defaults (TB, graph transformer
  width 128 x 4 layers, 64 trajectories per iteration, no replay, temperature conditioning), on the
  CPU, ``num_workers = 0``, no validation or final generation. Its flat reward is proxy / 8, clipped;
  the molecules come from the SQLite log it writes under ``log_dir/train``.
* ours: ``molgfn`` seh-frag at the same batch size and depth by default (``--ours-layers 4``,
  64 trajectories, no replay, 1 gradient step, width 128, TB), or issue 11's round
  (``--ours-issue-round``: 64 + 32 replayed, 3 gradient steps, 2 layers).

Their package is not on PyPI and pins torch 2.1.2 with torch-scatter/-sparse/-cluster; install it in
a separate environment from a checkout (``pip install -e PATH/TO/gflownet`` in that venv, with the
wheels of the torch-geometric extensions for its torch), then pass that venv's python:

    MOLGFN_DATA=../shared/data OMP_NUM_THREADS=1 .venv/bin/python bench/peers/recursion_seh_frag.py \\
        --peer-python /path/to/rp-venv/bin/python --iterations 200 --repeats 3

Without ``--peer-python`` only our side runs (and the table says so).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _result(times: list[tuple[float, float]], warmup: int, reward_calls: int, scores: dict[str, float],
            threshold: float) -> dict:
    kept = times[warmup:] or times
    return {"wall_ms": statistics.median(w for w, _ in kept) * 1e3,
            "cpu_ms": statistics.median(c for _, c in kept) * 1e3,
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "reward_calls": reward_calls,
            "distinct": len(scores), f"above_{threshold}": sum(v > threshold for v in scores.values()),
            "best": max(scores.values(), default=float("nan"))}


def run_ours(args) -> dict:
    sys.path.insert(0, str(ROOT))
    import torch

    from molgfn.config import TrainConfig
    from molgfn.trainer import Trainer
    from tasks import get_task

    torch.set_num_threads(1)
    if args.ours_issue_round:
        settings = dict(batch_size=64, replay_size=32, grad_steps=3, hidden=128, n_layers=2, epsilon=0.05)
    else:
        settings = dict(batch_size=64, replay_size=0, grad_steps=1, hidden=128, n_layers=args.ours_layers,
                        epsilon=0.0)
    task = get_task("seh-frag", device="cpu")
    tr = Trainer(TrainConfig(task="seh-frag", rounds=10**9, seed=args.seed, device="cpu", checkpoint_every=10**9,
                             lr=1e-4 if args.ours_lr is None else args.ours_lr, **settings), task)
    times = []
    for _ in range(args.iterations):
        w, c = time.perf_counter(), time.process_time()
        tr.train_round()
        times.append((time.perf_counter() - w, time.process_time() - c))
    scores = {s: r for s, r in tr.seen.raw.items() if task.is_candidate(s)}
    return _result(times, args.warmup, tr.reward_calls, scores, args.threshold)


def run_theirs(args) -> dict:
    import torch

    try:
        from gflownet.config import Config, init_empty
        from gflownet.tasks.seh_frag import SEHFragTrainer
    except ImportError as e:
        raise SystemExit(f"recursionpharma/gflownet is not importable from {sys.executable}: {e}") from e
    torch.set_num_threads(1)
    log_dir = tempfile.mkdtemp(prefix="rp-seh-frag-")
    cfg = init_empty(Config())
    cfg.log_dir, cfg.device, cfg.overwrite_existing_exp = log_dir, "cpu", True
    cfg.num_training_steps, cfg.num_workers, cfg.seed = args.iterations, 0, args.seed
    cfg.validate_every, cfg.num_final_gen_steps, cfg.print_every = 0, 0, 10**9
    trial = SEHFragTrainer(cfg)
    times: list[tuple[float, float]] = []
    inner = trial.train_batch
    last = [time.perf_counter(), time.process_time()]

    def timed(*a, **k):  # an iteration = sampling (in the data loader) + reward + its gradient step
        out = inner(*a, **k)
        w, c = time.perf_counter(), time.process_time()
        times.append((w - last[0], c - last[1]))
        last[:] = [w, c]
        return out

    trial.train_batch = timed
    last[:] = [time.perf_counter(), time.process_time()]
    trial.run()
    scores: dict[str, float] = {}
    for db in sorted(Path(log_dir, "train").glob("*.db")):
        con = sqlite3.connect(db)
        cols = [r[1] for r in con.execute("PRAGMA table_info(results)")]
        for smi, fr in con.execute("SELECT smi, fr_0 FROM results") if {"smi", "fr_0"} <= set(cols) else []:
            scores[smi] = max(scores.get(smi, float("-inf")), 8.0 * float(fr))  # flat reward = proxy / 8
        con.close()
    return _result(times, args.warmup, args.iterations * trial.cfg.algo.num_from_policy, scores, args.threshold)


def child(python: str, side: str, args) -> dict:
    cmd = [python, __file__, "--child", side, "--iterations", str(args.iterations), "--warmup", str(args.warmup),
           "--seed", str(args.seed), "--threshold", str(args.threshold), "--ours-layers", str(args.ours_layers)]
    cmd += ["--ours-issue-round"] if args.ours_issue_round else []
    cmd += ["--ours-lr", str(args.ours_lr)] if args.ours_lr is not None else []
    out = subprocess.run(cmd, capture_output=True, text=True, env=os.environ | {"OMP_NUM_THREADS": "1"})
    if out.returncode:
        return {"error": (out.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--peer-python", help="python of a venv where recursionpharma/gflownet is installed")
    ap.add_argument("--iterations", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threshold", type=float, default=7.5)
    ap.add_argument("--ours-layers", type=int, default=4, help="GNN layers on our side (theirs: 4)")
    ap.add_argument("--ours-lr", type=float, help="our learning rate (default 1e-4, theirs)")
    ap.add_argument("--ours-issue-round", action="store_true", help="our side runs issue 11's round instead")
    ap.add_argument("--child", choices=["ours", "theirs"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(run_ours(args) if args.child == "ours" else run_theirs(args)))
        return
    sides = {"molgfn": (sys.executable, "ours")}
    if args.peer_python:
        sides["recursionpharma/gflownet"] = (args.peer_python, "theirs")
    rows: dict[str, list[dict]] = {k: [] for k in sides}
    for _ in range(args.repeats):  # interleaved: both sides see the same machine load
        for name, (python, side) in sides.items():
            rows[name].append(child(python, side, args))
            print(name, rows[name][-1], flush=True)
    print(f"\n`{' '.join(sys.argv)}` (CPU, 1 thread; medians over {args.repeats} processes)\n")
    print(f"| tool | wall ms / iteration | CPU ms / iteration | peak RSS (MB) | reward calls | distinct molecules "
          f"| molecules > {args.threshold} | best |")
    print("|---|---|---|---|---|---|---|---|")
    for name, rs in rows.items():
        ok = [r for r in rs if "error" not in r]
        if not ok:
            print(f"| {name} | failed: {rs[0]['error']} | | | | | | |")
            continue
        med = {k: statistics.median(r[k] for r in ok) for k in ok[0]}
        print(f"| {name} | {med['wall_ms']:.0f} | {med['cpu_ms']:.0f} | {med['rss_mb']:.0f} | "
              f"{med['reward_calls']:.0f} | {med['distinct']:.0f} | {med[f'above_{args.threshold}']:.0f} | "
              f"{med['best']:.3f} |")
    if not args.peer_python:
        print("\n(recursionpharma/gflownet not measured: pass --peer-python)")


if __name__ == "__main__":
    main()
