"""The compute floor of the issue-11 seh-frag round: how fast could it be on this core?

One issue-settings round (batch 64 + 32 replayed, 3 gradient steps, GNN width 128, TB, sEH reward;
``bench/fragments.py``'s ``ISSUE_ROUND``) is run under a dispatch mode that records, per phase
(rollout, reward, backward rollout, scoring forward, backward pass, Adam), every matrix product
(aten mm / addmm / bmm / baddbmm) with its shapes, strides and FLOPs (torch's own formulas,
``torch.utils.flop_counter``; the total is checked against ``FlopCounterMode`` over the same round).
Each distinct product is then timed alone in a loop on one thread (best of several repeats): the
sum over the round's products is the time of the round **if every non-matmul op were free**, at
the rates this core really reaches on those shapes. A second floor adds the RDKit work of the
reward that the proxy cannot skip (block tree -> molecule -> SMILES -> parsed molecule -> atom
features, timed on the round's fresh molecules). Last, ``torch.profiler`` over a few rounds gives
the op-level split of the current round: matmul self time against everything else.

Run: MOLGFN_DATA=../shared/data OMP_NUM_THREADS=1 .venv/bin/python bench/frag_floor.py [--rounds 3] [--out FILE]
(prints a markdown section; with --out, writes it there)
"""

from __future__ import annotations

import importlib
import time
from collections import defaultdict
from pathlib import Path

import torch
from fragments import ISSUE_ROUND, PHASES
from harness import median, parser
from molgfn.tasks import get_task
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode, flop_registry

from molgfn.config import TrainConfig
from molgfn.trainer import Trainer

MATMULS = {torch.ops.aten.mm, torch.ops.aten.addmm, torch.ops.aten.bmm, torch.ops.aten.baddbmm}
MATMUL_NAMES = {"aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm"}


class _Recorder(TorchDispatchMode):
    """Every matrix product of the phase in ``self.phase``: (op, shapes, strides) -> [calls, FLOPs]."""

    def __init__(self) -> None:
        super().__init__()
        self.phase = "other"
        self.calls: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])  # (phase, key) -> [calls, flops]

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        packet = func._overloadpacket
        if packet not in MATMULS and func is not torch.ops.prim.device.default:
            with self:  # as FlopCounterMode: composite ops (linear under inference_mode) down to their products
                r = func.decompose(*args, **kwargs)
                if r is not NotImplemented:
                    return r
        out = func(*args, **kwargs)
        if packet in MATMULS:
            flops = flop_registry[packet](*args, **kwargs, out_val=out)
            tens = tuple((tuple(a.shape), tuple(a.stride()), a.dtype) for a in args if isinstance(a, torch.Tensor))
            c = self.calls[(self.phase, (packet, tens, tuple(kwargs.items())))]
            c[0] += 1
            c[1] += flops
        return out


def _trainer() -> Trainer:
    task = get_task("seh-frag", device="cpu")
    return Trainer(TrainConfig(task="seh-frag", rounds=10**6, seed=0, **ISSUE_ROUND), task)


def _wrap_phases(tr: Trainer, on_enter) -> None:
    """Call ``on_enter(label)`` / ``on_enter(None)`` around each phase of ``PHASES``."""
    for label, (owner, name) in PHASES.items():
        obj = {"trainer": tr, "opt": tr.opt, "torch.Tensor": torch.Tensor}.get(owner)
        obj = importlib.import_module(owner) if obj is None else obj
        fn = getattr(obj, name)

        def wrapper(*args, _fn=fn, _label=label, **kwargs):
            on_enter(_label)
            try:
                return _fn(*args, **kwargs)
            finally:
                on_enter(None)
        setattr(obj, name, wrapper)


