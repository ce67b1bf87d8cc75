"""vina: AutoDock Vina docking score of fragment molecules against the user's receptor.

``--task-option receptor=FILE.pdbqt center=X,Y,Z size=SX,SY,SZ exhaustiveness=N``, or
``--task-option target=NAME`` for one of the 58 targets dockstring prepared (receptor and box from the
installed ``dockstring`` package's files), or ``target=FOLDER`` for a folder written by ``molgfn receptor
prepare`` (its receptor.pdbqt and box.json); ``center=``/``size=`` may still override a target's box.
Each molecule gets one RDKit ETKDG + MMFF94 conformer (fixed seed), is prepared with meeko
(Gasteiger charges, AutoDock atom types, rotatable bonds) and docked in the box with the
Vina scoring function (Eberhardt et al. 2021; Trott & Olson 2010). Raw score = the best
pose's Vina score in kcal/mol (lower binds better); the best pose itself is kept in the score
store (``extra``: an SD mol block) and becomes the 3-D coordinates of the run's SDF lists;
the reward uses the negated score, R = (max(-r, 1e-3) / 12)^b with b = 3 (about -12 kcal/mol
is a strong binder). Molecules that cannot be prepared or docked are invalid objects.
Needs ``pip install "molgfn[docking]"``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import math
from pathlib import Path

import torch

from molgfn.chem.docktargets import resolve_target
from molgfn.fragtask import FragmentTask
from molgfn.oracle import CachedOracle, Invalid, Scored

INSTALL = 'pip install "molgfn[docking]"'
USAGE = ("--task-option receptor=FILE.pdbqt center=X,Y,Z size=SX,SY,SZ [exhaustiveness=8], or "
         "--task-option target=NAME (a dockstring target, e.g. DRD2) or target=FOLDER (of molgfn receptor prepare)")
MAX_BOX = 126.0  # Angstrom per side: larger grids are unreasonable for a docking box


def parse_triple(name: str, value, positive: bool = False) -> tuple[float, float, float]:
    try:
        vals = tuple(float(v) for v in str(value).split(","))
    except ValueError:
        vals = ()
    if len(vals) != 3 or not all(math.isfinite(v) for v in vals):
        raise ValueError(f"{name} must be three numbers X,Y,Z in Angstrom, got {value!r} ({USAGE})")
    if positive and not all(0 < v <= MAX_BOX for v in vals):
        raise ValueError(f"{name} must be three box side lengths in (0, {MAX_BOX:g}] Angstrom, got {value!r}")
    return vals  # type: ignore[return-value]


def pose_block(pdbqt: str) -> str | None:
    """Vina's best pose (PDBQT, as ``Vina.poses``) as an SD mol block with every hydrogen, through meeko's
    PDBQT -> RDKit export (which rebuilds the bond orders from the SMILES meeko wrote into the PDBQT);
    None when it cannot be rebuilt (the score stands without a pose)."""
    from meeko import PDBQTMolecule, RDKitMolCreate
    from rdkit import Chem

    try:
        mols = RDKitMolCreate.from_pdbqt_mol(PDBQTMolecule(pdbqt, is_dlg=False, skip_typing=True))
        mol = next((m for m in mols if m is not None and m.GetNumConformers()), None)
        return None if mol is None else Chem.MolToMolBlock(mol)
    except Exception:  # meeko's export refuses what it cannot rebuild; the score does not depend on it
        return None


class DockOracle:
    """Picklable oracle: SMILES -> Vina score (kcal/mol) or ``Invalid``. Each worker computes the
    receptor's grid maps once and keeps them."""

    fork_safe = False  # Vina runs its own threads: process workers are spawned, not forked

    def __init__(self, receptor: str, center, size, exhaustiveness: int, seed: int) -> None:
        self.receptor, self.center, self.size = receptor, list(center), list(size)
        self.exhaustiveness, self.seed = exhaustiveness, seed
        self._vina = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_vina": None}  # grid maps are rebuilt where the oracle runs

    def _engine(self):
        if self._vina is None:
            from vina import Vina

            v = Vina(sf_name="vina", cpu=1, seed=self.seed, verbosity=0)
            v.set_receptor(rigid_pdbqt_filename=self.receptor)
            v.compute_vina_maps(center=self.center, box_size=self.size)
            self._vina = v
        return self._vina

    def dock(self, smiles: str) -> Scored | Invalid:
        from meeko import MoleculePreparation, PDBQTWriterLegacy
        from rdkit import Chem

        from molgfn.chem.conformers import embed_conformer

        mol, err = embed_conformer(Chem.MolFromSmiles(smiles), self.seed)
        if mol is None:
            return Invalid(err)
        try:
            setups = MoleculePreparation().prepare(mol)
            pdbqt, ok, msg = PDBQTWriterLegacy.write_string(setups[0])
        except Exception as e:  # meeko refuses some chemistry (e.g. unusual atom types)
            return Invalid(f"meeko could not prepare the ligand: {e}")
        if not ok:
            return Invalid(f"meeko could not write the ligand: {msg}")
        v = self._engine()
        try:
            v.set_ligand_from_string(pdbqt)
            v.dock(exhaustiveness=self.exhaustiveness, n_poses=1)
        except RuntimeError as e:  # e.g. the ligand does not fit the box
            return Invalid(f"vina could not dock: {e}")
        return Scored(float(v.energies(n_poses=1)[0][0]), pose_block(v.poses(n_poses=1)))

    def __call__(self, smiles: list[str]) -> list[Scored | Invalid]:
        return [self.dock(s) for s in smiles]


