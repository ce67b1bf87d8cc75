"""Fragment vocabularies from the user's molecules (``molgfn fragments build``).

A molecule is cut at the bonds a rule set names, RDKit's BRICS (Degen et al., ChemMedChem
2008; ``rdkit.Chem.BRICS.FindBRICSBonds``, each cut named by its two environment labels, e.g.
``BRICS 5-16``) or RECAP (Lewell et al., JCICS 1998; the eleven bond types below, written here
as the bond each one cuts, so that no atom is lost). Every piece becomes a block of the fragment
environment's vocabulary format (``molgfn.envs.fragments``): its SMILES with the cut bonds
replaced by hydrogens, and ``block_r``, its attachment atoms (an atom cut twice is listed twice),
the first one being the atom that bonds to the parent block. So that any piece can hang on its
parent by any of its cuts, a piece gives one block per attachment atom that is not
symmetry-equivalent to another (the ``r[0]`` variants). Blocks join by single bonds only: a
double bond a rule would cut (BRICS 7-7, RECAP's olefin rule) stays uncut.

The N most frequent pieces (counted per occurrence, ties broken by SMILES) are kept whole, with
all their variants, while the vocabulary has room for them (``max_blocks_in_vocab`` blocks).
Pieces are dropped, and counted by reason, when they have more than ``max_stems`` attachment
points or an atom the vocabulary does not take (an element outside ``ELEMENTS``, an isotope
label, a radical). Stereochemistry is not represented by blocks: it is removed first (counted).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from rdkit import Chem
from rdkit.Chem import BRICS

from ..choices import FRAGMENTATION_METHODS as METHODS
from .rdlog import quiet_rdkit

#: elements a block may hold
ELEMENTS = frozenset({"B", "C", "N", "O", "F", "Si", "P", "S", "Cl", "Se", "Br", "I"})
#: marks a vocabulary JSON molgfn wrote (the first key), so a rebuild may replace it
MARK = "molgfn_vocabulary"

# RECAP's bond types (Lewell et al. 1998, as in rdkit.Chem.Recap), each as the one bond it cuts
# (atoms mapped 1 and 2); RDKit's reactions drop the urea carbonyl, the ether oxygen and the amine
# nitrogen, which a block vocabulary must keep, so they are cut on either side instead.
RECAP_RULES = (
    ("urea", "[#7;+0;D2,D3:1]!@[C:2](!@=O)!@[#7;+0;D2,D3]"),
    ("amide", "[C;!$(C([#7])[#7]):1](=!@[O])!@[#7;+0;!D1:2]"),
    ("ester", "[C:1](=!@[O])!@[O;+0;!D1:2]"),
    ("amine", "[N;!D1;+0;!$(N-C=[#7,#8,#15,#16]):1](-!@[*])-!@[*:2]"),
    ("cyclic amine", "[#7;R;D3;+0:1]-!@[*:2]"),
    ("ether", "[#6:1]-!@[O;+0:2]-!@[#6]"),
    ("aromatic nitrogen-aliphatic carbon", "[n;+0:1]-!@[C:2]"),
    ("lactam nitrogen-aliphatic carbon", "O=[C]-@[N;+0:1]-!@[C:2]"),
    ("aromatic carbon-aromatic carbon", "[c:1]-!@[c:2]"),
    ("aromatic nitrogen-aromatic carbon", "[n;+0:1]-!@[c:2]"),
    ("sulphonamide", "[#7;+0;D2,D3:1]-!@[S:2](=O)=O"),
)


def _mapped(patt: Chem.Mol) -> tuple[int, int]:
    maps = {a.GetAtomMapNum(): a.GetIdx() for a in patt.GetAtoms() if a.GetAtomMapNum()}
    return maps[1], maps[2]


_RECAP = tuple((name, Chem.MolFromSmarts(s)) for name, s in RECAP_RULES)


def cut_bonds(mol: Chem.Mol, method: str) -> tuple[dict[int, str], Counter]:
    """{bond index: rule name} of the single bonds ``method`` cuts, and a count of the double bonds
    it would cut but which stay (blocks join by single bonds)."""
    cuts: dict[int, str] = {}
    kept: Counter = Counter()
    if method == "brics":
        found = [(a, b, f"BRICS {la}-{lb}") for (a, b), (la, lb) in BRICS.FindBRICSBonds(mol)]
    elif method == "recap":
        found = []
        for name, patt in _RECAP:
            i, j = _mapped(patt)
            found += [(m[i], m[j], f"RECAP {name}") for m in mol.GetSubstructMatches(patt)]
        olefin = Chem.MolFromSmarts("[C]=!@[C]")
        kept.update("RECAP olefin" for _ in mol.GetSubstructMatches(olefin))
    else:
        raise ValueError(f"unknown fragmentation method {method!r}; choose from {', '.join(METHODS)}")
    for a, b, name in found:
        bond = mol.GetBondBetweenAtoms(int(a), int(b))
        if bond is None:
            continue
        if bond.GetBondType() != Chem.BondType.SINGLE or bond.IsInRing():
            kept[name] += 1
            continue
        cuts.setdefault(bond.GetIdx(), name)
    return cuts, kept


@dataclass
class Piece:
    """One piece of a cut molecule: its atoms (indices of the molecule), the block it makes
    (canonical SMILES, hydrogens where the cuts were) and its cuts as (molecule atom, block atom,
    molecule atom on the other side)."""

    atoms: tuple[int, ...]
    smiles: str
    cuts: list[tuple[int, int, int]]
    block_index: dict[int, int]  # molecule atom -> atom of the parsed block SMILES
    key: str = ""  # SMILES with a dummy atom at each cut: the piece's identity in a vocabulary


def split(mol: Chem.Mol, bonds: Iterable[int]) -> list[Piece]:
    """The pieces of ``mol`` once ``bonds`` are cut (each cut bond becomes a hydrogen on both atoms)."""
    bonds = sorted(set(int(b) for b in bonds))
    if bonds:
        frag = Chem.FragmentOnBonds(mol, bonds, addDummies=True)
    else:
        frag = Chem.Mol(mol)
    n = mol.GetNumAtoms()
    # dummies come after the molecule's atoms; FragmentOnBonds labels each with the index of the
    # atom it stands for (isotope): dummy -> (its atom, the atom across the cut)
    dummy_of = {a.GetIdx(): (a.GetNeighbors()[0].GetIdx(), a.GetIsotope())
                for a in frag.GetAtoms() if a.GetIdx() >= n}
    pieces = []
    for group in Chem.GetMolFrags(frag, asMols=False, sanitizeFrags=False):
        real = tuple(sorted(a for a in group if a < n))
        dums = [d for d in group if d >= n]
        sub = Chem.RWMol(frag)
        keep = set(group)
        for a in sorted(range(frag.GetNumAtoms()), reverse=True):
            if a not in keep:
                sub.RemoveAtom(a)
        # indices in ``sub`` follow the sorted group order
        order = sorted(group)
        pos = {a: i for i, a in enumerate(order)}
        key_mol = Chem.Mol(sub)
        for a in key_mol.GetAtoms():
            if a.GetAtomicNum() == 0:
                a.SetIsotope(0)
        with quiet_rdkit():
            Chem.SanitizeMol(key_mol)
            key = Chem.MolToSmiles(key_mol)
        for d in dums:
            sub.GetAtomWithIdx(pos[d]).SetAtomicNum(1)
            sub.GetAtomWithIdx(pos[d]).SetIsotope(0)
        with quiet_rdkit():
            Chem.SanitizeMol(sub)
            block = Chem.RemoveHs(sub, sanitize=True)
            smi = Chem.MolToSmiles(block)
        out_order = list(block.GetProp("_smilesAtomOutputOrder").strip("[]").strip(",").split(","))
        out_order = [int(x) for x in out_order if x != ""]
        # block atoms are ``real`` in order (the hydrogens that were dummies are gone)
        block_pos = {real[i]: k for k, i in enumerate(out_order)}
        cuts = [(dummy_of[d][0], block_pos[dummy_of[d][0]], dummy_of[d][1]) for d in sorted(dums)]
        pieces.append(Piece(real, smi, cuts, block_pos, key))
    return pieces


def block_variants(piece: Piece) -> list[tuple[int, ...]]:
    """``block_r`` of each variant of a piece: one per attachment atom (up to symmetry) as ``r[0]``."""
    stems = sorted(c[1] for c in piece.cuts)
    if not stems:
        return []
    mol = Chem.MolFromSmiles(piece.smiles)
    rank = list(Chem.CanonicalRankAtoms(mol, breakTies=False))
    out, seen = [], set()
    for a in dict.fromkeys(stems):
        # equivalent when the atom's symmetry class and the multiset of the other stems' classes agree
        rest = list(stems)
        rest.remove(a)
        sig = (rank[a], tuple(sorted(rank[x] for x in rest)))
        if sig in seen:
            continue
        seen.add(sig)
        out.append((a, *rest))
    return out


def prepare(smiles: str) -> tuple[Chem.Mol | None, str | None, list[str]]:
    """(molecule, reason it cannot be used, notes): parsed, largest component kept, stereo removed."""
    with quiet_rdkit():
        mol = Chem.MolFromSmiles(smiles) if smiles else None
    if mol is None:
        return None, "unparsable SMILES", []
    notes = []
    frags = Chem.GetMolFrags(mol, asMols=True)
    if len(frags) > 1:
        mol = max(frags, key=lambda m: m.GetNumHeavyAtoms())
        notes.append("several components: the largest kept")
    if any(a.GetChiralTag() != Chem.ChiralType.CHI_UNSPECIFIED for a in mol.GetAtoms()) or any(
            b.GetStereo() != Chem.BondStereo.STEREONONE for b in mol.GetBonds()):
        mol = Chem.Mol(mol)
        Chem.RemoveStereochemistry(mol)
        notes.append("stereochemistry removed")
    bad = unsupported(mol)
    if bad:
        return None, f"unsupported atoms ({bad})", notes
    return mol, None, notes


def unsupported(mol: Chem.Mol) -> str:
    """What a block vocabulary cannot hold in ``mol``: elements outside ELEMENTS, isotopes, radicals."""
    bad = set()
    for a in mol.GetAtoms():
        if a.GetSymbol() not in ELEMENTS:
            bad.add(a.GetSymbol())
        if a.GetIsotope():
            bad.add(f"isotope {a.GetIsotope()}{a.GetSymbol()}")
        if a.GetNumRadicalElectrons():
            bad.add(f"radical {a.GetSymbol()}")
    return ", ".join(sorted(bad))


@dataclass
class BuildReport:
    method: str
    molecules: int = 0
    used: int = 0
    dropped: Counter = field(default_factory=Counter)  # molecule -> why not used
    notes: Counter = field(default_factory=Counter)
    rules: Counter = field(default_factory=Counter)  # bonds cut per rule
    uncut: Counter = field(default_factory=Counter)  # double bonds a rule names, left uncut
    occurrences: int = 0
    distinct: int = 0
    kept_pieces: int = 0
    kept_occurrences: int = 0
    blocks: int = 0
    max_stems: int = 0
    dropped_pieces: Counter = field(default_factory=Counter)  # reason -> distinct pieces
    expressible: int = 0  # library molecules whose every piece is kept

    def lines(self) -> list[str]:
        out = [f"{self.molecules} molecules read, {self.used} used, {self.molecules - self.used} dropped"]
        out += [f"  dropped: {n} x {why}" for why, n in self.dropped.most_common()]
        out += [f"  note: {n} x {why}" for why, n in self.notes.most_common()]
        out.append(f"{self.occurrences} fragments cut ({self.distinct} distinct) by "
                   + (", ".join(f"{r} x{n}" for r, n in sorted(self.rules.items())) or "no rule"))
        if self.uncut:
            out.append("  left uncut (blocks join by single bonds): "
                       + ", ".join(f"{r} x{n}" for r, n in sorted(self.uncut.items())))
        out.append(f"kept {self.kept_pieces} distinct fragments ({self.kept_occurrences} of {self.occurrences} "
                   f"occurrences) as {self.blocks} blocks, at most {self.max_stems} attachment points each")
        out += [f"  fragments dropped: {n} x {why}" for why, n in self.dropped_pieces.most_common()]
        out.append(f"{self.expressible} of {self.used} used molecules are made only of kept fragments")
        return out


def build_vocabulary(smiles: list[str], method: str = "brics", max_blocks_in_vocab: int = 105,
                     max_stems: int = 4, source: str = "") -> tuple[dict, BuildReport]:
    """A block vocabulary (the JSON object ``FragmentVocab.load`` reads) of the molecules' pieces."""
    if method not in METHODS:
        raise ValueError(f"unknown fragmentation method {method!r}; choose from {', '.join(METHODS)}")
    rep = BuildReport(method)
    counts: Counter = Counter()
    example: dict[str, Piece] = {}
    per_mol: list[set[str]] = []
    for s in smiles:
        rep.molecules += 1
        mol, why, notes = prepare(s)
        rep.notes.update(notes)
        if mol is None:
            rep.dropped[why] += 1
            continue
        cuts, uncut = cut_bonds(mol, method)
        rep.uncut.update(uncut)
        if not cuts:
            rep.dropped["no bond the rules cut (the whole molecule would be one block)"] += 1
            continue
        rep.used += 1
        rep.rules.update(cuts.values())
        keys = set()
        for p in split(mol, cuts):
            counts[p.key] += 1
            example.setdefault(p.key, p)
            keys.add(p.key)
        per_mol.append(keys)
    rep.occurrences = sum(counts.values())
    rep.distinct = len(counts)
    smi_, r_, name_, count_ = {}, {}, {}, {}
    kept = set()
    for key, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        p = example[key]
        if len(p.cuts) > max_stems:
            rep.dropped_pieces[f"more than {max_stems} attachment points"] += 1
            continue
        variants = block_variants(p)
        if len(smi_) + len(variants) > max_blocks_in_vocab:
            rep.dropped_pieces[f"beyond the {max_blocks_in_vocab}-block vocabulary (less frequent)"] += 1
            continue
        kept.add(key)
        rep.kept_occurrences += c
        for j, r in enumerate(variants):
            k = str(len(smi_))
            smi_[k], r_[k], name_[k], count_[k] = p.smiles, list(r), f"{p.key}_{j}", c
            rep.max_stems = max(rep.max_stems, len(r))
    rep.kept_pieces = len(kept)
    rep.blocks = len(smi_)
    rep.expressible = sum(1 for keys in per_mol if keys <= kept)
    meta = {"method": method, "rules": sorted(rep.rules), "source": source, "molecules": rep.molecules,
            "used": rep.used, "max_blocks_in_vocab": max_blocks_in_vocab, "max_stems": max_stems}
    return {MARK: meta, "block_name": name_, "block_smi": smi_, "block_r": r_, "block_count": count_}, rep