def _time_product(op, tens, kw, budget: float = 0.02, repeats: int = 5) -> float:
    """Best-of-``repeats`` seconds per call of one matrix product on fresh tensors of these shapes/strides."""
    args = [torch.randn(torch.empty_strided(shape, stride).untyped_storage().nbytes() // 4)
            .as_strided(shape, stride) if dtype == torch.float32 else torch.empty_strided(shape, stride, dtype=dtype)
            for shape, stride, dtype in tens]
    kwargs = dict(kw)
    op(*args, **kwargs)
    t0, n = time.perf_counter(), 0
    while time.perf_counter() - t0 < budget / 4:
        op(*args, **kwargs)
        n += 1
    n = max(3, n * 2)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(n):
            op(*args, **kwargs)
        best = min(best, (time.perf_counter() - t) / n)
    return best


def _rdkit_floor(tr: Trainer, n_rounds: int) -> float:
    """CPU seconds per round of the reward's RDKit work on fresh molecules (no caches): the block tree's
    molecule and SMILES, the proxy's parse of the SMILES and its atom features; batch_size molecules."""
    from rdkit import Chem

    from molgfn.chem.seh_proxy import mol_graph
    from molgfn.sampling import sample_forward

    env = tr.env
    beta = torch.ones(tr.cfg.batch_size)
    states = [sample_forward(env, tr.policy, beta, tr.cfg.epsilon, gen=tr.gen).terminals for _ in range(n_rounds)]
    c = time.process_time()
    for s in states:
        for row in s.tolist():
            mol = env.molecule(row)
            m2 = Chem.MolFromSmiles(Chem.MolToSmiles(mol))
            mol_graph(m2)
    return (time.process_time() - c) / n_rounds


def _profile(tr: Trainer, rounds: int):
    from torch.profiler import ProfilerActivity, profile

    c = time.perf_counter()  # wall time, as the profiler's op times
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(rounds):
            tr.train_round()
    total = (time.perf_counter() - c) / rounds
    return prof.key_averages(), total


def main() -> None:
    ap = parser()
    ap.add_argument("--rounds", type=int, default=3, help="rounds recorded (after 2 warm-up rounds)")
    ap.add_argument("--out", type=Path, help="write the markdown section here")
    args = ap.parse_args()
    torch.manual_seed(0)
    threads = torch.get_num_threads()

    # 1. the round as it runs now: CPU ms (median of 8 after warm-up), no instrumentation
    tr = _trainer()
    for _ in range(2):
        tr.train_round()
    cpu = []
    for _ in range(8):
        c = time.process_time()
        tr.train_round()
        cpu.append(time.process_time() - c)
    round_ms = median(cpu) * 1e3

    # 2. FLOPs and matrix products per phase
    rec = _Recorder()
    stack: list[tuple[str, float]] = []
    spent: dict[str, float] = defaultdict(float)  # CPU seconds per phase

    def enter(label):
        if label is None:
            done, t0 = stack.pop()
            spent[done] += time.process_time() - t0
        else:
            stack.append((label, time.process_time()))
        rec.phase = stack[-1][0] if stack else "other"

    _wrap_phases(tr, enter)
    for _ in range(4):  # the phases' CPU time, without the recorder
        tr.train_round()
    phase_ms = {k: v / 4 * 1e3 for k, v in spent.items()}
    check = FlopCounterMode(display=False)
    with check, rec:
        for _ in range(args.rounds):
            tr.train_round()
    total_flops = sum(f for _, f in rec.calls.values()) / args.rounds
    counter_flops = check.get_total_flops() / args.rounds

    # 3. each distinct product timed alone
    timed: dict[tuple, float] = {}
    per_phase = defaultdict(lambda: [0.0, 0.0, 0])  # phase -> [flops, seconds, calls] per round
    for (phase, key), (n, flops) in rec.calls.items():
        if key not in timed:
            timed[key] = _time_product(*key)
        p = per_phase[phase]
        p[0] += flops / args.rounds
        p[1] += n * timed[key] / args.rounds
        p[2] += n / args.rounds
    mm_s = sum(p[1] for p in per_phase.values())
    # the best rate any of the round's products reaches, weighted by FLOPs of the big ones
    per_call: dict[tuple, float] = {}  # FLOPs of one call of each distinct product
    for (_, key), (n, flops) in rec.calls.items():
        per_call[key] = flops / n
    rates = sorted((per_call[key] / t / 1e9 for key, t in timed.items() if per_call[key] > 0), reverse=True)
    peak = _peak_rate()
    rdkit_s = _rdkit_floor(tr, 4)

    # 4. op-level profile of the round as it runs (a fresh trainer: no wrappers)
    tr2 = _trainer()
    for _ in range(2):
        tr2.train_round()
    avgs, prof_round = _profile(tr2, args.rounds)
    rows = sorted((e for e in avgs if e.key.startswith("aten::")), key=lambda e: e.self_cpu_time_total, reverse=True)
    ops_total = sum(e.self_cpu_time_total for e in avgs if e.key.startswith("aten::")) / args.rounds / 1e3
    mm_prof = sum(e.self_cpu_time_total for e in avgs if e.key in MATMUL_NAMES) / args.rounds / 1e3

    lines = [
        "## The compute floor of the issue-11 round",
        "",
        f"Made by `MOLGFN_DATA=../shared/data OMP_NUM_THREADS={threads} .venv/bin/python bench/frag_floor.py "
        f"--rounds {args.rounds}` ({threads} torch thread(s), CPU only; the machine was shared, so times are CPU "
        "time or best-of-repeats). The round as it runs here: "
        f"**{round_ms:.0f} ms CPU** (median of 8).",
        "",
        "Per phase: its CPU time now (wrapped, mean of 4 rounds), its FLOPs (matrix products, "
        "torch.utils.flop_counter's formulas; FlopCounterMode over the same rounds: "
        f"{counter_flops / 1e9:.2f} GFLOP per round), and the time its products take when each distinct product "
        "(shapes and strides as recorded) is timed alone on this core, best of 5:",
        "",
        "| phase | CPU ms / round now | GFLOP / round | products / round | their time alone (ms) | share of "
        "the phase | GFLOP/s |",
        "|---|---|---|---|---|---|---|",
    ]
    for phase in [*PHASES, "other"]:
        if phase not in per_phase:
            continue
        f, s, n = per_phase[phase]
        now = phase_ms.get(phase, float("nan"))
        lines.append(f"| {phase} | {now:.0f} | {f / 1e9:.3f} | {n:.0f} | {s * 1e3:.1f} | {s * 1e3 / now:.0%} | "
                     f"{f / max(s, 1e-12) / 1e9:.0f} |")
    lines.append(f"| **round** | **{round_ms:.0f}** | **{total_flops / 1e9:.3f}** | "
                 f"{sum(p[2] for p in per_phase.values()):.0f} | **{mm_s * 1e3:.1f}** | {mm_s * 1e3 / round_ms:.0%} | "
                 f"{total_flops / mm_s / 1e9:.0f} |")
    lines += [
        "",
        f"This core: a large fp32 product (1024 x 512 @ 512 x 512) runs at **{peak:.0f} GFLOP/s** on one thread; "
        f"the round's products reach {rates[0]:.0f} GFLOP/s at best and "
        f"{median(rates):.0f} GFLOP/s for the median distinct product (they are small: a few "
        "thousand rows by 128-512 columns, and many are transposed operands of the backward pass).",
        "",
        "| floor (CPU ms per round, 1 thread) | value |",
        "|---|---|",
        f"| all FLOPs at this core's large-product rate ({peak:.0f} GFLOP/s) | {total_flops / peak / 1e6:.1f} |",
        f"| matrix products at the rates they reach on their own shapes (every other op free) | {mm_s * 1e3:.1f} |",
        f"| + the reward's RDKit work on {ISSUE_ROUND['batch_size']} fresh molecules (tree -> molecule -> SMILES, "
        f"parse, atom features) | {(mm_s + rdkit_s) * 1e3:.1f} |",
        f"| the round now (for comparison) | {round_ms:.0f} |",
        "| the issue-11 target (1,273 ms / 5) | 255 |",
        "",
        f"Op-level profile of the round now (torch.profiler, each op's self time, mean over {args.rounds} rounds; "
        "profiler times are wall-clock, so on a shared machine they include time waiting for the core): aten ops "
        f"{ops_total:.0f} ms per round, of which matrix products {mm_prof:.0f} ms (**{mm_prof / ops_total:.0%} of "
        f"the op time**); under the profiler the round takes {prof_round * 1e3:.0f} ms wall, the rest being Python, "
        "RDKit and the profiler itself.",
        "",
        "| op | self ms / round | calls / round | share of the op time |",
        "|---|---|---|---|",
    ]
    for e in rows[:25]:
        ms = e.self_cpu_time_total / args.rounds / 1e3
        lines.append(f"| {e.key} | {ms:.1f} | {e.count / args.rounds:.0f} | {ms / ops_total:.1%} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)


def _peak_rate() -> float:
    a, b = torch.randn(1024, 512), torch.randn(512, 512)
    t = _time_product(torch.ops.aten.mm.default, (((1024, 512), (512, 1), torch.float32),
                                                  ((512, 512), (512, 1), torch.float32)), (), budget=0.1)
    del a, b
    return 2 * 1024 * 512 * 512 / t / 1e9


if __name__ == "__main__":
    main()
