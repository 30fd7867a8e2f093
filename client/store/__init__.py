"""The run store: every stored run, its rows, comparisons and server observations, behind one interface; and the
image store and datasets kept beside it.

database.py (Store, open_store), queries.py (queries across runs), records.py (what the store hands back),
tables.py (the tables and their ordered migrations); images.py (ImageStore: images by SHA-256, blobs.py its
backends), datasets.py (Datasets: named versions of stored images with their truth; dataset_*.py its parts).
Every failure is a StoreError; pages never write SQL.
"""
from client.store.database import (
                                      Comparison,
                                      Observation,
                                      RunInfo,
                                      RunProfile,
                                      RunSummary,
                                      Store,
                                      StoreError,
                                      database_url,
                                      default_database_path,
                                      new_id,
                                      open_store,
)
from client.store.dataset_records import (
                                      CorrectionsPlan,
                                      DatasetBuild,
                                      DatasetDeleted,
                                      DatasetError,
                                      DatasetExistsError,
                                      DatasetItem,
                                      DatasetNotFoundError,
                                      DatasetSummary,
                                      DatasetVersion,
)
from client.store.datasets import Datasets
from client.store.images import (
                                      ImageStore,
                                      ImageStoreError,
                                      ImageStoreFullError,
                                      ImageStoreUsage,
                                      MissingImageError,
                                      StoredImage,
                                      open_image_store,
)
from client.store.records import FINAL_STATUSES, RUN_STATUSES

__all__ = ["Comparison", "CorrectionsPlan", "DatasetBuild", "DatasetDeleted", "DatasetError", "DatasetExistsError",
           "DatasetItem", "DatasetNotFoundError", "DatasetSummary", "DatasetVersion", "Datasets", "FINAL_STATUSES",
           "ImageStore", "ImageStoreError", "ImageStoreFullError", "ImageStoreUsage", "MissingImageError",
           "Observation", "RUN_STATUSES", "RunInfo", "RunProfile", "RunSummary", "Store", "StoreError", "StoredImage",
           "database_url", "default_database_path", "new_id", "open_image_store", "open_store"]
