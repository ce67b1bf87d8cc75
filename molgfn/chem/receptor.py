"""Receptor preparation for docking: a protein structure (PDB or mmCIF) -> a rigid receptor PDBQT and a Vina box,
in one folder that ``--task vina --task-option target=FOLDER`` docks into.

1. gemmi reads the file (the first model; the first alternative location of each atom; hydrogens dropped, so
   that every hydrogen comes from one source) and removes waters and hetero groups (ligands, ions, buffer,
   sugars), except the residue names the user keeps. What was removed is recorded.
2. The box: the heavy atoms of a co-crystallised ligand (a ligand file, or a HETATM residue of the structure
   named by its residue name) or of a residue selection. center = the midpoint of their min/max extents;
   size = extent + 2 * padding, each side at least ``MIN_SIDE``.
3. meeko (``Polymer`` with its residue templates; the Python API, no subprocess) adds the hydrogens, assigns
   AutoDock atom types and the templates' Gasteiger charges, and writes the PDBQT. Residues meeko has no
   template for (unknown names, or missing atoms) are left out when they are more than ``BAD_RES_RADIUS``
   from the box, an error otherwise (``drop_bad`` leaves them out anyway); unknown residue names never reach
   meeko, whose fallback would download templates from the PDB's chemical component dictionary.
4. OUTDIR/receptor.pdbqt, OUTDIR/receptor.pdb (the same atoms with hydrogens, to view poses against) and
   OUTDIR/box.json (center, size, source, what was removed, the command) are written atomically, box.json
   last: a folder with a box.json is complete.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import math
import re
import warnings
from pathlib import Path

from ..errors import InputError
from .docking import INSTALL
from .docking import MAX_BOX as MAX_SIDE  # larger grids are no docking box

RECEPTOR, RECEPTOR_PDB, BOX = "receptor.pdbqt", "receptor.pdb", "box.json"
OUTPUTS = (RECEPTOR, RECEPTOR_PDB, BOX)
SIGNATURE = "molgfn_receptor"  # box.json's first key: the folder is molgfn's to replace
REMARK = "REMARK   molgfn receptor prepare"  # the first line of the receptor files molgfn writes
# The smallest box side (Angstrom). The box must fit the molecules to be designed, not only the co-crystallised
# ligand it is drawn around: Feinstein & Brylinski (J. Cheminform. 2015, 7:18) found Vina most accurate with a
# cubic box of 2.9 x the ligand's radius of gyration, and 20 A is that box for a radius of gyration of ~7 A,
# a larger drug-like molecule (Vina's own --autobox, the ligand's extent + 4 A, fits only the ligand itself).
# Vina itself warns above 27,000 A^3 (a 30 A cube: dockstring's boxes) that the search gets less reliable;
# between the two, the padding is the user's choice.
VINA_WARNS = 27000.0  # A^3
MIN_SIDE = 20.0
MAX_PADDING = 30.0
# Residues meeko cannot type are left out beyond this distance from the box: Vina's interaction terms end at
# 8 A, so an atom farther than that from every point of the box cannot change a docking score.
BAD_RES_RADIUS = 8.0
LIGAND_SUFFIXES = (".sdf", ".mol", ".mol2", ".pdb", ".ent", ".pdbqt")
RESIDUE = re.compile(r"^\s*([^:\s]+)\s*:\s*(-?\d+)([A-Za-z]?)\s*(?:-\s*(-?\d+)([A-Za-z]?)\s*)?$")


def _need(*modules: str) -> None:
    import importlib.util

    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise InputError(f"receptor preparation needs {' and '.join(missing)}, which is not installed: {INSTALL}")


def _shown(value, n: int = 24) -> str:
    """The user's value quoted for a message, cut to n characters."""
    text = str(value)
    return repr(text if len(text) <= n else text[:n] + "...")


def _short(text: str, n: int = 240) -> str:
    """A message on one line, at most n characters."""
    line = "; ".join(s.strip() for s in str(text).splitlines() if s.strip())
    return line if len(line) <= n else line[: n - 3] + "..."


