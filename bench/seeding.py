"""Seeding with known molecules (--seed-molecules) vs starting cold, at equal reward calls (issue 20).

A BRICS vocabulary is built (molgfn.chem.fragmentation) from 40 known drugs (SMILES written out below,
stereochemistry dropped); the same drugs are the seeds (those expressible in at most --max-blocks
blocks). For each training seed, a cold run and a seeded run train the same settings; after every round
we record, against the reward calls spent so far (the seeds' own calls included), the mean raw score of
the 10 best distinct molecules scored, and the same over molecules that are not seeds (what the sampler
found itself). ``--seeds-from-run R`` seeds with the 20 best molecules of an earlier cold run of R rounds
(training seed 1000; its reward calls are not counted: it stands for a chemist's known actives).

Run: MOLGFN_DATA=../shared/data OMP_NUM_THREADS=1 .venv/bin/python bench/seeding.py --task seh-frag \
        --rounds 16 --seeds 0 1 2 3 4 [--seeds-from-run 16] [--local-search] [--out FILE]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from harness import parser, spread, table

DRUGS = {
    "aspirin": "CC(=O)Oc1ccccc1C(=O)O",
    "paracetamol": "CC(=O)Nc1ccc(O)cc1",
    "ibuprofen": "CC(C)Cc1ccc(C(C)C(=O)O)cc1",
    "naproxen": "COc1ccc2cc(C(C)C(=O)O)ccc2c1",
    "diclofenac": "OC(=O)Cc1ccccc1Nc1c(Cl)cccc1Cl",
    "caffeine": "Cn1cnc2c1c(=O)n(C)c(=O)n2C",
    "propranolol": "CC(C)NCC(O)COc1cccc2ccccc12",
    "atenolol": "CC(C)NCC(O)COc1ccc(CC(N)=O)cc1",
    "metoprolol": "COCCc1ccc(OCC(O)CNC(C)C)cc1",
    "fluoxetine": "CNCCC(Oc1ccc(C(F)(F)F)cc1)c1ccccc1",
    "imatinib": "Cc1ccc(NC(=O)c2ccc(CN3CCN(C)CC3)cc2)cc1Nc1nccc(-c2cccnc2)n1",
    "gefitinib": "COc1cc2ncnc(Nc3ccc(F)c(Cl)c3)c2cc1OCCCN1CCOCC1",
    "erlotinib": "COCCOc1cc2ncnc(Nc3cccc(C#C)c3)c2cc1OCCOC",
    "sildenafil": "CCCc1nn(C)c2c(=O)[nH]c(-c3cc(S(=O)(=O)N4CCN(C)CC4)ccc3OCC)nc12",
    "celecoxib": "Cc1ccc(-c2cc(C(F)(F)F)nn2-c2ccc(S(N)(=O)=O)cc2)cc1",
    "lidocaine": "CCN(CC)CC(=O)Nc1c(C)cccc1C",
    "procaine": "CCN(CC)CCOC(=O)c1ccc(N)cc1",
    "diazepam": "CN1C(=O)CN=C(c2ccccc2)c2cc(Cl)ccc21",
    "haloperidol": "O=C(CCCN1CCC(O)(c2ccc(Cl)cc2)CC1)c1ccc(F)cc1",
    "chlorpromazine": "CN(C)CCCN1c2ccccc2Sc2ccc(Cl)cc21",
    "metformin": "CN(C)C(=N)NC(N)=N",
    "salbutamol": "CC(C)(C)NCC(O)c1ccc(O)c(CO)c1",
    "nifedipine": "COC(=O)C1=C(C)NC(C)=C(C(=O)OC)C1c1ccccc1[N+](=O)[O-]",
    "warfarin": "CC(=O)CC(c1ccccc1)c1c(O)c2ccccc2oc1=O",
    "indomethacin": "COc1ccc2c(c1)c(CC(=O)O)c(C)n2C(=O)c1ccc(Cl)cc1",
    "ketoprofen": "CC(C(=O)O)c1cccc(C(=O)c2ccccc2)c1",
    "tamoxifen": "CCC(=C(c1ccccc1)c1ccc(OCCN(C)C)cc1)c1ccccc1",
    "donepezil": "COc1cc2c(cc1OC)C(=O)C(CC1CCN(Cc3ccccc3)CC1)C2",
    "buspirone": "O=C1CC2(CCCC2)CC(=O)N1CCCCN1CCN(c2ncccn2)CC1",
    "venlafaxine": "COc1ccc(C(CN(C)C)C2(O)CCCCC2)cc1",
    "citalopram": "CN(C)CCCC1(c2ccc(F)cc2)OCc2cc(C#N)ccc21",
    "loratadine": "CCOC(=O)N1CCC(=C2c3ccc(Cl)cc3CCc3cccnc32)CC1",
    "cetirizine": "OC(=O)COCCN1CCN(C(c2ccccc2)c2ccc(Cl)cc2)CC1",
    "diphenhydramine": "CN(C)CCOC(c1ccccc1)c1ccccc1",
    "omeprazole": "COc1ccc2[nH]c(S(=O)Cc3ncc(C)c(OC)c3C)nc2c1",
    "losartan": "CCCCc1nc(Cl)c(CO)n1Cc1ccc(-c2ccccc2-c2nn[nH]n2)cc1",
    "clozapine": "CN1CCN(C2=Nc3cc(Cl)ccc3Nc3ccccc32)CC1",
    "risperidone": "Cc1nc2n(c(=O)c1CCN1CCC(c3noc4cc(F)ccc34)CC1)CCCC2",
    "amlodipine": "CCOC(=O)C1=C(COCCN)NC(C)=C(C(=O)OC)C1c1ccccc1Cl",
    "sertraline": "CNC1CCC(c2ccc(Cl)c(Cl)c2)c2ccccc21",
}


def top_mean(values, k: int = 10) -> float:
    v = sorted(values, reverse=True)[:k]
    return float(np.mean(v)) if v else float("nan")


def run(task_name: str, vocab: Path, seeds_file: Path | None, seed: int, rounds: int, batch: int,
        max_blocks: int, seed_set: set[str], local_search: bool = False, keep: list | None = None) -> list[dict]:
    from molgfn.tasks import get_task

    from molgfn.config import TrainConfig
    from molgfn.trainer import Trainer

    task = get_task(task_name, vocab=str(vocab), max_blocks=max_blocks)
    cfg = TrainConfig(task=task_name, rounds=rounds, batch_size=batch, replay_size=batch, grad_steps=1,
                      hidden=64, n_layers=2, device="cpu", seed=seed, calibration_every=0, local_search=local_search,
                      seed_molecules=str(seeds_file) if seeds_file else "")
    tr = Trainer(cfg, task)
    rows = []

    def on_round(row: dict) -> None:
        raw = tr.seen.raw
        rows.append({"calls": row["reward_calls"], "top10": top_mean(raw.values()),
                     "top10_new": top_mean(v for o, v in raw.items() if o not in seed_set)})

    tr.train(rounds, on_round=on_round)
    if keep is not None:  # the run's distinct molecules, best first
        keep.extend(sorted(tr.seen.raw.items(), key=lambda kv: -kv[1]))
    return rows


def main() -> None:
    ap = parser(seeds=[0, 1])
    ap.add_argument("--task", default="qed-frag")
    ap.add_argument("--rounds", type=int, default=16)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--max-blocks", type=int, default=8)
    ap.add_argument("--local-search", action="store_true", help="LS-GFN (7 iterations): seeds start chains")
    ap.add_argument("--seeds-from-run", type=int, default=0, metavar="ROUNDS",
                    help="seed with the 20 best molecules of an earlier cold run (training seed 1000, ROUNDS "
                         "rounds) instead of the drugs")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    torch.set_num_threads(1)
    from molgfn.chem.fragmentation import build_vocabulary, vocabulary_json
    from molgfn.envs.fragments import FragmentEnv, load_vocab
    from molgfn.seeding import decompose_all

    t0 = time.time()
    tmp = Path(tempfile.mkdtemp(prefix="molgfn-seeding-"))
    vocab, rep = build_vocabulary(list(DRUGS.values()), "brics", 105, 4, source="bench/seeding.py")
    (tmp / "blocks.json").write_text(vocabulary_json(vocab))
    (tmp / "drugs.smi").write_text("\n".join(DRUGS.values()) + "\n")
    env = FragmentEnv(load_vocab(tmp / "blocks.json"), args.max_blocks)
    seed_smiles = list(DRUGS.values())
    seed_raw = ""
    if args.seeds_from_run:
        best: list = []
        run(args.task, tmp / "blocks.json", None, 1000, args.seeds_from_run, args.batch, args.max_blocks, set(),
            keep=best)
        top = best[:20]
        seed_smiles = [o for o, _ in top]
        seed_raw = f"{top[-1][1]:.3f}-{top[0][1]:.3f}"
        (tmp / "drugs.smi").write_text("\n".join(seed_smiles) + "\n")
    decs = decompose_all(seed_smiles, env)
    seed_set = {d.canonical for d in decs if d.row is not None}
    ls = (", local search" if args.local_search else "") + (
        ", seeds: the best of an earlier run" if args.seeds_from_run else ", seeds: known drugs")
    lines = [f"# Seeding with known molecules vs starting cold ({args.task}{ls})", "",
             "Made by `MOLGFN_DATA=../shared/data OMP_NUM_THREADS=1 .venv/bin/python bench/seeding.py "
             f"--task {args.task} --rounds {args.rounds} "
             f"--batch {args.batch} --max-blocks {args.max_blocks} --seeds {' '.join(map(str, args.seeds))}"
             f"{' --local-search' if args.local_search else ''}"
             f"{f' --seeds-from-run {args.seeds_from_run}' if args.seeds_from_run else ''}` "
             "(CPU, 1 torch thread; TB, GNN width 64 x 2 layers, batch = replay, 1 gradient step per round).", "",
             "Vocabulary: `molgfn fragments build` (BRICS, <= 105 blocks, <= 4 attachment points) of the 40 known "
             "drugs written out in bench/seeding.py:", "", *["    " + ln for ln in rep.lines()], "",
             (f"Seeds: the 20 best molecules of an earlier cold run (training seed 1000, {args.seeds_from_run} "
              f"rounds; raw {seed_raw}); {len(seed_set)} are expressible:" if args.seeds_from_run else
              f"Seeds: the same 40 drugs; {len(seed_set)} are expressible in <= {args.max_blocks} blocks "
              "(`--seed-molecules`), the others are not:"), ""]
    for name, d in zip(DRUGS if not args.seeds_from_run else seed_smiles, decs, strict=True):
        if d.row is None:
            lines.append(f"- {name}: {d.reason}")
    results = {}
    for s in args.seeds:
        for mode in ("cold", "seeded"):
            results[(mode, s)] = run(args.task, tmp / "blocks.json", tmp / "drugs.smi" if mode == "seeded" else None,
                                     s, args.rounds, args.batch, args.max_blocks, seed_set, args.local_search)
            print(mode, s, results[(mode, s)][-1], f"{time.time() - t0:.0f}s", file=sys.stderr)
    lines += ["", "Mean raw score of the 10 best distinct molecules scored so far (all / not seeds), per training "
              "seed, against reward calls (a seeded run's calls include the seeds' own):", "",
              "| round | " + " | ".join(f"{m} s{s} calls | {m} s{s} top-10 | {m} s{s} top-10 new"
                                        for s in args.seeds for m in ("cold", "seeded")) + " |",
              "|---|" + "---|---|---|" * (2 * len(args.seeds))]
    show = sorted(r for r in {0, 1, 2, 3, args.rounds // 4, args.rounds // 2, args.rounds - 1} if r < args.rounds)
    for r in show:
        cells = []
        for s in args.seeds:
            for m in ("cold", "seeded"):
                x = results[(m, s)][r]
                cells += [str(x["calls"]), f"{x['top10']:.3f}", f"{x['top10_new']:.3f}"]
        lines.append(f"| {r + 1} | " + " | ".join(cells) + " |")
    lines += ["", f"Mean over the {len(args.seeds)} training seeds (min-max in brackets):", ""]

    def stat(mode: str, r: int, key: str) -> str:
        v = [results[(mode, s)][r][key] for s in args.seeds]
        lo, hi = spread(v)
        return f"{np.mean(v):.3f} ({lo:.3f}-{hi:.3f})"

    lines += table(["round", "cold calls", "cold top-10", "seeded calls", "seeded top-10",
                    "seeded top-10 new (not seeds)"],
                   [(r + 1, results[("cold", args.seeds[0])][r]["calls"], stat("cold", r, "top10"),
                     results[("seeded", args.seeds[0])][r]["calls"], stat("seeded", r, "top10"),
                     stat("seeded", r, "top10_new")) for r in show]).splitlines()
    lines += ["", f"Wall time of the whole benchmark: {time.time() - t0:.0f} s.", ""]
    text = "\n".join(lines)
    if args.out:
        Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
