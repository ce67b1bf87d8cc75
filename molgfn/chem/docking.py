"""Docking with AutoDock Vina: a receptor and a box checked once, and a picklable docking function.

Each molecule gets one RDKit ETKDG + MMFF94 conformer (fixed seed), is prepared with meeko
(Gasteiger charges, AutoDock atom types, rotatable bonds) and docked in the box with the Vina
scoring function (Eberhardt et al. 2021; Trott & Olson 2010). The score is the best pose's Vina
score in kcal/mol (lower binds better); the best pose comes back beside it (``Scored.extra``: an
SD mol block with every hydrogen) so that the score store keeps it and SDF lists use it as the
molecule's coordinates. Molecules that cannot be prepared or docked are ``Invalid``.

``dock_settings`` checks what the ``vina`` task's options and a scoring file's ``kind = "vina"``
component both take (``receptor``/``center``/``size`` or a dockstring ``target``, exhaustiveness,
seed); ``DockOracle`` docks. Needs ``pip install "molgfn[docking]"``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import math
from dataclasses import dataclass
from pathlib import Path

from ..oracle.contract import Invalid, Scored
from .docktargets import resolve_target

INSTALL = 'pip install "molgfn[docking]"'
USAGE = ("--task-option receptor=FILE.pdbqt center=X,Y,Z size=SX,SY,SZ [exhaustiveness=8], or "
         "--task-option target=NAME (a dockstring target, e.g. DRD2) or target=FOLDER (of molgfn receptor prepare)")
MAX_BOX = 126.0  # Angstrom per side: larger grids are unreasonable for a docking box


def missing_packages() -> list[str]:
    """Those of vina and meeko that are not installed."""
    return [m for m in ("vina", "meeko") if importlib.util.find_spec(m) is None]


def parse_triple(name: str, value, positive: bool = False, usage: str = USAGE) -> tuple[float, float, float]:
    """Three numbers from "X,Y,Z" (or a list of three); a box's sides must be in (0, MAX_BOX]."""
    try:
        parts = value if isinstance(value, list | tuple) else str(value).split(",")
        vals = tuple(float(v) for v in parts)
    except (TypeError, ValueError):
        vals = ()
    if len(vals) != 3 or not all(math.isfinite(v) for v in vals):
        raise ValueError(f"{name} must be three numbers X,Y,Z in Angstrom, got {value!r} ({usage})")
    if positive and not all(0 < v <= MAX_BOX for v in vals):
        raise ValueError(f"{name} must be three box side lengths in (0, {MAX_BOX:g}] Angstrom, got {value!r}")
    return vals  # type: ignore[return-value]


@dataclass(frozen=True)
class DockSettings:
    """A checked receptor (absolute path and content hash), box, exhaustiveness and seed."""

    receptor: str
    center: tuple[float, float, float]
    size: tuple[float, float, float]
    exhaustiveness: int
    seed: int
    receptor_sha256: str

    @property
    def version(self) -> str:
        """What a docking score depends on: the score store's version."""
        return (f"vina sha256:{self.receptor_sha256[:16]} center {self.center} size {self.size} "
                f"exhaustiveness {self.exhaustiveness} seed {self.seed}")

    def oracle(self) -> DockOracle:
        return DockOracle(self.receptor, self.center, self.size, self.exhaustiveness, self.seed)


def dock_settings(receptor=None, center=None, size=None, exhaustiveness=8, seed=0, target=None,
                  usage: str = USAGE) -> DockSettings:
    """Check docking options; a one-line ValueError names what is wrong (``usage``: how to give them).
    ``target=NAME`` takes dockstring's receptor and box (``center``/``size`` still override the box)."""
    missing = missing_packages()
    if missing:
        raise ValueError(f"needs {' and '.join(missing)}, which is not installed: {INSTALL}")
    if target is not None:
        if receptor is not None:
            raise ValueError(f"give target={target} or receptor={receptor}, not both (target= docks into "
                             "a prepared receptor with its box, receptor= into your own PDBQT)")
        receptor, t_center, t_size = resolve_target(str(target))
        center = t_center if center is None else center
        size = t_size if size is None else size
    if receptor is None or center is None or size is None:
        raise ValueError(f"needs a receptor and a box: {usage}")
    path = Path(str(receptor)).expanduser().resolve()
    if not path.is_file():
        raise ValueError(f"receptor file {path} does not exist (a receptor prepared as PDBQT; {usage})")
    text = path.read_bytes()
    if path.suffix.lower() != ".pdbqt" or not any(line.startswith((b"ATOM", b"HETATM"))
                                                 for line in text.splitlines()):
        raise ValueError(f"receptor {path} is not a PDBQT file with ATOM records (prepare it with "
                         "meeko's mk_prepare_receptor.py or AutoDockTools)")
    c, s = parse_triple("center", center, usage=usage), parse_triple("size", size, positive=True, usage=usage)
    if isinstance(exhaustiveness, bool) or not isinstance(exhaustiveness, int) or not 1 <= exhaustiveness <= 64:
        raise ValueError(f"exhaustiveness must be a whole number in [1, 64], got {exhaustiveness!r}")
    try:
        seed = int(seed)
    except (TypeError, ValueError):
        raise ValueError(f"seed must be a whole number, got {seed!r}") from None
    return DockSettings(str(path), c, s, exhaustiveness, seed, hashlib.sha256(text).hexdigest())


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
    """Picklable oracle: SMILES -> ``Scored(Vina score in kcal/mol, best pose)`` or ``Invalid``. Each
    worker computes the receptor's grid maps once and keeps them."""

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

        from .conformers import embed_conformer

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