# ---- the box ----------------------------------------------------------------------------------------------
def box_around(coords, padding: float, min_side: float = MIN_SIDE) -> tuple[list[float], list[float]]:
    """(center, size) of the box around ``coords`` (N x 3): center = the midpoint of the min/max extents, each
    side = the extent + 2 * padding, at least ``min_side``; rounded to 3 decimals (a Vina config's precision)."""
    pts = [tuple(map(float, p)) for p in coords]
    if not pts:
        raise InputError("the box would be empty: no atoms to draw it around")
    lo = [min(p[i] for p in pts) for i in range(3)]
    hi = [max(p[i] for p in pts) for i in range(3)]
    center = [round((a + b) / 2, 3) for a, b in zip(lo, hi, strict=True)]
    size = [round(max(b - a + 2 * padding, min_side), 3) for a, b in zip(lo, hi, strict=True)]
    if not all(math.isfinite(v) for v in (*center, *size)):
        raise InputError("the box is not finite: the atoms it is drawn around have coordinates that are not numbers")
    if max(size) > MAX_SIDE:
        raise InputError(f"the box would be {max(size):g} A on its longest side, more than the {MAX_SIDE:g} A a "
                         "docking grid can be: select the pocket's residues only, or use less --padding")
    return center, size


def parse_residues(spec: str) -> list[tuple[str, int, str, int, str]]:
    """``A:45,A:78,B:101A,A:50-55`` -> (chain, first number, insertion code, last number, insertion code)."""
    items = [s for s in str(spec).split(",") if s.strip()]
    if not items:
        raise InputError(f"--residues {_shown(spec)} names no residue; give CHAIN:NUMBER items, e.g. A:45,A:78,A:80-84")
    out = []
    for item in items:
        m = RESIDUE.match(item)
        if m is None:
            raise InputError(f"--residues item {_shown(item.strip())} is not CHAIN:NUMBER (or CHAIN:FIRST-LAST), e.g. "
                             "A:45 or A:80-84")
        chain, a, ia, b, ib = m.groups()
        last, last_icode = (int(b), ib or "") if b is not None else (int(a), ia or "")
        if last < int(a):
            raise InputError(f"--residues item {_shown(item.strip())} runs backwards; write the range as FIRST-LAST")
        out.append((chain, int(a), (ia or "").upper(), last, last_icode.upper()))
    return out


def _label(chain, res) -> str:
    icode = res.seqid.icode.strip()
    return f"{res.name} {chain.name}:{res.seqid.num}{icode}"


def _heavy(res) -> list[tuple[float, float, float]]:
    return [(a.pos.x, a.pos.y, a.pos.z) for a in res if not a.is_hydrogen()]


def ligand_file_coords(path: str | Path) -> list[tuple[float, float, float]]:
    """Heavy-atom coordinates of every molecule in a ligand file (SDF/MOL, MOL2, PDB/PDBQT)."""
    path = Path(path)
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "does not exist"
        raise InputError(f"--ligand {path} {what} (give a co-crystallised ligand's file: SDF, MOL2 or PDB)")
    suffix = path.suffix.lower()
    if suffix not in LIGAND_SUFFIXES:
        raise InputError(f"--ligand {path}: expected a {', '.join(LIGAND_SUFFIXES)} file, got {suffix or 'no suffix'}")
    coords: list[tuple[float, float, float]] = []
    try:
        if suffix in (".sdf", ".mol"):
            from rdkit import Chem

            from .rdlog import quiet_rdkit

            with quiet_rdkit():
                for mol in Chem.SDMolSupplier(str(path), sanitize=False, removeHs=False):
                    if mol is not None and mol.GetNumConformers():
                        pos = mol.GetConformer().GetPositions()
                        coords += [tuple(pos[a.GetIdx()]) for a in mol.GetAtoms() if a.GetAtomicNum() > 1]
        elif suffix == ".mol2":
            from rdkit import Chem

            from .rdlog import quiet_rdkit

            with quiet_rdkit():
                mol = Chem.MolFromMol2File(str(path), sanitize=False, removeHs=False)
            if mol is not None and mol.GetNumConformers():
                pos = mol.GetConformer().GetPositions()
                coords += [tuple(pos[a.GetIdx()]) for a in mol.GetAtoms() if a.GetAtomicNum() > 1]
        else:
            st = _read(path, "--ligand")
            coords = [xyz for ch in st[0] for res in ch for xyz in _heavy(res)]
    except InputError:
        raise
    except OSError as e:
        from ..paths import input_error

        raise input_error(e, "cannot read --ligand") from None
    except Exception as e:  # a parser's refusal of a damaged file
        raise InputError(f"--ligand {path} could not be read ({_short(e, 120)}); give an SDF, MOL2 or PDB file") \
            from None
    if not coords:
        raise InputError(f"--ligand {path} holds no atoms with coordinates, so the box would be empty; give the "
                         "co-crystallised ligand's 3-D file")
    return [tuple(map(float, c)) for c in coords]


