"""Medicinal-chemistry view of a molecule list: descriptors, filters, fingerprints, SDF, drawing.

One module, used by the candidate writer, ``molgfn score`` and the report alike.

- Fingerprint (one definition everywhere): Morgan, radius ``FP_RADIUS`` = 2, ``FP_BITS`` =
  1024 bits (the top-100 diversity setting of the LS-GFN paper); the papers' mode count for
  seh-frag passes 2048 bits explicitly.
- Descriptors (RDKit): InChIKey, Bemis-Murcko scaffold, average molecular weight, Wildman-
  Crippen cLogP, Ertl TPSA, HBD / HBA in Lipinski's own definitions (N-H + O-H count; N + O
  count), rotatable bonds (RDKit's strict SMARTS), QED (Bickerton et al. 2012) and the SA score
  of Ertl & Schuffenhauer (2009) from RDKit's contributed ``sascorer`` (1 easy .. 10 hard).
- Rules: Lipinski's rule of five (MW <= 500, cLogP <= 5, HBD <= 5, HBA <= 10; a molecule passes
  with at most one violation, as in Lipinski et al. 1997; the filter ``ro5-strict`` allows none)
  and Veber et al. 2002 (rotatable bonds <= 10 and TPSA <= 140 A^2).
- Structural alerts: RDKit ``FilterCatalog`` PAINS (A, B, C; Baell & Holloway 2010), Brenk
  et al. (2008) and "reactive or unstable" (``REACTIVE_SETS``), reported by alert name.

The reactive set is two of the ChEMBL structural-alert sets that RDKit ships: BMS (Pearce et
al. 2006, J. Chem. Inf. Model. 46:1060, 180 rules written to keep reactive and unstable
compounds out of a screening deck) and Glaxo (Hann et al. 1999, J. Chem. Inf. Comput. Sci.
39:897, 55 reactive-group rules). BMS catches aminals ("non_ring_acetal": any acyclic
X-C-X of N/O, also between ring nitrogens, which Brenk misses), every N-N hydrazine
("hydrazine", again also between ring nitrogens), acyl and carbamoyl halides
("carbonyl_halide") and N-S bonds ("sulf_D2_nitrogen"); Glaxo adds thiols, hence N-SH ("I5
Thiols"), and acyl hydrazides. Neither flags any of 12 marketed drugs in
tests/test_chem_descriptors.py, where Brenk flags aspirin and paracetamol; the larger ChEMBL
sets (MLSMR, LINT, SureChEMBL) also flag esters, carbamates, sulfoxides or anilines.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from rdkit import Chem

from ..choices import LIST_FORMATS as FORMATS  # defined once, for the library and the CLI
from ..choices import MOLECULE_FILTERS as FILTERS
from .rdlog import quiet_rdkit

if TYPE_CHECKING:  # pandas (~70 MB) is imported by the table functions only: training never needs it
    import pandas as pd

FP_RADIUS = 2
FP_BITS = 1024

DESCRIPTOR_COLUMNS = ("inchikey", "scaffold", "mol_weight", "clogp", "tpsa", "hbd", "hba", "rotatable_bonds",
                      "qed", "sa_score", "lipinski_violations", "lipinski_pass", "veber_pass", "pains_alerts",
                      "brenk_alerts", "reactive_alerts")
REACTIVE_SETS = ("CHEMBL_BMS", "CHEMBL_Glaxo")  # RDKit FilterCatalogs members (see the module docstring)
ALERT_SEP = "; "


# ---- parsing and fingerprints -----------------------------------------------------------
def mol_from_smiles(smiles: str) -> Chem.Mol | None:
    """RDKit molecule of a SMILES, or None (quietly) when it does not parse or sanitise."""
    if not smiles or smiles.startswith("!"):
        return None
    with quiet_rdkit():
        return Chem.MolFromSmiles(smiles)


@lru_cache(maxsize=8)
def fp_generator(n_bits: int = FP_BITS, radius: int = FP_RADIUS):
    """RDKit's Morgan fingerprint generator (one per setting, kept): the project's is radius 2, 1,024 bits."""
    from rdkit.Chem import rdFingerprintGenerator

    return rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=n_bits)


def fingerprint(mol: Chem.Mol, n_bits: int = FP_BITS):
    """The project's fingerprint of a molecule: Morgan radius 2, ``n_bits`` bits."""
    return fp_generator(n_bits).GetFingerprint(mol)


