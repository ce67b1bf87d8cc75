"""The fixed choices of molgfn's options, each defined once: the library checks values against these
tuples and the command line lists them in ``--help`` (``molgfn.commands.options`` builds its enums
from them). Plain tuples of strings, with no import: reading them costs nothing (``molgfn --help``
imports no torch)."""

from __future__ import annotations

# training objectives (molgfn.objectives) with their one-line description, shown in --help
OBJECTIVE_HELP = {
    "tb": "trajectory balance (Malkin et al. 2022)",
    "db": "detailed balance (Bengio et al. 2023)",
    "subtb": "SubTB(lambda), --subtb-lambda (Madan et al. 2023)",
    "fldb": "forward-looking DB, --fldb-partial (Pan et al. 2023)",
    "rkl": "reverse KL(q||pi), REINFORCE (Zimmermann et al. 2023)",
    "fkl": "forward KL(pi||q), SNIS (Zimmermann et al. 2023)",
    "kl-mix": "mix of both KLs, --kl-mix-lambda (Zimmermann et al. 2023)",
    "renyi": "Renyi-alpha D(q||pi), --alpha (da Silva et al. 2024)",
    "tsallis": "Tsallis-alpha T(q||pi), --alpha (da Silva et al. 2024)",
}
OBJECTIVES = tuple(OBJECTIVE_HELP)
CONDITIONINGS = ("none", "logit", "layer")  # temperature conditioning (molgfn.policies)
LS_FILTERS = ("greedy", "greedy-strict", "mh", "barker")  # local-search acceptance (molgfn.local_search)
CONTROL_VARIATES = ("none", "loo", "logz")  # score-function objectives (molgfn.objectives.common)
DEVICES = ("auto", "cpu", "cuda")  # molgfn.config.resolve_device
EXECUTORS = ("auto", "local", "process", "ray")  # where oracle calls run (molgfn.oracle)
ON_ORACLE_ERROR = ("stop", "invalid")  # a failed object (molgfn.oracle.cached)
LIST_FORMATS = ("csv", "sdf", "parquet")  # candidate and sample lists (molgfn.chem.descriptors.write_table)
# design constraints (molgfn.chem.descriptors)
MOLECULE_FILTERS = ("pains", "brenk", "reactive", "lipinski", "ro5-strict", "veber")
BENCH_PRESETS = ("small", "results", "paper", "pmo")  # molgfn.bench.PRESETS
LOGGERS = ("tensorboard", "mlflow")  # molgfn.tracking
PROGRESS = ("auto", "bar", "plain", "none")  # molgfn.tracking.make_progress
OUTPUT_FORMATS = ("table", "json")  # what evaluate, info and tasks print
FRAGMENTATION_METHODS = ("brics", "recap")  # `molgfn fragments build --method` (molgfn.chem.fragmentation)