# ---- the structure ------------------------------------------------------------------------------------------
def _read(path: Path, flag: str):
    import gemmi

    try:
        st = gemmi.read_structure(str(path))
    except OSError as e:
        from ..paths import input_error

        raise input_error(e, f"cannot read {flag}") from None
    except Exception as e:  # gemmi's RuntimeError/ValueError for text that is no structure
        raise InputError(f"{flag} {path} is not a PDB or mmCIF file gemmi can read ({_short(e, 120)})") from None
    if len(st) == 0 or st[0].count_atom_sites() == 0:
        raise InputError(f"{flag} {path} holds no atoms (ATOM/HETATM records); give a PDB or mmCIF file of the "
                         "structure")
    return st


def read_structure(path: str | Path):
    """The structure at ``path`` (PDB or mmCIF, gzipped or not) as gemmi reads it, its first model only,
    hydrogens and alternative locations but the first dropped; a one-line error when it cannot be read."""
    _need("gemmi")
    path = Path(path)
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "does not exist"
        raise InputError(f"PROTEIN {path} {what} (give a PDB or mmCIF file, e.g. downloaded from rcsb.org)")
    st = _read(path, "PROTEIN")
    while len(st) > 1:
        del st[len(st) - 1]  # an NMR ensemble: its first model
    st.remove_alternative_conformations()
    st.remove_hydrogens()
    st.setup_entities()
    st.remove_empty_chains()
    return st


def _is_polymer(res) -> bool:
    import gemmi

    if res.entity_type == gemmi.EntityType.Polymer:
        return True
    if res.entity_type != gemmi.EntityType.Unknown:
        return False
    info = gemmi.find_tabulated_residue(res.name)
    return info is not None and (info.is_amino_acid() or info.is_nucleic_acid())


def hetero_residues(st) -> list[str]:
    """Labels (``LIG A:401``) of the non-water hetero residues: what --ligand-resname can name."""
    return [_label(ch, r) for ch in st[0] for r in ch if not r.is_water() and not _is_polymer(r)]


def box_from_resname(st, resname: str, chain: str | None, padding: float):
    """The box around the co-crystallised HETATM residue ``resname`` (in ``chain``): (center, size, source)."""
    name = str(resname).strip().upper()
    if not name or len(name) > 5 or not name.isprintable():
        raise InputError(f"--ligand-resname {_shown(resname)} is no residue name; give the ligand's 1-5 character "
                         f"residue name (its HETATM records), e.g. {_het_hint(st)}")
    hits = [(ch, r) for ch in st[0] for r in ch if r.name.upper() == name and (chain is None or ch.name == chain)]
    if not hits:
        where = f" in chain {chain}" if chain is not None else ""
        chains = sorted({ch.name for ch in st[0]})
        also = f" (chains: {', '.join(chains)})" if chain is not None and chain not in chains else ""
        raise InputError(f"no residue named {name}{where}{also}; {_het_hint(st, full=True)}")
    if len(hits) > 1:
        labels = ", ".join(_label(ch, r) for ch, r in hits[:8])
        raise InputError(f"--ligand-resname {name} names {len(hits)} residues ({labels}); pick one copy with --chain "
                         "or with --residues CHAIN:NUMBER")
    ch, res = hits[0]
    coords = _heavy(res)
    center, size = box_around(coords, padding)
    return center, size, {"kind": "ligand-resname", "residue": _label(ch, res), "atoms": len(coords)}