def fingerprints(smiles: Sequence[str], n_bits: int = FP_BITS) -> list:
    """Fingerprints of SMILES; a SMILES that does not parse raises ``ValueError``."""
    out = []
    for s in smiles:
        m = mol_from_smiles(s)
        if m is None:
            raise ValueError(f"cannot parse SMILES {s!r}")
        out.append(fingerprint(m, n_bits))
    return out


def diverse_indices(smiles: Sequence[str], max_similarity: float, top: int | None = None) -> list[int]:
    """Indices of a ranked list kept by RDKit's ``LeaderPicker`` in rank order: a molecule is kept
    when its Tanimoto similarity to every kept (better-ranked) molecule is below
    ``max_similarity``; stops after ``top`` kept. Fingerprints are computed in growing chunks, so
    a long list is not fingerprinted past the point where ``top`` molecules are found."""
    from rdkit.SimDivFilters import rdSimDivPickers

    n = len(smiles)
    if n == 0:
        return []
    # LeaderPicker keeps item i when its Tanimoto *distance* to every pick exceeds the threshold,
    # scanning in input order (tests/test_candidates.py checks the equivalence)
    threshold = 1.0 - max_similarity
    fps: list = []
    size = n if top is None else min(n, max(32, 2 * top))
    while True:
        fps.extend(fingerprints(smiles[len(fps):size]))
        want = 0 if top is None else min(top, size)
        picks = list(rdSimDivPickers.LeaderPicker().LazyBitVectorPick(fps, size, threshold, want))
        if size == n or (top is not None and len(picks) >= top):
            return picks[:top] if top is not None else picks
        size = min(n, 2 * size)


