"""Can the fragment vocabulary express the molecules a PMO oracle scores against? (issue 19)

Each PMO oracle that names molecules (the rediscovery / similarity targets, the MPO references, the
median pairs, the hop tasks' reference) is decomposed into a tree of the vocabulary's blocks with
``molgfn.seeding.decompose`` (the decomposition ``--seed-molecules`` uses). A target the blocks cannot
build caps the similarity term of its task below 1 for every molecule the sampler can make; the reason
names the first fragment no block provides. With ``--results CSV`` (bench/pmo_results.csv) the best raw
score our runs found is printed beside it.

    MOLGFN_DATA=../shared/data .venv/bin/python bench/pmo_targets.py --results bench/pmo_results.csv
"""

from __future__ import annotations

import csv

from harness import command, parser, print_table

from molgfn.chem import pmo
from molgfn.envs.fragments import FragmentEnv, load_vocab
from molgfn.seeding import decompose_all

# oracle -> the molecules it scores against (molgfn.chem.pmo's constants, as GuacaMol defines the tasks)
TARGETS = {
    "albuterol_similarity": ["ALBUTEROL"], "celecoxib_rediscovery": ["CELECOXIB"],
    "troglitazone_rediscovery": ["TROGLITAZONE"], "thiothixene_rediscovery": ["THIOTHIXENE"],
    "mestranol_similarity": ["MESTRANOL"], "median1": ["CAMPHOR", "MENTHOL"], "median2": ["TADALAFIL", "SILDENAFIL"],
    "osimertinib_mpo": ["OSIMERTINIB"], "fexofenadine_mpo": ["FEXOFENADINE"], "ranolazine_mpo": ["RANOLAZINE"],
    "perindopril_mpo": ["PERINDOPRIL"], "amlodipine_mpo": ["AMLODIPINE"], "zaleplon_mpo": ["ZALEPLON"],
    "sitagliptin_mpo": ["SITAGLIPTIN"], "deco_hop": ["HOP_PHARMACOPHORE"], "scaffold_hop": ["HOP_PHARMACOPHORE"],
}


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--vocab", default=None, help="block vocabulary JSON (default: the 105 seh-frag blocks)")
    ap.add_argument("--max-blocks", type=int, default=8)
    ap.add_argument("--results", default=None, help="PMO results CSV (molgfn bench --preset pmo): best score found")
    args = ap.parse_args()
    env = FragmentEnv(load_vocab(args.vocab), args.max_blocks)
    best: dict[str, float] = {}
    if args.results:
        for row in csv.DictReader(open(args.results)):
            name = row["task"].removeprefix("pmo-").replace("-", "_")
            best[name] = max(best.get(name, 0.0), float(row["best_raw_seen"]))
    rows = []
    for oracle, names in TARGETS.items():
        for name, d in zip(names, decompose_all([getattr(pmo, n) for n in names], env), strict=True):
            rows.append((oracle, name.lower(), "yes" if d.row is not None else f"no: {d.reason}",
                         f"{best[oracle]:.3f}" if oracle in best else ""))
    print_table(["task", "target", f"built from the blocks (<= {args.max_blocks})", "best score found (any seed)"],
                rows, head=f"`{command()}`")


if __name__ == "__main__":
    main()