def _het_hint(st, full: bool = False) -> str:
    het = hetero_residues(st)
    if not het:
        return ("the structure has no hetero residues besides water; draw the box with --ligand FILE or "
                "--residues CHAIN:NUMBER,...") if full else "LIG"
    shown = ", ".join(het[:12]) + (f" and {len(het) - 12} more" if len(het) > 12 else "")
    return f"its hetero residues are {shown}" if full else het[0].split()[0]


def box_from_residues(st, spec: str, padding: float):
    """The box around the residues of a selection (``A:45,A:78,A:80-84``): (center, size, source)."""
    wanted = parse_residues(spec)
    coords: list[tuple[float, float, float]] = []
    found, missing = [], []
    for chain, first, icode, last, last_icode in wanted:
        lo, hi = (first, icode), (last, last_icode)
        hits = [(ch, r) for ch in st[0] if ch.name == chain for r in ch
                if lo <= (r.seqid.num, r.seqid.icode.strip().upper()) <= hi]
        item = f"{chain}:{first}{icode}" + (f"-{last}{last_icode}" if (last, last_icode) != (first, icode) else "")
        if not hits:
            missing.append(item)
        for ch, r in hits:
            found.append(_label(ch, r))
            coords += _heavy(r)
    if missing:
        span = "; ".join(f"chain {ch.name}: {ch[0].seqid.num}-{ch[len(ch) - 1].seqid.num}" for ch in st[0]
                         if len(ch))
        raise InputError(f"--residues {', '.join(missing)} names no residue of the structure ({span}); check the "
                         "chain and the numbers (the file's own numbering)")
    center, size = box_around(coords, padding)
    return center, size, {"kind": "residues", "residues": found, "atoms": len(coords)}


def _supported_names() -> set[str]:
    try:
        from meeko import ResidueChemTemplates
    except ImportError:
        raise InputError(f"receptor preparation needs meeko >= 0.6 (its residue templates): pip install -U meeko, "
                         f"or {INSTALL}") from None

    t = ResidueChemTemplates.create_from_defaults()
    return set(t.residue_templates) | set(t.ambiguous)


def _near_box(coords, center, size, radius: float) -> bool:
    """Whether any of ``coords`` is within ``radius`` of the box (inside it included)."""
    for p in coords:
        d2 = sum(max(abs(p[i] - center[i]) - size[i] / 2, 0.0) ** 2 for i in range(3))
        if d2 <= radius * radius:
            return True
    return False


def clean(st, keep_waters: bool, keep_hetero: set[str], center, size, drop_bad: bool,
          supported: set[str]) -> dict:
    """Remove from ``st`` (in place) waters, hetero residues not kept, and residues meeko has no template for
    (far from the box, or all with ``drop_bad``); returns what was removed."""
    removed: dict = {"waters": 0, "hetero": [], "no_template": []}
    near: list[str] = []
    for ch in st[0]:
        for i in reversed(range(len(ch))):
            res = ch[i]
            if res.is_water():
                if keep_waters:
                    continue
                removed["waters"] += 1
            elif not _is_polymer(res):
                if res.name.upper() in keep_hetero:
                    continue
                removed["hetero"].append(_label(ch, res))
            elif res.name.upper() in supported:
                continue
            elif drop_bad or not _near_box(_heavy(res), center, size, BAD_RES_RADIUS):
                removed["no_template"].append(_label(ch, res))
            else:
                near.append(_label(ch, res))
                continue
            del ch[i]
    if near:
        raise InputError(f"meeko has no residue template for {', '.join(reversed(near[-8:]))} within "
                         f"{BAD_RES_RADIUS:g} A of the box; fix the structure (e.g. rename a modified residue to its "
                         "parent), or leave them out with --drop-bad-residues")
    st.remove_empty_chains()
    for key in ("hetero", "no_template"):
        removed[key].reverse()
    return removed