# ---- descriptors ----------------------------------------------------------------------
@lru_cache(maxsize=1)
def _sascorer():
    """RDKit's contributed SA scorer (Contrib/SA_Score/sascorer.py), loaded from its file alone.

    Its fragment-score table is read with the restricted unpickler and handed to the module,
    so the module's own ``pickle.load`` never runs."""
    from rdkit import RDConfig

    from ..errors import MolgfnError
    from ..safe_pickle import safe_load

    folder = Path(RDConfig.RDContribDir) / "SA_Score"
    path = folder / "sascorer.py"
    if not path.exists():
        raise MolgfnError(f"RDKit's SA scorer is missing ({path}); install the rdkit wheel from PyPI, which "
                          "ships it under rdkit/Contrib")
    spec = importlib.util.spec_from_file_location("molgfn_rdkit_sascorer", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    table = {}
    for row in safe_load(folder / "fpscores.pkl.gz"):
        for key in row[1:]:
            table[key] = float(row[0])
    mod._fscores = table
    return mod


def sa_score(mol: Chem.Mol) -> float:
    """Synthetic accessibility (Ertl & Schuffenhauer 2009): 1 (easy) .. 10 (hard)."""
    return float(_sascorer().calculateScore(mol))


@lru_cache(maxsize=1)
def _catalogs() -> dict:
    from rdkit.Chem.FilterCatalog import FilterCatalog, FilterCatalogParams

    out = {}
    sets = FilterCatalogParams.FilterCatalogs
    for name, cats in (("pains", (sets.PAINS,)), ("brenk", (sets.BRENK,)),
                       ("reactive", tuple(getattr(sets, c) for c in REACTIVE_SETS))):
        params = FilterCatalogParams()
        for cat in cats:
            params.AddCatalog(cat)
        out[name] = FilterCatalog(params)
    return out


def alerts(mol: Chem.Mol) -> dict[str, list[str]]:
    """Structural alerts by catalog: {'pains': [names], 'brenk': [names], 'reactive': [names]} (unique, sorted)."""
    return {name: sorted({e.GetDescription() for e in cat.GetMatches(mol)}) for name, cat in _catalogs().items()}


# Lipinski et al. 1997's limits (a violation is a value above them); the fragment environment masks the
# two that only grow as blocks are added (molgfn.fragtask.rule_bounds)
RO5_LIMITS = {"mol_weight": 500.0, "clogp": 5.0, "hbd": 5, "hba": 10}


def lipinski_violations(mw: float, clogp: float, hbd: int, hba: int) -> int:
    """Rule-of-five violations: MW > 500, cLogP > 5, HBD > 5, HBA > 10 (``RO5_LIMITS``)."""
    lim = RO5_LIMITS
    return int(mw > lim["mol_weight"]) + int(clogp > lim["clogp"]) + int(hbd > lim["hbd"]) + int(hba > lim["hba"])


def veber_pass(rotatable_bonds: int, tpsa: float) -> bool:
    return rotatable_bonds <= 10 and tpsa <= 140.0


def murcko_scaffold(mol: Chem.Mol) -> str:
    """Bemis-Murcko scaffold SMILES ('' for a molecule without rings)."""
    from rdkit.Chem.Scaffolds import MurckoScaffold

    return MurckoScaffold.MurckoScaffoldSmiles(mol=mol)


def describe(mol: Chem.Mol) -> dict:
    """Every descriptor column (``DESCRIPTOR_COLUMNS``) of one molecule."""
    from rdkit.Chem import QED, Crippen, Descriptors, rdMolDescriptors

    mw, clogp = Descriptors.MolWt(mol), Crippen.MolLogP(mol)
    tpsa = rdMolDescriptors.CalcTPSA(mol)
    hbd, hba = rdMolDescriptors.CalcNumLipinskiHBD(mol), rdMolDescriptors.CalcNumLipinskiHBA(mol)
    rot = rdMolDescriptors.CalcNumRotatableBonds(mol)
    viol = lipinski_violations(mw, clogp, hbd, hba)
    al = alerts(mol)
    with quiet_rdkit():  # InChI warnings (e.g. undefined stereo) are not the user's business here
        key = Chem.MolToInchiKey(mol)
    return {"inchikey": key, "scaffold": murcko_scaffold(mol), "mol_weight": mw, "clogp": clogp, "tpsa": tpsa,
            "hbd": hbd, "hba": hba, "rotatable_bonds": rot, "qed": QED.qed(mol), "sa_score": sa_score(mol),
            "lipinski_violations": viol, "lipinski_pass": viol <= 1, "veber_pass": veber_pass(rot, tpsa),
            "pains_alerts": ALERT_SEP.join(al["pains"]), "brenk_alerts": ALERT_SEP.join(al["brenk"]),
            "reactive_alerts": ALERT_SEP.join(al["reactive"])}


_INT_COLUMNS = ("hbd", "hba", "rotatable_bonds", "lipinski_violations")
_BOOL_COLUMNS = ("lipinski_pass", "veber_pass")
_EMPTY = {c: float("nan") for c in DESCRIPTOR_COLUMNS} | {"inchikey": "", "scaffold": "", "pains_alerts": "",
                                                           "brenk_alerts": "", "reactive_alerts": ""}


def descriptor_table(smiles: Sequence[str]) -> pd.DataFrame:
    """One row of ``DESCRIPTOR_COLUMNS`` per SMILES (each distinct SMILES computed once); a
    SMILES that does not parse gets empty strings and NaN."""
    cache: dict[str, dict] = {}
    rows = []
    for s in smiles:
        if s not in cache:
            mol = mol_from_smiles(s)
            cache[s] = describe(mol) if mol is not None else _EMPTY
        rows.append(cache[s])
    import pandas as pd

    df = pd.DataFrame(rows, columns=list(DESCRIPTOR_COLUMNS))
    # counts stay whole numbers and flags booleans even beside a row that did not parse
    return df.astype({c: "Int64" for c in _INT_COLUMNS} | {c: "boolean" for c in _BOOL_COLUMNS})


def add_descriptors(df: pd.DataFrame, column: str = "smiles") -> pd.DataFrame:
    """``df`` with the descriptor columns appended (replacing any of the same name)."""
    import pandas as pd

    desc = descriptor_table(df[column].astype(str).tolist())
    desc.index = df.index
    return pd.concat([df.drop(columns=[c for c in DESCRIPTOR_COLUMNS if c in df.columns]), desc], axis=1)


# ---- filters as design constraints ------------------------------------------------------
def parse_filters(spec: str | Iterable[str] | None) -> tuple[str, ...]:
    """``pains,brenk,lipinski`` (or a list) -> a checked tuple of filter names."""
    from ..errors import InputError

    if spec is None:
        return ()
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    names = tuple(dict.fromkeys(s.strip().lower() for s in items if s and s.strip()))
    bad = [n for n in names if n not in FILTERS]
    if bad:
        raise InputError(f"unknown filter(s) {', '.join(bad)}; choose from {', '.join(FILTERS)} "
                         "(comma-separated, e.g. --filter pains,brenk,lipinski)")
    return names


# cheapest first (per molecule, measured by bench/chem_speed.py): PAINS's ~480 patterns cost the most
CHECK_ORDER = ("ro5-strict", "lipinski", "veber", "brenk", "reactive", "pains")


def failed_filters(mol: Chem.Mol, filters: Sequence[str], first_only: bool = False) -> tuple[str, ...]:
    """The filters (of ``filters``) that a molecule fails, checked in ``CHECK_ORDER``; with
    ``first_only`` the check stops at the first failure (what a design constraint needs)."""
    from rdkit.Chem import Crippen, Descriptors, rdMolDescriptors

    failed = []
    cats = _catalogs()
    for f in sorted(filters, key=CHECK_ORDER.index):
        if f in cats:
            bad = cats[f].HasMatch(mol)
        elif f in ("lipinski", "ro5-strict"):  # Lipinski et al. allow one violation; ro5-strict none
            bad = lipinski_violations(Descriptors.MolWt(mol), Crippen.MolLogP(mol),
                                      rdMolDescriptors.CalcNumLipinskiHBD(mol),
                                      rdMolDescriptors.CalcNumLipinskiHBA(mol)) > (1 if f == "lipinski" else 0)
        else:  # veber
            bad = not veber_pass(rdMolDescriptors.CalcNumRotatableBonds(mol), rdMolDescriptors.CalcTPSA(mol))
        if bad:
            failed.append(f)
            if first_only:
                break
    return tuple(failed)


# ---- scaffold diversity -----------------------------------------------------------------
@lru_cache(maxsize=200_000)
def _scaffold_of(smiles: str) -> str:
    mol = mol_from_smiles(smiles)
    return murcko_scaffold(mol) if mol is not None else smiles  # an unparsable one is its own group


def cap_per_scaffold(smiles: Sequence[str], max_per_scaffold: int) -> list[int]:
    """Indices of a ranked list keeping at most ``max_per_scaffold`` molecules per Murcko
    scaffold (the best-ranked ones); acyclic molecules share the empty scaffold."""
    seen: dict[str, int] = {}
    keep = []
    for i, s in enumerate(smiles):
        key = _scaffold_of(s)
        if seen.get(key, 0) < max_per_scaffold:
            seen[key] = seen.get(key, 0) + 1
            keep.append(i)
    return keep


# ---- files: SDF, Parquet, CSV -----------------------------------------------------------


def _sd_value(v) -> str:
    import pandas as pd

    if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
        return ""
    return repr(v) if isinstance(v, float) else str(v)


def sdf_text(df: pd.DataFrame, column: str = "smiles", seed: int = 0,
             poses: dict[str, str] | None = None) -> tuple[str, list[str]]:
    """SD file text: one 3-D conformer per molecule (ETKDG + MMFF, ``embed_conformer``), every
    column as an SD property. A molecule whose embedding fails keeps 2-D coordinates and a
    ``conformer_error`` property; the failures are returned as messages. ``poses`` (SMILES ->
    SD mol block, a docking task's best poses) gives a molecule its docked coordinates instead
    of a conformer (property ``coordinates``: ``docked pose`` or ``ETKDG+MMFF94``)."""
    import io

    from rdkit.Chem import AllChem

    from .conformers import embed_conformer

    sio = io.StringIO()
    writer = Chem.SDWriter(sio)
    failures: list[str] = []
    for i, row in enumerate(df.to_dict("records")):
        smi = str(row[column])
        mol = mol_from_smiles(smi)
        if mol is None:
            failures.append(f"row {i + 1}: {smi!r} does not parse")
            continue
        pose = docked_pose(poses.get(smi) if poses else None, mol)
        out, err = (pose, None) if pose is not None else embed_conformer(mol, seed=seed)
        if poses is not None and out is not None:
            out.SetProp("coordinates", "docked pose" if pose is not None else "ETKDG+MMFF94")
        if out is None:
            failures.append(f"row {i + 1}: {smi}: {err}")
            out = Chem.Mol(mol)
            AllChem.Compute2DCoords(out)
            out.SetProp("conformer_error", str(err))
        out.SetProp("_Name", f"rank {row['rank']}" if "rank" in row else smi)
        for k, v in row.items():
            out.SetProp(str(k), _sd_value(v))
        writer.write(out)
    writer.close()
    return sio.getvalue(), failures


def docked_pose(block: str | None, mol: Chem.Mol) -> Chem.Mol | None:
    """A stored pose (SD mol block) as a molecule with 3-D coordinates, if it is the same molecule as
    ``mol`` (same canonical SMILES without hydrogens and stereo: a pose has a definite geometry, so it
    fixes stereocentres the SMILES may leave open); None otherwise."""
    if not block:
        return None
    pose = Chem.MolFromMolBlock(block, removeHs=False)
    if pose is None or not pose.GetNumConformers():
        return None
    try:
        same = (Chem.MolToSmiles(Chem.RemoveHs(pose), isomericSmiles=False)
                == Chem.MolToSmiles(Chem.RemoveHs(mol), isomericSmiles=False))
    except Exception:  # RDKit refuses the round trip: fall back to a conformer
        return None
    return pose if same else None


def write_table(df: pd.DataFrame, path: Path, fmt: str | None = None, seed: int = 0,
                poses: dict[str, str] | None = None) -> list[str]:
    """Write a table atomically as CSV, SDF (molecules: needs a ``smiles`` column) or Parquet
    (needs pyarrow). ``fmt`` defaults to the file suffix. Returns SDF conformer failures.
    ``poses``: docked poses to use as SDF coordinates (``sdf_text``)."""
    import io

    from ..atomic import atomic_write_bytes, atomic_write_text
    from ..errors import InputError

    path = Path(path)
    fmt = (fmt or path.suffix.lstrip(".") or "csv").lower()
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    if fmt == "csv":
        atomic_write_text(path, df.to_csv(index=False))
        return []
    if fmt == "sdf":
        if "smiles" not in df.columns:
            raise InputError("SDF needs molecules: this table has no smiles column; use --format csv or parquet")
        text, failures = sdf_text(df, seed=seed, poses=poses)
        atomic_write_text(path, text)
        return failures
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise InputError("Parquet output needs pyarrow: pip install 'molgfn[parquet]' (or pip install pyarrow), "
                         "or use --format csv") from None
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    atomic_write_bytes(path, buf.getvalue())
    return []


# ---- drawing ------------------------------------------------------------------------------
def molecule_svg(smiles: str, legend: str = "", size: tuple[int, int] = (240, 190)) -> str | None:
    """An SVG drawing of one molecule (RDKit's 2-D depiction), or None when it does not parse."""
    from rdkit.Chem.Draw import rdMolDraw2D

    mol = mol_from_smiles(smiles)
    if mol is None:
        return None
    d = rdMolDraw2D.MolDraw2DSVG(*size)
    d.drawOptions().clearBackground = False
    d.drawOptions().fixedBondLength = 28  # small molecules are not blown up to fill the box
    d.DrawMolecule(mol, legend=legend)
    d.FinishDrawing()
    svg = d.GetDrawingText()
    return svg[svg.find("<svg"):]  # drop the XML prolog so it can sit inline in HTML
