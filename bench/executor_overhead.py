"""Executor overhead: what running a cheap oracle under each executor costs per call.

    nice -n 10 python bench/executor_overhead.py [--repeats 15] > bench/results/executor_overhead.md

For a cheap oracle (GC content of a string: microseconds) and an RDKit logP oracle (what a
PMO-style Python oracle costs: ~0.1 ms a molecule), at batches of 8 and 64 objects: the wall time
of one call through ``CachedOracle`` (new objects every call, so nothing comes from the memo)
under ``local`` (in-process), ``process`` (the fault-tolerant pool, 1 and 2 workers) and ``ray``
(2 actors), and the one-off start-up (first call less a warm call). Medians of ``--repeats``
calls after one warm-up call. Prints a Markdown table; the command line is its first line.
"""

from __future__ import annotations

import itertools
import time

from harness import command, median, parser, print_row, print_table

from molgfn.oracle import CachedOracle, OracleSettings


def gc_content(seqs):
    return [sum(c in "GC" for c in s) / len(s) for s in seqs]


def rdkit_logp(smiles):
    from rdkit import Chem
    from rdkit.Chem import Crippen

    out = []
    for s in smiles:
        m = Chem.MolFromSmiles(s)
        out.append(max(Crippen.MolLogP(m), 0.0) if m is not None else 0.0)
    return out


def strings(n: int, counter) -> list[str]:
    return ["".join("ACGT"[(k >> (2 * j)) & 3] for j in range(12)) for k in itertools.islice(counter, n)]


def alkanes(n: int, counter) -> list[str]:
    # distinct valid small molecules: a substituted carbon chain, numbered (k -> one SMILES)
    subs = ["O", "N", "Cl", "F", "C(=O)O", "C#N", "S", "Br"]
    out = []
    for k in itertools.islice(counter, n):
        a, b = subs[k % 8], subs[(k // 8) % 8]
        out.append(f"C({a})" + "C" * (1 + (k // 64) % 24) + f"C({b})" + "C" * (k // (64 * 24)))
    return out


def measure(fn, make_objs, executor: str, workers: int, batch: int, repeats: int) -> tuple[float, float]:
    """(start-up ms, median ms per call)."""
    counter = itertools.count()
    o = CachedOracle("bench", fn, allow_negative=False, workers=workers)
    o.configure(OracleSettings(executor=executor, workers=workers))
    try:
        t0 = time.perf_counter()
        o(make_objs(batch, counter))
        first = time.perf_counter() - t0
        times = []
        for _ in range(repeats):
            objs = make_objs(batch, counter)
            t0 = time.perf_counter()
            o(objs)
            times.append(time.perf_counter() - t0)
    finally:
        o.close()
    med = median(times)
    return 1e3 * max(first - med, 0.0), 1e3 * med


def main() -> None:
    ap = parser(__doc__, repeats=15)
    ap.add_argument("--no-ray", action="store_true")
    a = ap.parse_args()
    print_table(["oracle", "batch", "executor", "workers", "start-up ms", "ms per call", "overhead vs local ms"],
                head=f"command: `{command('nice -n 10 python')}`")
    ray_inited = False
    execs = [("local", 1), ("process", 1), ("process", 2)] + ([] if a.no_ray else [("ray", 2)])
    for (name, fn, make), batch in itertools.product(
            [("gc-content", gc_content, strings), ("rdkit-logp", rdkit_logp, alkanes)], (8, 64)):
        local = None
        for ex, w in execs:
            if ex == "ray" and not ray_inited:
                import ray

                ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
                ray_inited = True
            reps = a.repeats if ex != "ray" else max(5, a.repeats // 3)
            start, per = measure(fn, make, ex, w, batch, reps)
            local = per if ex == "local" else local
            print_row(name, batch, ex, w, f"{start:.1f}", f"{per:.2f}", f"{per - local:+.2f}")
    if ray_inited:
        import ray

        ray.shutdown()


if __name__ == "__main__":
    main()
