"""The run store: every stored run, its rows, comparisons and server observations, behind one interface.

database.py (Store, open_store), queries.py (queries across runs), records.py (what the store hands back),
tables.py (the tables and their ordered migrations). Every failure is a StoreError; pages never write SQL.
"""
from client.store.database import (
                                      Comparison,
                                      Observation,
                                      RunInfo,
                                      RunSummary,
                                      Store,
                                      StoreError,
                                      database_url,
                                      default_database_path,
                                      new_id,
                                      open_store,
)
from client.store.records import FINAL_STATUSES, RUN_STATUSES

__all__ = ["Comparison", "FINAL_STATUSES", "Observation", "RUN_STATUSES", "RunInfo", "RunSummary", "Store",
           "StoreError", "database_url", "default_database_path", "new_id", "open_store"]