def meeko_receptor(pdb: str, center, size, drop_bad: bool) -> tuple[str, str, list[str]]:
    """meeko's receptor preparation of a cleaned PDB string: (PDBQT, PDB with hydrogens, residues left out)."""
    try:
        from meeko import MoleculePreparation, PDBQTWriterLegacy, Polymer, ResidueChemTemplates
    except ImportError:  # meeko < 0.6 has no Polymer (tested with meeko 0.8)
        raise InputError(f"receptor preparation needs meeko >= 0.6 (its Polymer API): pip install -U meeko, or "
                         f"{INSTALL}") from None

    sink = io.StringIO()  # meeko prints and logs its template matching; the user gets one line instead
    log = logging.getLogger("meeko")
    level = log.level
    log.setLevel(logging.CRITICAL + 1)
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            polymer = Polymer.from_pdb_string(pdb, ResidueChemTemplates.create_from_defaults(),
                                              MoleculePreparation(), allow_bad_res=True)
            bad = {f"{m.input_resname or '?'} {rid}".strip(): m for rid, m in polymer.get_ignored_monomers().items()}
            near = [label for label, m in bad.items() if m.raw_rdkit_mol is not None and not drop_bad and _near_box(
                m.raw_rdkit_mol.GetConformer().GetPositions().tolist(), center, size, BAD_RES_RADIUS)]
            if near:
                raise InputError(f"meeko could not match {', '.join(near[:8])} to its residue templates (missing "
                                 f"atoms?) within {BAD_RES_RADIUS:g} A of the box; complete those residues, or leave "
                                 "them out with --drop-bad-residues")
            if not polymer.get_valid_monomers():
                raise InputError("meeko could not match any residue of the structure to its templates; nothing to "
                                 "dock into")
            rigid, _flex = PDBQTWriterLegacy.write_from_polymer(polymer)
            with_h = polymer.to_pdb()
        except InputError:
            raise
        except Exception as e:  # PolymerCreationError and what else meeko raises on a structure it refuses
            detail = getattr(e, "error", None) or str(e) or type(e).__name__
            raise InputError(f"meeko could not prepare the receptor: {_short(detail, 200)}") from None
        finally:
            log.setLevel(level)
    if not any(ln.startswith(("ATOM", "HETATM")) for ln in rigid.splitlines()):
        raise InputError("meeko wrote a receptor without atoms; check the structure")
    return rigid, with_h, list(bad)


# ---- the command --------------------------------------------------------------------------------------------
def is_ours(path: Path) -> bool:
    """A file of a receptor folder that molgfn wrote (its signature), for the output checks."""
    try:
        with open(path, "rb") as f:
            head = f.read(200).decode("utf-8", errors="replace")
    except OSError:
        return False
    return head.startswith(REMARK) or head.startswith('{\n  "' + SIGNATURE)


def _remarked(text: str, source: str) -> str:
    return f"{REMARK} from {source}\n" + text.lstrip("\n")