def vocabulary_json(vocab: dict) -> str:
    return json.dumps(vocab, indent=1) + "\n"


def build_command(library: str, output: str, max_blocks_in_vocab: int = 105, method: str = "brics",
                  max_stems: int = 4, force: bool = False) -> list[str]:
    """``molgfn fragments build``: read the SMILES file, build the vocabulary, write it atomically (never
    over a file molgfn did not write, unless ``force``); returns the report's lines."""
    from pathlib import Path

    from ..atomic import atomic_write_text
    from ..errors import InputError
    from ..paths import check_output_file, input_error
    from ..seeding import read_smiles_file

    if method not in METHODS:
        raise InputError(f"--method must be one of {', '.join(METHODS)}, got {method!r}")
    if not 1 <= max_blocks_in_vocab <= 1000:
        raise InputError(f"--max-blocks-in-vocab must be in [1, 1000], got {max_blocks_in_vocab}")
    if not 1 <= max_stems <= 8:
        raise InputError(f"--max-attachments must be in [1, 8], got {max_stems}")
    smiles = read_smiles_file(library)
    if not smiles:
        raise InputError(f"{library}: no SMILES in the file; give one SMILES per line")
    dest = check_output_file(output, force=force, inputs=[library])
    vocab, rep = build_vocabulary(smiles, method, max_blocks_in_vocab, max_stems, source=Path(library).name)
    if not vocab["block_smi"]:
        raise InputError(f"{library}: no fragment could be kept ({'; '.join(rep.lines()[1:])}); nothing written")
    try:
        atomic_write_text(dest, vocabulary_json(vocab))
    except OSError as e:
        raise input_error(e) from None
    return [*rep.lines(), f"wrote {rep.blocks} blocks to {output}; use it with --vocab {output}"]
