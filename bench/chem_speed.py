"""Cost of the chemistry columns and filters, and of the diverse selection (LeaderPicker vs the
hand-written greedy loop it replaced), on random seh-frag molecules.

MOLGFN_DATA=../shared/data .venv/bin/python bench/chem_speed.py [--n 2000] [--repeats 3]
"""

from __future__ import annotations

import torch
from harness import command, parser, print_table, timed
from rdkit import DataStructs

from molgfn.chem import descriptors as D
from molgfn.envs.fragments import FragmentEnv, load_vocab


def random_molecules(n: int, seed: int = 0) -> list[str]:
    """Distinct valid molecules of uniformly random block trees (up to 8 blocks)."""
    env = FragmentEnv(load_vocab(), 8)
    g = torch.Generator().manual_seed(seed)
    out: dict[str, None] = {}
    while len(out) < n:
        s = env.initial(512)
        for _ in range(env.traj_len):
            m = env.forward_mask(s)
            s = env.step(s, torch.where(m, torch.rand(m.shape, generator=g), -1.0).argmax(1))
        out.update(dict.fromkeys(x for x in env.to_strings(s) if x and not x.startswith("!")))
    return list(out)[:n]


def greedy(smiles: list[str], t: float, top: int | None) -> list[int]:
    """The loop molgfn/candidates.py had before: fingerprint row by row, bulk Tanimoto to the kept."""
    keep: list[int] = []
    kept: list = []
    for i, smi in enumerate(smiles):
        fp = D.fingerprints([smi])[0]
        if not kept or max(DataStructs.BulkTanimotoSimilarity(fp, kept)) < t:
            keep.append(i)
            kept.append(fp)
            if top is not None and len(keep) >= top:
                break
    return keep


def main() -> None:
    ap = parser(repeats=3)
    ap.add_argument("--n", type=int, default=2000)
    args = ap.parse_args()
    smiles = random_molecules(args.n)
    D.sa_score(D.mol_from_smiles(smiles[0]))  # load the SA table once, outside the timings
    rows = []
    sec, _ = timed(lambda: D.descriptor_table(smiles), args.repeats)
    rows.append(("all descriptor columns (per molecule)", f"{1e3 * sec / args.n:.2f} ms"))
    mols = [D.mol_from_smiles(s) for s in smiles]
    from rdkit.Chem import QED, Descriptors

    # what FragmentTask.extra_columns computed again before the descriptor columns replaced it
    sec, _ = timed(lambda: [(QED.qed(m), Descriptors.MolWt(m)) for m in (D.mol_from_smiles(s) for s in smiles)],
                   args.repeats)
    rows.append(("qed + mol_weight again in extra_columns, removed (per molecule)", f"{1e3 * sec / args.n:.2f} ms"))
    sec, fails = timed(lambda: [D.failed_filters(m, ("pains", "brenk", "lipinski")) for m in mols], args.repeats)
    rows.append(("every filter of pains,brenk,lipinski checked (per molecule)", f"{1e3 * sec / args.n:.2f} ms"))
    sec, _ = timed(lambda: [D.failed_filters(m, ("pains", "brenk", "lipinski"), first_only=True) for m in mols],
                   args.repeats)
    rows.append(("--filter pains,brenk,lipinski as in design: stop at the first failure (per molecule)",
                 f"{1e3 * sec / args.n:.2f} ms"))
    for f in ("pains", "brenk", "lipinski"):
        sec, _ = timed(lambda f=f: [D.failed_filters(m, (f,)) for m in mols], 1)
        rows.append((f"{f} alone (per molecule)", f"{1e3 * sec / args.n:.2f} ms"))
    for f in ("pains", "brenk", "lipinski"):
        rows.append((f"share of random molecules failing {f}", f"{sum(f in x for x in fails) / args.n:.1%}"))
    for t, top in ((0.7, 100), (0.4, 100), (0.4, None)):
        g_sec, g = timed(lambda t=t, top=top: greedy(smiles, t, top), args.repeats)
        l_sec, lp = timed(lambda t=t, top=top: D.diverse_indices(smiles, t, top), args.repeats)
        assert g == lp, "LeaderPicker and the greedy loop disagree"
        rows.append((f"diverse list t={t}, top={top}: greedy loop / LeaderPicker (same {len(lp)} kept)",
                     f"{1e3 * g_sec:.0f} ms / {1e3 * l_sec:.0f} ms"))
    sec, _ = timed(lambda: D.sdf_text(D.add_descriptors(__import__("pandas").DataFrame({"smiles": smiles[:50]}))),
                   1)
    rows.append(("SDF with ETKDG + MMFF conformers (per molecule, 50 molecules)", f"{1e3 * sec / 50:.0f} ms"))
    print_table(["measure", "value"], rows,
                head=f"Made by `{command('MOLGFN_DATA=../shared/data .venv/bin/python')}` "
                f"on {args.n} random seh-frag molecules, medians of {args.repeats} runs, 1 CPU thread; the 2-core "
                "machine was shared with other jobs, so compare values within one run only.")


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