def prepare(protein: str | Path, out: str | Path, ligand: str | Path | None = None, ligand_resname: str | None = None,
            chain: str | None = None, residues: str | None = None, padding: float = 4.0, keep_waters: bool = False,
            keep_hetero: str | None = None, drop_bad: bool = False, force: bool = False,
            command: str | None = None) -> dict:
    """``molgfn receptor prepare``: check everything, prepare, then write the folder; returns box.json's data.
    Nothing is written when anything fails."""
    from .. import __version__
    from ..atomic import atomic_write_text
    from ..paths import check_output_dir, input_error

    given = [f for f, v in (("--ligand", ligand), ("--ligand-resname", ligand_resname), ("--residues", residues))
             if v is not None]
    if len(given) != 1:
        raise InputError("draw the box with one of --ligand FILE, --ligand-resname NAME or --residues "
                         f"CHAIN:NUMBER,...{' (not ' + ' and '.join(given) + ')' if given else ''}")
    if chain is not None and ligand_resname is None:
        raise InputError("--chain picks a copy of --ligand-resname's ligand; with --residues the chain is part of "
                         "each item (A:45)")
    if chain is not None and (not str(chain).strip() or not str(chain).isprintable() or len(str(chain)) > 4):
        raise InputError(f"--chain {_shown(chain)} is no chain name; give the chain's name as in the file, e.g. A")
    if not (isinstance(padding, int | float) and math.isfinite(padding) and 0 <= padding <= MAX_PADDING):
        raise InputError(f"--padding must be a number of Angstrom in [0, {MAX_PADDING:g}], got {padding}")
    keep = {s.strip().upper() for s in str(keep_hetero or "").split(",") if s.strip()}
    bad_names = sorted(k for k in keep if len(k) > 5 or not k.isprintable() or not k.replace("_", "").isalnum())
    if bad_names:
        raise InputError(f"--keep-hetero: {_shown(bad_names[0])} is no residue name; give residue names "
                         "separated by commas, e.g. ZN,MG")
    if ligand_resname is not None and str(ligand_resname).strip().upper() in keep:
        raise InputError(f"--ligand-resname {ligand_resname} is the ligand to draw the box around and to remove; do "
                         "not keep it with --keep-hetero")
    _need("gemmi", "meeko")
    st = read_structure(protein)
    out = Path(out)
    check_output_dir(out, OUTPUTS, force=force, ours=is_ours)
    supported = _supported_names()
    unknown = sorted(keep - supported)
    if unknown:
        raise InputError(f"--keep-hetero {', '.join(unknown)}: meeko has no template for "
                         f"{'it' if len(unknown) == 1 else 'them'} (it types metal ions such as ZN, MG, MN, CA, FE; "
                         "other hetero groups cannot be part of the receptor here)")

    if ligand is not None:
        coords = ligand_file_coords(ligand)
        center, size = box_around(coords, padding)
        source = {"kind": "ligand-file", "file": str(ligand), "atoms": len(coords)}
    elif ligand_resname is not None:
        center, size, source = box_from_resname(st, ligand_resname, chain, padding)
    else:
        center, size, source = box_from_residues(st, residues, padding)
    source.update(padding=float(padding), min_side=MIN_SIDE)

    removed = clean(st, keep_waters, keep, center, size, drop_bad, supported)
    if not any(_is_polymer(r) for ch in st[0] for r in ch):
        raise InputError(f"PROTEIN {protein} has no protein or nucleic-acid residues left after removing "
                         "waters and hetero groups; give the structure of the receptor")
    import gemmi

    options = gemmi.PdbWriteOptions(minimal=True)
    rigid, with_h, left_out = meeko_receptor(st.make_pdb_string(options), center, size, drop_bad)
    removed["no_template"] += [r for r in left_out if r not in removed["no_template"]]
    removed["kept_hetero"] = sorted(keep)

    protein_path = Path(protein)
    rigid = _remarked(rigid, protein_path.name)
    data = {
        SIGNATURE: 1,
        "center": center,
        "size": size,
        "receptor": RECEPTOR,
        "receptor_sha256": hashlib.sha256(rigid.encode()).hexdigest(),  # box and receptor belong together
        "source": source,
        "removed": removed,
        "input": {"file": str(protein_path), "sha256": hashlib.sha256(protein_path.read_bytes()).hexdigest()},
        "software": {"molgfn": __version__, "meeko": _version("meeko"), "gemmi": gemmi.__version__},
        "command": command,
    }
    try:
        atomic_write_text(out / RECEPTOR, rigid)
        atomic_write_text(out / RECEPTOR_PDB, _remarked(with_h, protein_path.name))
        atomic_write_text(out / BOX, json.dumps(data, indent=2) + "\n")  # last: the folder is complete
    except OSError as e:
        raise input_error(e, "cannot write --out") from None
    data["atoms"] = sum(ln.startswith(("ATOM", "HETATM")) for ln in rigid.splitlines())
    return data


