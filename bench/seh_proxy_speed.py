"""sEH proxy throughput on CPU, batches of 256 (parse + featurise + forward, no cache), median of 5.

Run: MOLGFN_DATA=../shared/data .venv/bin/python bench/seh_proxy_speed.py
(on a busy machine prefix OMP_NUM_THREADS=1: oversubscribed OpenMP threads are very slow)
"""

import torch
from harness import parser, timed

from molgfn.chem.seh_proxy import SEHOracle

S = ["C", "CC", "O", "N", "F", "Cl", "C#N", "OC"]  # 4 linkers x 8 x 8 substituents: 256 distinct SMILES
SMILES = [f"c1cc({a})ccc1{lk}c1ccc({b})cc1" for lk in ("", "C(=O)N", "OC", "S(=O)(=O)N") for a in S for b in S]


def main() -> None:
    parser(__doc__).parse_args()
    oracle = SEHOracle(device="cpu", batch_size=256, cache_size=0)
    oracle(SMILES)  # warm-up
    sec, _ = timed(lambda: oracle(SMILES), 5)
    print(f"sEH proxy: {len(SMILES) / sec:.0f} molecules/s (batch 256, CPU, {torch.get_num_threads()} threads, "
          "median of 5)")


if __name__ == "__main__":
    main()
