"""Reward oracles: the contract and its errors, executors (in-process, process pool, Ray) and the score store.

A task asks one thing, "score these objects" (``CachedOracle``); where the calls run
(``executors``, ``ray_executor``), what is remembered (``store``) and what a failure costs
(``contract``, ``OracleSettings.on_error``) are decided here.
"""

from .cached import (
    DEFAULT_TIMEOUT_S,
    EXECUTORS,
    CachedOracle,
    CachedVectorOracle,
    OracleSettings,
    code_identity,
    configure_task,
    oracle_counts,
    settings_record,
    task_oracles,
)
from .contract import Invalid, Outcome, Scored, call_oracle, check_scores
from .store import STORE_FILE, ScoreStore, read_store

__all__ = ["DEFAULT_TIMEOUT_S", "EXECUTORS", "CachedOracle", "CachedVectorOracle", "Invalid", "OracleSettings",
           "Outcome", "STORE_FILE", "Scored", "ScoreStore", "call_oracle", "check_scores", "code_identity",
           "configure_task", "oracle_counts", "read_store", "settings_record", "task_oracles"]