def _version(dist: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _fmt(v) -> str:
    return ",".join(f"{x:g}" for x in v)


def report_lines(out: str | Path, data: dict) -> list[str]:
    """What ``receptor prepare`` prints: what it wrote, the box, what it removed, and the next command."""
    import shlex

    out = Path(out)
    src = data["source"]
    what = {"ligand-file": lambda: f"the ligand file {src['file']}",
            "ligand-resname": lambda: f"the ligand {src['residue']}",
            "residues": lambda: f"{len(src['residues'])} residues"}[src["kind"]]()
    rm = data["removed"]
    gone = [f"{rm['waters']} waters"] if rm["waters"] else []
    if rm["hetero"]:
        gone.append(f"hetero {', '.join(rm['hetero'][:10])}" + (f" (+{len(rm['hetero']) - 10})"
                                                                 if len(rm["hetero"]) > 10 else ""))
    if rm["no_template"]:
        gone.append(f"without a meeko template {', '.join(rm['no_template'][:10])}")
    folder = shlex.quote(str(out))
    volume = math.prod(data["size"])
    warn = [f"note: the box is {volume:,.0f} A^3; Vina warns above {VINA_WARNS:,.0f} A^3 (a 30 A cube) that its "
            "search gets less reliable: select fewer residues or use less --padding"] if volume > VINA_WARNS else []
    return [
        f"wrote {out / RECEPTOR} ({data['atoms']} atoms), {out / RECEPTOR_PDB} and {out / BOX}",
        f"box: center {_fmt(data['center'])}, size {_fmt(data['size'])} A, around {what} ({src['atoms']} heavy atoms, "
        f"padding {src['padding']:g} A, sides at least {src['min_side']:g} A)",
        "removed: " + ("; ".join(gone) if gone else "nothing"),
        *warn,
        f"next: molgfn design --task vina --task-option target={folder}",
        f"  (the same as --task-option receptor={shlex.quote(str(out / RECEPTOR))} --task-option "
        f"center={_fmt(data['center'])} --task-option size={_fmt(data['size'])})",
    ]


def read_target_folder(folder: str | Path) -> tuple[Path, tuple[float, ...], tuple[float, ...]]:
    """A folder written by ``molgfn receptor prepare`` -> (receptor PDBQT, center, size); one-line errors
    (ValueError, as the vina task's options raise) for a folder that is not one."""
    folder = Path(folder).expanduser()
    box = folder / BOX
    hint = "prepare one with: molgfn receptor prepare PROTEIN.pdb --out FOLDER --ligand-resname LIG"
    if not folder.is_dir():
        raise ValueError(f"target={folder} is not a folder; {hint}")
    try:
        data = json.loads(box.read_text())
    except FileNotFoundError:
        raise ValueError(f"target={folder} holds no {BOX}; {hint}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{box} cannot be read ({_short(e, 100)}); write it again with molgfn receptor "
                         "prepare") from None
    try:
        center = tuple(float(v) for v in data["center"])
        size = tuple(float(v) for v in data["size"])
    except (TypeError, KeyError, ValueError, AttributeError):
        raise ValueError(f"{box} has no center and size (three numbers each); write it again with molgfn receptor "
                         "prepare") from None
    if len(center) != 3 or len(size) != 3:
        raise ValueError(f"{box}: center and size must be three numbers each")
    receptor = folder / RECEPTOR
    want = data.get("receptor_sha256")
    if want and receptor.is_file() and hashlib.sha256(receptor.read_bytes()).hexdigest() != want:
        raise ValueError(f"{receptor} is not the receptor {BOX} was written with (changed since, or a run that "
                         "did not finish); prepare the folder again with molgfn receptor prepare")
    return receptor, center, size
