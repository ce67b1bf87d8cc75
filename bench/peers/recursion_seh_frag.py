"""molgfn against recursionpharma/gflownet on its own seh_frag task, on the CPU (issue 11).

Each side trains for ``--iterations`` iterations in a fresh child process, the two interleaved
(``--repeats`` times), and reports CPU and wall ms per iteration (median of the iterations after
``--warmup``), peak RSS, reward calls (trajectories sampled and scored), and the distinct molecules
it generated. Every molecule of both sides is then re-scored here by one proxy implementation
(``molgfn.chem.seh_proxy``, the published weights of Bengio et al. 2021, restricted unpickler), in
both readings of its root weight (SOURCES.md of the reference data):

* "transposed": the weights as recursionpharma/gflownet's ``bengio2021flow.load_original_model``
  loads them (array 2 into ``NNConv.lin`` as is, i.e. ``x @ W.T``): their task's reward;
* "as-trained": ``x @ W``, as the model was trained (molgfn's default).

A molecule's "proxy score" is the network's raw output (the normalised docking score; 7.5 is the
papers' threshold). Their log stores flat reward = clip(raw / 8, 1e-4, 100); 8 x that, for every
molecule it logged, is checked against our "transposed" score of the same SMILES (the printed
cross-check), so the two tools' numbers are the same quantity. Modes: distinct molecules above 7.5,
kept greedily by score when Tanimoto < 0.7 to every kept one (``molgfn.metrics.diverse_modes``).

* theirs: ``gflownet.tasks.seh_frag.SEHFragTrainer`` with its own defaults (TB, graph transformer
  width 128 x 4 layers, 64 trajectories per iteration, no replay, temperature conditioning
  beta ~ U(0.5, 32), Adam lr 1e-4, log Z lr 1e-3, sampling model an EMA with tau 0.9) on the CPU,
  ``num_workers = 0``, no validation or final generation; the proxy weights come from the verified
  ``seh-frag-proxy`` asset (handed over as an .npz; their code would download the same file).
* ours: ``molgfn`` seh-frag at the same batch size, depth and size limit (``--ours-layers 4``, 64
  trajectories, no replay, 1 gradient step, width 128, TB, lr 1e-4, up to 9 blocks), trained on the
  same ("transposed") proxy reading unless ``--ours-as-trained``; or issue 11's round (``--ours-issue-round``).

Their package is not on PyPI; bench/peers/RECURSION.md says how the peer environment was rebuilt.
Pass that environment's python:

    MOLGFN_DATA=../shared/data OMP_NUM_THREADS=1 .venv/bin/python bench/peers/recursion_seh_frag.py \\
        --peer-python /work/peers/rp-venv/bin/python --peer-pythonpath /work/peers/shims --iterations 100 --repeats 3

Without ``--peer-python`` only our side runs (and the table says so).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
THRESHOLDS = (7.5, 7.0)


def _timing(times: list[tuple[float, float]], warmup: int) -> dict:
    kept = times[warmup:] or times
    return {"wall_ms": statistics.median(w for w, _ in kept) * 1e3,
            "cpu_ms": statistics.median(c for _, c in kept) * 1e3,
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "iterations": len(times)}


def run_ours(args) -> dict:
    sys.path.insert(0, str(ROOT))
    import torch
    from molgfn.tasks import get_task

    from molgfn.config import TrainConfig
    from molgfn.trainer import Trainer

    torch.set_num_threads(1)
    if args.ours_issue_round:
        settings = dict(batch_size=64, replay_size=32, grad_steps=3, hidden=128, n_layers=2, epsilon=0.05)
    else:
        settings = dict(batch_size=64, replay_size=0, grad_steps=1, hidden=128, n_layers=args.ours_layers,
                        epsilon=0.0)
    task = get_task("seh-frag", device="cpu", max_blocks=args.ours_max_blocks,
                    root_weight_transposed=not args.ours_as_trained)
    tr = Trainer(TrainConfig(task="seh-frag", rounds=10**9, seed=args.seed, device="cpu", checkpoint_every=10**9,
                             lr=1e-4 if args.ours_lr is None else args.ours_lr, **settings), task)
    times = []
    for _ in range(args.iterations):
        w, c = time.perf_counter(), time.process_time()
        tr.train_round()
        times.append((time.perf_counter() - w, time.process_time() - c))
    scores = {s: float(r) for s, r in tr.seen.raw.items() if task.is_candidate(s)}
    return {**_timing(times, args.warmup), "reward_calls": tr.reward_calls, "scores": scores,
            "versions": {"torch": torch.__version__}}


def run_theirs(args) -> dict:
    import numpy as np
    import torch

    try:
        import torch_geometric
        import torch_scatter
        from gflownet.config import Config, init_empty
        from gflownet.models import bengio2021flow
        from gflownet.tasks.seh_frag import SEHFragTrainer
    except ImportError as e:
        raise SystemExit(f"recursionpharma/gflownet is not importable from {sys.executable}: {e}") from e
    with np.load(args.proxy_npz, allow_pickle=False) as z:  # the published arrays, converted by the parent
        arrays = [z[f"a{i}"] for i in range(len(z.files))]
    bengio2021flow.load_weights = lambda cache, location: arrays  # instead of their download (no network here)
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)  # their sampler draws from torch's global generator
    log_dir = tempfile.mkdtemp(prefix="rp-seh-frag-")
    try:
        cfg = init_empty(Config())
        cfg.log_dir, cfg.device, cfg.overwrite_existing_exp = log_dir, "cpu", True
        cfg.num_training_steps, cfg.num_workers, cfg.seed = args.iterations, 0, args.seed
        cfg.validate_every, cfg.num_final_gen_steps, cfg.print_every = 0, 0, 10**9
        trial = SEHFragTrainer(cfg, print_config=False)
        times: list[tuple[float, float]] = []
        inner = trial.train_batch
        last = [time.perf_counter(), time.process_time()]

        def timed(*a, **k):  # an iteration = sampling + reward + batch building (data loader) + gradient step
            out = inner(*a, **k)
            w, c = time.perf_counter(), time.process_time()
            times.append((w - last[0], c - last[1]))
            last[:] = [w, c]
            return out

        trial.train_batch = timed
        last[:] = [time.perf_counter(), time.process_time()]
        trial.run()
        scores: dict[str, float] = {}
        rows = valid = 0
        for db in sorted(Path(log_dir, "train").glob("*.db")):
            con = sqlite3.connect(db)
            for smi, fr in con.execute("SELECT smi, fr_0 FROM results"):
                rows += 1
                if smi:
                    valid += 1
                    scores[smi] = 8.0 * float(fr)  # flat reward = clip(proxy / 8, 1e-4, 100)
            con.close()
        return {**_timing(times, args.warmup), "reward_calls": rows, "valid": valid, "scores": scores,
                "versions": {"torch": torch.__version__, "torch_geometric": torch_geometric.__version__,
                             "torch_scatter": torch_scatter.__version__}}
    finally:
        shutil.rmtree(log_dir, ignore_errors=True)


def child(python: str, side: str, args, proxy_npz: str, seed: int) -> dict:
    cmd = [python, __file__, "--child", side, "--iterations", str(args.iterations), "--warmup", str(args.warmup),
           "--seed", str(seed), "--ours-layers", str(args.ours_layers),
           "--ours-max-blocks", str(args.ours_max_blocks), "--proxy-npz", proxy_npz]
    cmd += ["--ours-issue-round"] if args.ours_issue_round else []
    cmd += ["--ours-as-trained"] if args.ours_as_trained else []
    cmd += ["--ours-lr", str(args.ours_lr)] if args.ours_lr is not None else []
    env = os.environ | {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "WANDB_MODE": "disabled"}
    if side == "theirs" and args.peer_pythonpath:
        env["PYTHONPATH"] = os.pathsep.join([args.peer_pythonpath] + env.get("PYTHONPATH", "").split(os.pathsep))
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode:
        return {"error": (out.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def rescore(result: dict, oracles: dict) -> dict:
    """Counts under each proxy reading, from our one implementation; the cross-check for their log."""
    from molgfn.metrics import diverse_modes

    smiles = sorted(result["scores"])
    out = {"distinct": len(smiles)}
    for name, oracle in oracles.items():
        raw = oracle.raw(smiles).tolist() if smiles else []
        out[f"{name}_modes"] = diverse_modes(smiles, raw, THRESHOLDS[0])
        for t in THRESHOLDS:
            out[f"{name}_above_{t}"] = sum(r > t for r in raw)
        out[f"{name}_best"] = max(raw, default=float("nan"))
        if name == "transposed":  # their logged score (or our native one) against our transposed reading
            native = [result["scores"][s] for s in smiles]
            diffs = [abs(a - b) for a, b in zip(native, raw, strict=True) if a > 8e-4 + 1e-6]  # below that, clipped
            out["check_max_abs_diff"] = max(diffs, default=float("nan"))
            out["check_n"] = len(diffs)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--peer-python", help="python of a venv where recursionpharma/gflownet is importable")
    ap.add_argument("--peer-pythonpath", help="prepended to PYTHONPATH for their side (e.g. the shims folder)")
    ap.add_argument("--iterations", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--seed-per-repeat", action="store_true", help="repeat r uses seed --seed + r (else all: --seed)")
    ap.add_argument("--ours-layers", type=int, default=4, help="GNN layers on our side (theirs: 4)")
    ap.add_argument("--ours-max-blocks", type=int, default=9, help="our largest molecule in blocks (theirs: 9)")
    ap.add_argument("--ours-lr", type=float, help="our learning rate (default 1e-4, theirs)")
    ap.add_argument("--ours-issue-round", action="store_true", help="our side runs issue 11's round instead")
    ap.add_argument("--ours-as-trained", action="store_true",
                    help="train ours on the as-trained proxy reading (default: theirs, the transposed one)")
    ap.add_argument("--json", help="also write every run's numbers (without the molecule lists) here")
    ap.add_argument("--child", choices=["ours", "theirs"], help=argparse.SUPPRESS)
    ap.add_argument("--proxy-npz", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(run_ours(args) if args.child == "ours" else run_theirs(args)))
        return

    sys.path.insert(0, str(ROOT))
    import numpy as np

    from molgfn.chem.seh_proxy import SEHOracle, load_arrays

    oracles = {"transposed": SEHOracle(root_weight_transposed=True, cache_size=0),
               "as_trained": SEHOracle(root_weight_transposed=False, cache_size=0)}
    tmp = tempfile.mkdtemp(prefix="rp-proxy-")
    proxy_npz = str(Path(tmp, "seh_proxy.npz"))
    np.savez(proxy_npz, **{f"a{i}": a for i, a in enumerate(load_arrays())})  # verified asset, restricted unpickler
    sides = {"molgfn": (sys.executable, "ours")}
    if args.peer_python:
        sides["recursionpharma/gflownet"] = (args.peer_python, "theirs")
    rows: dict[str, list[dict]] = {k: [] for k in sides}
    try:
        for rep in range(args.repeats):  # interleaved: both sides see the same machine load
            for name, (python, side) in sides.items():
                t0 = time.perf_counter()
                seed = args.seed + rep if args.seed_per_repeat else args.seed
                r = child(python, side, args, proxy_npz, seed) | {"seed": seed}
                if "error" not in r:
                    r = {k: v for k, v in r.items() if k != "scores"} | rescore(r, oracles)
                r["process_s"] = round(time.perf_counter() - t0, 1)
                rows[name].append(r)
                print(rep, name, json.dumps(r), f"load average {os.getloadavg()[0]:.2f}", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")

    print(f"\n`{' '.join(sys.argv)}` (CPU, 1 torch thread; medians over {args.repeats} processes; "
          f"load average at the end {os.getloadavg()[0]:.2f})\n")
    print("| tool | wall ms / iteration | CPU ms / iteration | peak RSS (MB) | reward calls | distinct molecules "
          "| modes > 7.5 (T) | molecules > 7.5 / > 7.0 (T) | best (T) | modes > 7.5 (A) | molecules > 7.5 / > 7.0 (A) "
          "| best (A) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, rs in rows.items():
        ok = [r for r in rs if "error" not in r]
        if not ok:
            print(f"| {name} | failed: {rs[0]['error']} |" + " |" * 10)
            continue
        med = {k: statistics.median(r[k] for r in ok) for k in ok[0] if isinstance(ok[0][k], (int, float))}
        cells = [f"{med['wall_ms']:.0f}", f"{med['cpu_ms']:.0f}", f"{med['rss_mb']:.0f}", f"{med['reward_calls']:.0f}",
                 f"{med['distinct']:.0f}"]
        for p in ("transposed", "as_trained"):
            cells += [f"{med[f'{p}_modes']:g}", f"{med[f'{p}_above_7.5']:g} / {med[f'{p}_above_7.0']:g}",
                      f"{med[f'{p}_best']:.3f}"]
        print(f"| {name} | " + " | ".join(cells) + " |")
    print("\n(T): scored by the proxy in the reading their task uses; (A): in the as-trained reading. "
          "Cross-check, their logged score vs our (T) score of the same SMILES, max |difference| per run: "
          + ", ".join(f"{r.get('check_max_abs_diff', float('nan')):.2e} over {r.get('check_n', 0)}"
                      for r in rows.get("recursionpharma/gflownet", [])))
    if not args.peer_python:
        print("\n(recursionpharma/gflownet not measured: pass --peer-python)")


if __name__ == "__main__":
    main()
