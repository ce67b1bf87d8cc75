"""Run reports: PNG training curves and molecule grid, and one self-contained ``report.html``
(training curves, top molecules with scores and alerts, the sortable candidate table, the
Pareto front of multi-objective runs, one line per component of a scoring-file run): inline
CSS and JS, images as data URIs, so it opens offline and can be mailed as one file."""

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
    from rdkit import Chem
    from rdkit.Chem import Draw

    from .atomic import atomic_write_bytes
    from .chem.rdlog import quiet_rdkit
    from .paths import tag_png

    if "smiles" not in df.columns or df.empty:
        return None
    mols, legends = [], []
    with quiet_rdkit():
        for row in df.itertuples(index=False):
            mol = Chem.MolFromSmiles(str(row.smiles))
            if mol is None:
                continue
            mols.append(mol)
            rank = f"#{row.rank} " if hasattr(row, "rank") else ""
            legends.append(f"{rank}score {row.raw_score:.3g}" if hasattr(row, "raw_score") else rank)
            if len(mols) >= n:
                break
    if not mols:
        return None
    png = Draw.MolsToGridImage(mols, molsPerRow=min(per_row, len(mols)), subImgSize=(260, 220), legends=legends,
                               returnPNG=True)
    if not isinstance(png, bytes):  # RDKit built without Cairo returns a PIL image
        import io

        buf = io.BytesIO()
        png.save(buf, format="PNG")
        png = buf.getvalue()
    atomic_write_bytes(Path(path), tag_png(png))  # tagged: molgfn's to replace
    return Path(path)


CURVES = (("loss", "loss", True), ("log_z", "log Z", False), ("raw", "raw score", False),
          ("unique_objects", "distinct objects", False), ("modes", "modes found", False),
          ("ls_accept", "local-search acceptance", False),
          ("filtered", "reward calls on filtered molecules", False))


def training_curves(metrics: pd.DataFrame, path: Path) -> Path | None:
    """Loss, log Z, raw scores (round mean / max / best so far), distinct objects, modes and
    local-search acceptance against reward calls, one panel each (those present)."""
    from .atomic import atomic_write_bytes
    from .paths import tag_png

    png = curves_png(metrics)
    if png is None:
        return None
    atomic_write_bytes(Path(path), tag_png(png))  # tagged: molgfn's to replace
    return Path(path)


def curves_png(metrics: pd.DataFrame) -> bytes | None:
    """The training-curve figure of ``training_curves`` as PNG bytes (None: nothing to plot)."""
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

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()


HTML = "report.html"


def _data_uri(png: bytes) -> str:
    import base64

    return "data:image/png;base64," + base64.b64encode(png).decode()


def objective_columns(df: pd.DataFrame, config: dict) -> list[str]:
    """The objective columns of a multi-objective candidate table: those the run's config names
    (``objectives``, top level or a task option; a preference scoring file's ``NAME_score``), else
    ``obj_*`` columns, else raw score and QED."""
    named = config.get("objectives") or config.get("task_options", {}).get("objectives") or []
    scoring = config.get("task_options", {}).get("scoring")
    if not named and isinstance(scoring, dict) and scoring.get("aggregation") == "preference":
        from .chem.scoring import is_constraint  # a scoring file's objectives: its components' scores

        named = [f"{c['name']}_score" for c in scoring.get("component", []) if not is_constraint(c)]
    if isinstance(named, str):
        named = [n.strip() for n in named.split(",")]
    cols = [c for c in named if c in df.columns]
    if len(cols) < 2:
        cols = [c for c in df.columns if c.startswith("obj_")]
    if len(cols) < 2:
        cols = [c for c in ("raw_score", "qed", "sa_score", "mol_weight") if c in df.columns]
    return [c for c in cols if pd.api.types.is_numeric_dtype(df[c])][:4]


