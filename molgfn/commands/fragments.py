"""`molgfn fragments build`: a block vocabulary from the user's own molecules (molgfn.chem.fragmentation)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .base import console
from .errors import friendly
from .options import ForceOpt, FragMethod


@friendly
def fragments_build(
    library: Annotated[Path, typer.Argument(help="Your molecules: a SMILES file (one per line) or a CSV with a "
                                            "smiles column.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="The vocabulary JSON to write (use it with "
                                         "--vocab).")],
    max_blocks_in_vocab: Annotated[int, typer.Option(help="Most blocks kept (the most frequent fragments, "
                                                     "each with one block per attachment point).")] = 105,
    method: Annotated[FragMethod, typer.Option(help="Cutting rules: brics (RDKit's BRICS) or recap (RECAP's 11 "
                                               "bond types).")] = FragMethod.brics,
    max_attachments: Annotated[int, typer.Option(help="Fragments with more attachment points are dropped.")] = 4,
    force: ForceOpt = False,
) -> None:
    """Cut molecules into fragments (BRICS or RECAP) and write the most frequent as a block vocabulary."""
    from molgfn.chem.fragmentation import build_command

    for line in build_command(str(library), str(output), max_blocks_in_vocab, str(method), max_attachments,
                              force):
        console.print(line, markup=False, highlight=False)  # a SMILES like [nH] is not rich markup
