"""Tables for people: candidate lists that stay readable in an 80-column terminal.

Objects are never cut: a sequence is shown whole, folded over lines if it must, and the remaining
columns are added in order while they fit; a SMILES follows its row's numbers on the same line,
whole and never folded, so that it can be copied. The columns left out are named under the table
(candidates.csv has them all).
"""

from __future__ import annotations

import pandas as pd
from rich.table import Table
from rich.text import Text

OBJECT_COLUMNS = ("sequence", "smiles")



def _cell(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def candidate_table_view(df: pd.DataFrame, show: int, width: int = 80) -> tuple[Table, list[str]]:
    """A rich Table of the first ``show`` rows within ``width`` columns, and the columns left out."""
    head = df.head(show)
    cells = {c: [_cell(v) for v in head[c].tolist()] for c in head.columns}

    def need(c: str) -> int:  # a column's width: its widest cell or header, plus borders and padding
        return max([len(str(c)), *(len(x) for x in cells[c])]) + 3

    objects = [c for c in head.columns if c in OBJECT_COLUMNS]
    essential = [c for c in ("rank", "beta", "raw_score", "reward") if c in head.columns]
    # objects get what the essential columns leave (folded over lines when longer), at least 20
    room = width - 1 - sum(need(c) for c in essential)
    obj_width = {c: max(min(need(c), room // max(len(objects), 1)), 20) for c in objects}
    chosen = essential + objects
    used = sum(need(c) for c in essential) + sum(obj_width.values()) + 1
    left_out = []
    for c in head.columns:
        if c in chosen:
            continue
        if used + need(c) <= width:
            chosen.append(c)
            used += need(c)
        else:
            left_out.append(c)
    order = [c for c in head.columns if c in chosen]
    table = Table()
    for c in order:
        if c in OBJECT_COLUMNS:
            # never an ellipsis in a molecule: folded over lines instead
            table.add_column(c, overflow="fold", no_wrap=False, max_width=obj_width[c] - 3)
        else:
            table.add_column(c, no_wrap=True, min_width=len(str(c)))
    for i in range(len(head)):
        table.add_row(*[Text(cells[c][i]) for c in order])  # Text: a SMILES like [nH] is not rich markup
    return table, left_out


# the columns a console table shows for molecules (every column is in the written file), with short headers
MOLECULE_VIEW = {"rank": "#", "beta": "beta", "smiles": "smiles", "raw_score": "raw", "reward": "reward",
                 "qed": "QED", "sa_score": "SA", "lipinski_pass": "Ro5", "alerts": "alerts"}


def molecule_table_view(df: pd.DataFrame, show: int) -> tuple[MoleculeRows, list[str]]:
    """The first ``show`` rows of a molecule list as a compact table that reads at 80 columns: a
    few columns worth a glance (with the number of PAINS/Brenk/reactive alerts), numbers with 4 significant
    digits, and each SMILES whole after its row, never folded (print it with ``crop=False``: the
    terminal wraps a long line, and a copied SMILES is one piece); and the columns left out."""
    from rich import box

    view = df.head(show)
    if {"pains_alerts", "brenk_alerts"} <= set(df.columns):  # how many alerts; their names are in the file
        cols = [c for c in ("pains_alerts", "brenk_alerts", "reactive_alerts") if c in df.columns]
        n = [len([a for a in "; ".join(map(str, r)).split("; ") if a and a != "nan"])
             for r in zip(*(view[c] for c in cols), strict=True)]
        view = view.assign(alerts=n)
    headers = {c: h for c, h in MOLECULE_VIEW.items() if c in view.columns}
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for c, h in headers.items():
        if c != "smiles":
            table.add_column(h, no_wrap=True)
    for row in view[[c for c in headers if c != "smiles"]].itertuples(index=False):
        table.add_row(*[Text(_cell(v)) for v in row])
    smiles = [str(s) for s in view["smiles"]] if "smiles" in headers else []
    return MoleculeRows(table, smiles), [c for c in df.columns if c not in headers and c != "alerts"]


class MoleculeRows:
    """A rich renderable: a table of numbers with each row's SMILES after it on the same line, whole."""

    def __init__(self, table: Table, smiles: list[str]):
        self.table, self.smiles = table, smiles

    def __rich_console__(self, console, options):
        from rich.segment import Segment

        lines = console.render_lines(self.table, options, pad=False)
        # the header, its rule, then one line per row (every cell is short and never wraps)
        extra = ["smiles", "", *self.smiles] if len(lines) == len(self.smiles) + 2 else []
        for i, line in enumerate(lines):
            yield from line
            if i < len(extra) and extra[i]:
                style = console.get_style("table.header") if i == 0 else None
                yield Segment("  " + extra[i], style)  # Segment: a SMILES like [nH] is not rich markup
            yield Segment.line()