def pareto_png(df: pd.DataFrame, objectives: list[str]) -> bytes | None:
    """Scatter plots of every pair of objectives, points coloured by ``pareto_rank``; the
    first front (lowest rank) is drawn on top and joined in order."""
    import io
    from itertools import combinations

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pairs = list(combinations(objectives, 2))
    if "pareto_rank" not in df.columns or not pairs:
        return None
    cols = min(3, len(pairs))
    rows = (len(pairs) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.6 * rows), squeeze=False)
    rank = df["pareto_rank"]
    best = rank.min()
    for ax, (x, y) in zip(axes.flat, pairs, strict=False):
        sc = ax.scatter(df[x], df[y], c=rank, cmap="viridis_r", s=14, alpha=0.8)
        front = df[rank == best].sort_values(x)
        ax.scatter(front[x], front[y], facecolors="none", edgecolors="crimson", s=40, lw=1.2,
                   label=f"front (rank {best})")
        ax.set_xlabel(x)
        ax.set_ylabel(y)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.colorbar(sc, ax=axes.ravel().tolist(), label="pareto_rank")
    for ax in list(axes.flat)[len(pairs):]:
        ax.axis("off")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


def _fmt(v) -> str:
    if isinstance(v, float):
        return "" if v != v else f"{v:.4g}"
    return "" if v is None or v is pd.NA else str(v)


CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:1400px;padding:16px 24px;
color:#1d2330;background:#fff}
h1{font-size:22px;margin:4px 0}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #dde;padding-bottom:4px}
.meta{color:#556}nav a{margin-right:14px}img.plot{max-width:100%;border:1px solid #eee}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(250px,1fr));gap:12px}
.card{border:1px solid #dde;border-radius:6px;padding:6px 8px;background:#fafbfd}
.card svg{width:100%;height:auto;display:block}.card .smi{font:11px monospace;word-break:break-all;color:#445}
.ok{color:#17643a}.bad{color:#a61b1b}.alert{display:inline-block;background:#fde8e8;color:#8a1616;border-radius:3px;
padding:0 4px;margin:1px 2px 1px 0;font-size:12px}
.scroll{overflow:auto;max-height:720px;border:1px solid #dde}
table{border-collapse:collapse;font-size:12px}th,td{padding:3px 6px;border-bottom:1px solid #eef;text-align:right;
vertical-align:top}th{position:sticky;top:0;background:#eef1f7;cursor:pointer;user-select:none;white-space:nowrap}
th[aria-sort=ascending]::after{content:" \\25B2"}th[aria-sort=descending]::after{content:" \\25BC"}
th.text{text-align:left}td.text{text-align:left;font-family:monospace;word-break:break-all;min-width:180px;max-width:420px}
"""

# click a header to sort (first click: descending); #sort=COLUMN[:asc|desc] in the URL sorts on load
JS = """
(function () {
  var table = document.getElementById("candidates");
  if (!table) { return; }
  var body = table.tBodies[0], heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
  function key(row, i) {
    var v = row.cells[i].getAttribute("data-v");
    return /^[-+]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][-+]?[0-9]+)?$/.test(v) ? parseFloat(v) : v;
  }
  function sortBy(i, desc) {
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = key(a, i), y = key(b, i), c;
      if (typeof x === "number" && typeof y === "number") { c = x - y; }
      else if (typeof x === "number") { c = 1; } else if (typeof y === "number") { c = -1; }
      else { c = String(x).localeCompare(String(y)); }
      return desc ? -c : c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
    heads.forEach(function (h, j) {
      h.setAttribute("aria-sort", j === i ? (desc ? "descending" : "ascending") : "none");
    });
  }
  heads.forEach(function (h, i) {
    h.addEventListener("click", function () { sortBy(i, h.getAttribute("aria-sort") !== "descending"); });
  });
  var m = /^#sort=([^:]+)(?::(asc|desc))?$/.exec(window.location.hash);
  if (m) {
    var col = decodeURIComponent(m[1]);
    var i = heads.findIndex(function (h) { return h.getAttribute("data-col") === col; });
    if (i >= 0) { sortBy(i, m[2] !== "asc"); }
  }
})();
"""


def transform_text(c: dict) -> str:
    """A scoring component's transform in one phrase: ``reverse_sigmoid(low=-12, high=-6, k=0.5)``."""
    if c.get("kind") in ("substructure", "alerts"):
        return "forbidden: a hit scores 0" if c.get("forbid") else "required: a hit scores 1"
    from .chem.transforms import TRANSFORMS

    t = c.get("transform")
    if not t:
        return "identity"
    t = {**t, **{k: v for k, v in TRANSFORMS.get(t.get("type"), ((), {}))[1].items() if k not in t}}  # defaults too
    args = ", ".join(f"{k}={_fmt(float(v)) if isinstance(v, int | float) else v}" for k, v in t.items()
                     if k != "type")
    return f"{t.get('type', '?')}({args})"


def _spread(col: pd.Series) -> str:
    """median [min, max] of a column's numbers (scored candidates only), or an empty string."""
    v = pd.to_numeric(col, errors="coerce").dropna()
    if v.empty:
        return ""
    return f"{_fmt(float(v.median()))} [{_fmt(float(v.min()))}, {_fmt(float(v.max()))}]"


def components_html(cands: pd.DataFrame, config: dict) -> str | None:
    """The components of a scoring-file run, one table row each: name, kind, weight, transform, and over
    the candidates the raw value's and the score's median [min, max]; None for other runs."""
    from html import escape

    scoring = (config.get("task_options") or {}).get("scoring")
    if not isinstance(scoring, dict) or not scoring.get("component"):
        return None
    heads = ("component", "kind", "weight", "transform", "raw: median [min, max]", "score: median [min, max]",
             "scored")
    rows = []
    for c in scoring["component"]:
        name = str(c.get("name", c.get("kind", "")))
        raw, score = cands.get(f"{name}_raw"), cands.get(f"{name}_score")
        n = int(pd.to_numeric(raw, errors="coerce").notna().sum()) if raw is not None else 0
        cells = (name, str(c.get("kind", "")), _fmt(float(c.get("weight", 1.0))), transform_text(c),
                 _spread(raw) if raw is not None else "", _spread(score) if score is not None else "", str(n))
        rows.append(f'<tr data-component="{escape(name)}">' + "".join(
            f'<td{" class=text" if i in (0, 1, 3) else ""}>{escape(v)}</td>' for i, v in enumerate(cells)) + "</tr>")
    agg = scoring.get("aggregation", "geometric")
    return (f"<p>Aggregation: {escape(str(agg))}; each component's raw value and score over the {len(cands)} "
            "candidates (columns NAME_raw and NAME_score).</p>"
            '<table id="components"><thead><tr>' + "".join(f"<th class=text>{escape(h)}</th>" for h in heads)
            + "</tr></thead><tbody>" + "".join(rows) + "</tbody></table>")


def _card(row: dict) -> str:
    from html import escape

    from .chem.descriptors import ALERT_SEP, molecule_svg

    smi = str(row.get("smiles", ""))
    svg = molecule_svg(smi) or ""
    lines = [f"<b>#{escape(_fmt(row.get('rank', '')))}</b>"]
    nums = [(k, label) for k, label in (("raw_score", "score"), ("reward", "reward"), ("qed", "QED"),
                                        ("sa_score", "SA"), ("mol_weight", "MW")) if k in row]
    lines.append(" · ".join(f"{label} {escape(_fmt(row[k]))}" for k, label in nums))
    flags = []
    for k, label in (("lipinski_pass", "Ro5"), ("veber_pass", "Veber")):
        if k in row and _fmt(row[k]) in ("True", "False"):
            ok = _fmt(row[k]) == "True"
            flags.append(f'<span class="{"ok" if ok else "bad"}">{label} {"✓" if ok else "✗"}</span>')
    if flags:
        lines.append(" ".join(flags))
    names = [a for k in ("pains_alerts", "brenk_alerts", "reactive_alerts")
             for a in _fmt(row.get(k, "")).split(ALERT_SEP) if a]
    lines.append("".join(f'<span class="alert">{escape(a)}</span>' for a in names) if names
                 else '<span class="ok">no PAINS / Brenk / reactive alerts</span>')
    return (f'<div class="card">{svg}<div>{"<br>".join(lines)}</div>'
            f'<div class="smi">{escape(smi)}</div></div>')


def html_report(run: Path, path: Path, top: int = 24) -> Path:
    """Write ``report.html`` for a run directory (what it has of metrics and candidates)."""
    import datetime
    import json
    from html import escape

    from .atomic import atomic_write_text
    from .runs import CANDIDATES, CONFIG, METRICS

    run = Path(run)
    config = json.loads((run / CONFIG).read_text()) if (run / CONFIG).exists() else {}
    metrics = pd.read_csv(run / METRICS) if (run / METRICS).exists() else pd.DataFrame()
    cands = pd.read_csv(run / CANDIDATES, keep_default_na=False, na_values=[""]) if (run / CANDIDATES).exists() \
        else pd.DataFrame()
    if "smiles" in cands.columns and "pains_alerts" not in cands.columns:  # a list written before the columns
        from .chem.descriptors import add_descriptors

        cands = add_descriptors(cands)
    for c in ("pains_alerts", "brenk_alerts", "reactive_alerts", "scaffold", "inchikey"):
        if c in cands.columns:
            cands[c] = cands[c].astype(object).fillna("")  # an all-empty column reads as float NaN
    parts = [f"<h1>molgfn report: {escape(run.resolve().name)}</h1>"]
    meta = [f"{k} {config[k]}" for k in ("task", "objective", "conditioning", "rounds", "batch_size", "seed")
            if k in config]
    if not metrics.empty and "reward_calls" in metrics.columns:
        meta.append(f"reward calls {int(metrics['reward_calls'].iloc[-1])}")
    if config.get("task_options", {}).get("filters"):
        meta.append("filters " + ",".join(config["task_options"]["filters"]))
    meta.append("written " + datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))
    parts.append(f'<p class="meta">{escape(" · ".join(meta))}</p>')
    sections = []
    curves = curves_png(metrics) if not metrics.empty else None
    if curves is not None:
        sections.append(("curves", "Training", f'<img class="plot" alt="training curves" src="{_data_uri(curves)}">'))
    comps = components_html(cands, config)
    if comps is not None:
        sections.append(("components", "Scoring components", comps))
    if "pareto_rank" in cands.columns:
        objs = objective_columns(cands, config)
        png = pareto_png(cands, objs)
        if png is not None:
            sections.append(("pareto", "Pareto front",
                             f"<p>Objectives: {escape(', '.join(objs))}; colour: pareto_rank (lower is better).</p>"
                             f'<img class="plot" alt="Pareto front" src="{_data_uri(png)}">'))
    if "smiles" in cands.columns and len(cands):
        cards = "".join(_card(r) for r in cands.head(top).to_dict("records"))
        sections.append(("top", f"Top {min(top, len(cands))} molecules", f'<div class="grid">{cards}</div>'))
    if len(cands):
        text_cols = {"smiles", "sequence", "inchikey", "scaffold", "pains_alerts", "brenk_alerts", "reactive_alerts"}
        head = "".join(f'<th data-col="{escape(c)}" aria-sort="none"{" class=text" if c in text_cols else ""}>'
                       f"{escape(c)}</th>" for c in cands.columns)
        body = "".join("<tr>" + "".join(
            f'<td data-v="{escape(_fmt(v))}"{" class=text" if c in text_cols else ""}>{escape(_fmt(v))}</td>'
            for c, v in zip(cands.columns, r, strict=True)) + "</tr>" for r in cands.itertuples(index=False))
        sections.append(("table", f"Candidates ({len(cands)})",
                         "<p>Click a column header to sort; every column of candidates.csv is here.</p>"
                         f'<div class="scroll"><table id="candidates"><thead><tr>{head}</tr></thead>'
                         f"<tbody>{body}</tbody></table></div>"))
    parts.append("<nav>" + "".join(f'<a href="#{sid}">{escape(t)}</a>' for sid, t, _ in sections) + "</nav>")
    parts += [f'<section id="{sid}"><h2>{escape(t)}</h2>{html}</section>' for sid, t, html in sections]
    page = ('<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>molgfn report: {escape(run.resolve().name)}</title>"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<link rel="icon" href="data:,"><style>{CSS}</style></head>\n<body>\n' + "\n".join(parts)
            + f"\n<script>{JS}</script>\n</body></html>\n")
    atomic_write_text(Path(path), page)
    return Path(path)


def make_report(run: Path, out: Path | None = None, top: int = 24) -> list[Path]:
    """Write the molecule grid (from candidates.csv), training curves (from metrics.csv) and
    the self-contained report.html."""
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
    if not written and not (run / CANDIDATES).exists():
        raise InputError(f"{run} has neither {METRICS} nor a {CANDIDATES} to report on; "
                         "train it with `molgfn design`")
    written.append(html_report(run, out / HTML, top))
    return written
