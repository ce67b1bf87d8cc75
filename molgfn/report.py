"""Run reports: a PNG grid of the top molecules and PNG training curves (headless)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

MOLECULES_PNG = "top_molecules.png"
CURVES_PNG = "training_curves.png"


def molecule_grid(df: pd.DataFrame, path: Path, n: int = 24, per_row: int = 6) -> Path | None:
    """Draw the first ``n`` rows' SMILES (a ranked table) with their raw score as legend.

    Uses RDKit's Cairo drawer (``returnPNG``), which needs no display. Returns None when
    the table has no ``smiles`` column or no parsable molecule.
    """
    from rdkit import Chem, RDLogger
    from rdkit.Chem import Draw

    from .atomic import atomic_write_bytes

    if "smiles" not in df.columns or df.empty:
        return None
    mols, legends = [], []
    RDLogger.DisableLog("rdApp.*")
    try:
        for row in df.itertuples(index=False):
            mol = Chem.MolFromSmiles(str(row.smiles))
            if mol is None:
                continue
            mols.append(mol)
            rank = f"#{row.rank} " if hasattr(row, "rank") else ""
            legends.append(f"{rank}score {row.raw_score:.3g}" if hasattr(row, "raw_score") else rank)
            if len(mols) >= n:
                break
    finally:
        RDLogger.EnableLog("rdApp.*")
    if not mols:
        return None
    png = Draw.MolsToGridImage(mols, molsPerRow=min(per_row, len(mols)), subImgSize=(260, 220), legends=legends,
                               returnPNG=True)
    if not isinstance(png, bytes):  # RDKit built without Cairo returns a PIL image
        import io

        buf = io.BytesIO()
        png.save(buf, format="PNG")
        png = buf.getvalue()
    atomic_write_bytes(Path(path), png)
    return Path(path)


CURVES = (("loss", "loss", True), ("log_z", "log Z", False), ("raw", "raw score", False),
          ("unique_objects", "distinct objects", False), ("modes", "modes found", False),
          ("ls_accept", "local-search acceptance", False))


def training_curves(metrics: pd.DataFrame, path: Path) -> Path | None:
    """Loss, log Z, raw scores (round mean / max / best so far), distinct objects, modes and
    local-search acceptance against reward calls, one panel each (those present)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if metrics.empty:
        return None
    x = metrics["reward_calls"] if "reward_calls" in metrics else metrics.index
    panels = []
    for key, title, log in CURVES:
        if key == "raw" and {"mean_raw", "max_raw"} <= set(metrics.columns):
            panels.append((title, ["mean_raw", "max_raw", "best_raw"], log))
        elif key in metrics.columns and (key != "modes" or metrics[key].max() > 0):
            panels.append((title, [key], log))
    if not panels:
        return None
    cols = min(3, len(panels))
    rows = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
    for ax, (title, keys, log) in zip(axes.flat, panels, strict=False):
        for k in keys:
            if k in metrics.columns:
                ax.plot(x, metrics[k], label=k, lw=1.2)
        if log and (metrics[keys[0]] > 0).all():
            ax.set_yscale("log")
        ax.set_title(title)
        ax.set_xlabel("reward calls")
        if len(keys) > 1:
            ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.tight_layout()
    import io

    from .atomic import atomic_write_bytes

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    atomic_write_bytes(Path(path), buf.getvalue())
    return Path(path)


def make_report(run: Path, out: Path | None = None, top: int = 24) -> list[Path]:
    """Write the molecule grid (from candidates.csv) and training curves (from metrics.csv)."""
    from .errors import InputError
    from .runs import CANDIDATES, METRICS

    run = Path(run)
    out = Path(out) if out is not None else run
    if not run.is_dir():
        raise InputError(f"{run} is not a run directory")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    if (run / METRICS).exists():
        p = training_curves(pd.read_csv(run / METRICS), out / CURVES_PNG)
        if p is not None:
            written.append(p)
    if (run / CANDIDATES).exists():
        p = molecule_grid(pd.read_csv(run / CANDIDATES), out / MOLECULES_PNG, n=top)
        if p is not None:
            written.append(p)
    if not written:
        raise InputError(f"{run} has neither {METRICS} nor a {CANDIDATES} with SMILES to report on; "
                         "train it with `molgfn design`")
    return written