class VinaDock(FragmentTask):
    name = "vina"
    description = "AutoDock Vina score (kcal/mol) against your receptor (needs molgfn[docking]; see README)"
    reward_exponent = 3.0
    r_max = 1.0
    raw_max = 12.0  # of the negated score
    allow_negative = True  # Vina scores are negative; the reward negates them
    higher_is_better = False  # the best docking score is the lowest (best_raw, evaluate's top-k)

    def __init__(self, receptor: str | None = None, center=None, size=None, exhaustiveness: int = 8, seed: int = 0,
                 max_blocks: int = 8, vocab: str | None = None, reward_exponent: float | None = None,
                 workers: int | None = None, target: str | None = None) -> None:
        missing = [m for m in ("vina", "meeko") if importlib.util.find_spec(m) is None]
        if missing:
            raise ValueError(f"needs {' and '.join(missing)}, which is not installed: {INSTALL}")
        if target is not None:
            if receptor is not None:
                raise ValueError(f"give target={target} or receptor={receptor}, not both (target= docks into "
                                 "a prepared receptor with its box, receptor= into your own PDBQT)")
            receptor, t_center, t_size = resolve_target(str(target))
            center = t_center if center is None else center
            size = t_size if size is None else size
            center = ",".join(map(str, center)) if isinstance(center, tuple) else center
            size = ",".join(map(str, size)) if isinstance(size, tuple) else size
        if receptor is None or center is None or size is None:
            raise ValueError(f"needs a receptor and a box: {USAGE}")
        path = Path(str(receptor)).expanduser().resolve()
        if not path.is_file():
            raise ValueError(f"receptor file {path} does not exist (a receptor prepared as PDBQT; {USAGE})")
        text = path.read_bytes()
        if path.suffix.lower() != ".pdbqt" or not any(line.startswith((b"ATOM", b"HETATM"))
                                                     for line in text.splitlines()):
            raise ValueError(f"receptor {path} is not a PDBQT file with ATOM records (prepare it with "
                             "meeko's mk_prepare_receptor.py or AutoDockTools)")
        c, s = parse_triple("center", center), parse_triple("size", size, positive=True)
        if not isinstance(exhaustiveness, int) or not 1 <= exhaustiveness <= 64:
            raise ValueError(f"exhaustiveness must be a whole number in [1, 64], got {exhaustiveness!r}")
        super().__init__(max_blocks, vocab, reward_exponent)
        version = (f"vina sha256:{hashlib.sha256(text).hexdigest()[:16]} center {c} size {s} "
                   f"exhaustiveness {exhaustiveness} seed {int(seed)}")
        self.oracle = CachedOracle(self.name, DockOracle(str(path), c, s, exhaustiveness, int(seed)),
                                   allow_negative=True, workers=workers, version=version, invalid_value=0.0)

    def log_reward(self, raw: torch.Tensor) -> torch.Tensor:
        """log R of the negated Vina score: a more negative score is a better binder."""
        return super().log_reward(-torch.as_tensor(raw, dtype=torch.float64))

    def raw_scores(self, smiles: list[str]) -> list[float]:
        return self.oracle(smiles).tolist()

    def poses(self, smiles) -> dict[str, str]:
        """The best docked pose (an SD mol block, hydrogens included) of each of ``smiles`` that was docked
        and has one: from memory, else from the score store. Used as the 3-D coordinates of SDF lists."""
        return self.oracle.extras_of(list(smiles))

    def close(self) -> None:
        self.oracle.close()
