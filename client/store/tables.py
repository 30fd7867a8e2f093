"""The run store's tables (SQLAlchemy Core) and the ordered migrations that build them.

The database records its schema version in `schema_version` (one row per applied step). Opening a
database runs every step past the recorded version, in order, inside one transaction, so a newer app
opens an older database; a database newer than the app is refused rather than misread. A step is
never edited once released: a change is a new function appended to MIGRATIONS, and the Table objects
below always describe the newest shape.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    func,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import Connection

__all__ = ["metadata", "runs", "rows", "comparisons", "comparison_runs", "observations", "schema_version", "blobs",
           "datasets", "dataset_versions", "dataset_items", "run_images", "MIGRATIONS", "SCHEMA_VERSION",
           "current_version", "migrate", "SchemaTooNewError"]

RUN_ID = String(32)


def _runs_v1(meta: MetaData) -> Table:
    return Table(
        "runs", meta,
        Column("id", RUN_ID, primary_key=True),
        Column("created_at", DateTime(timezone=True), nullable=False, index=True),
        Column("finished_at", DateTime(timezone=True)),
        Column("kind", String(16), nullable=False),            # classify | compare
        Column("session_id", String(64), index=True),
        Column("url", Text, nullable=False),
        Column("model", String(200), nullable=False, index=True),
        Column("target", String(200), nullable=False),         # latest | version:2 | label:stable
        Column("version", Integer),                            # the version that answered
        Column("labels_at_start", JSON(none_as_null=True)),  # label -> version when the run started
        Column("labels_at_end", JSON(none_as_null=True)),  # ... and when it ended
        Column("signature_digest", String(64)),
        Column("status", String(16), nullable=False),          # queued running complete cancelled interrupted failed
        Column("total", Integer, nullable=False),
        Column("done", Integer, nullable=False, default=0),
        Column("errors", Integer, nullable=False, default=0),
        Column("elapsed_s", Float),
        Column("error", Text),
        Column("class_names", JSON, nullable=False),
        Column("truth_summary", Text),
    )


def _rows_v1(meta: MetaData) -> Table:
    return Table(
        "rows", meta,
        Column("run_id", RUN_ID, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
        Column("position", Integer, primary_key=True),
        Column("source", Text, nullable=False),
        Column("top_class", String(200)),
        Column("confidence", Float),
        Column("probabilities", JSON(none_as_null=True)),  # class -> probability (the prob_<class> columns)
        Column("ground_truth", String(200)),
        Column("correction", String(200)),
        Column("corrected_at", DateTime(timezone=True)),
        Column("version", Integer),
        Column("latency_ms", Float),
        Column("error", Text),
        Column("error_type", String(100)),
        Column("thumbnail", LargeBinary),                      # JPEG, <= 96 px; None when turned off/unreadable
        Column("extras", JSON(none_as_null=True)),  # the model's other outputs
    )


def _comparisons_v1(meta: MetaData) -> tuple[Table, Table]:
    comparisons_table = Table(
        "comparisons", meta,
        Column("id", RUN_ID, primary_key=True),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("session_id", String(64)),
        Column("baseline_run_id", RUN_ID, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    )
    members = Table(
        "comparison_runs", meta,
        Column("comparison_id", RUN_ID, ForeignKey("comparisons.id", ondelete="CASCADE"), primary_key=True),
        Column("position", Integer, primary_key=True),         # 0 = baseline, then the other runs in order
        Column("run_id", RUN_ID, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False, index=True),
    )
    return comparisons_table, members


def _observations_v2(meta: MetaData) -> Table:
    return Table(
        "observations", meta,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("observed_at", DateTime(timezone=True), nullable=False),
        Column("url", Text, nullable=False),
        Column("model", String(200), nullable=False),
        Column("version", Integer),                            # a version's state (label is None) ...
        Column("state", String(32)),
        Column("error", Text),
        Column("label", String(200)),                          # ... or a label's version
        Column("label_version", Integer),
        Index("ix_observations_model_time", "model", "observed_at"),
    )


def _datasets_v6(meta: MetaData) -> tuple[Table, ...]:
    """The image store's index, the datasets with their versions and items, and the images a run kept. A blob row
    exists while its object is in the image store; items and kept images reference it (never cascading), so the
    database refuses to forget an image something still uses."""
    blobs_table = Table(
        "blobs", meta,
        Column("sha256", String(64), primary_key=True),        # hex SHA-256 of the bytes: the object's key
        Column("size_bytes", BigInteger, nullable=False),
        Column("stored_at", DateTime(timezone=True), nullable=False),
    )
    datasets_table = Table(
        "datasets", meta,
        Column("id", RUN_ID, primary_key=True),
        Column("name", String(200), nullable=False, unique=True),  # plain text, never a path
        Column("created_at", DateTime(timezone=True), nullable=False),
    )
    versions = Table(
        "dataset_versions", meta,
        Column("dataset_id", RUN_ID, ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True),
        Column("version", Integer, primary_key=True),          # 1, 2, ... per dataset
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("note", Text),                                  # how it was made: "created", "3 corrections from ..."
    )
    items = Table(
        "dataset_items", meta,
        Column("dataset_id", RUN_ID, primary_key=True),
        Column("version", Integer, primary_key=True),
        Column("position", Integer, primary_key=True),         # order within the version
        Column("sha256", String(64), ForeignKey("blobs.sha256"), nullable=False, index=True),
        Column("source", Text, nullable=False),                # the original name or path, as uploaded
        Column("truth", String(200)),                          # the label as found (folder, name, file) or corrected
        Column("size_bytes", BigInteger, nullable=False),
        Column("corrected_by_run", RUN_ID),                    # the run whose correction set this truth
        ForeignKeyConstraint(["dataset_id", "version"], ["dataset_versions.dataset_id", "dataset_versions.version"],
                             ondelete="CASCADE"),
    )
    kept = Table(
        "run_images", meta,
        Column("run_id", RUN_ID, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
        Column("position", Integer, primary_key=True),
        Column("sha256", String(64), ForeignKey("blobs.sha256"), nullable=False, index=True),
    )
    return blobs_table, datasets_table, versions, items, kept


schema_version = Table(
    "schema_version", MetaData(),
    Column("version", Integer, primary_key=True),
    Column("applied_at", DateTime(timezone=True), nullable=False),
)

# The newest shape, used by every query.
metadata = MetaData()
runs = _runs_v1(metadata)
runs.append_column(Column("owner", String(200)))               # v2: host:pid:start of the process running it
runs.append_column(Column("thumbnails", Boolean, nullable=False, server_default="1"))  # v2
runs.c.signature_digest.type = String(80)                      # v3: "sha256:<hex>"
rows = _rows_v1(metadata)
comparisons, comparison_runs = _comparisons_v1(metadata)
observations = _observations_v2(metadata)
# v4: TF Serving's versions are int64 (SQLite's INTEGER already is; PostgreSQL's is 32-bit).
VERSION_COLUMNS = (runs.c.version, rows.c.version, observations.c.version, observations.c.label_version)
for _version_column in VERSION_COLUMNS:
    _version_column.type = BigInteger()
runs.append_column(Column("started_by", String(64)))          # v5: sha256 hex of the starting browser's token
runs.append_column(Column("lease_expires_at", DateTime(timezone=True)))  # v5: the owning process renews it
Index("ix_runs_status", runs.c.status)                          # v5: unfinished runs are looked up by status
blobs, datasets, dataset_versions, dataset_items, run_images = _datasets_v6(metadata)
# v6: the dataset version a run used (no foreign key: the run outlives its dataset, and says so) and whether the
# run keeps its images in the image store (run_images).
runs.append_column(Column("dataset_id", RUN_ID))
runs.append_column(Column("dataset_version", Integer))
runs.append_column(Column("dataset_name", String(200)))
runs.append_column(Column("keep_images", Boolean, nullable=False, server_default="0"))
Index("ix_runs_dataset", runs.c.dataset_id)
comparisons.append_column(Column("latency_probe", JSON(none_as_null=True)))  # v7: each side's latency, measured alone
# v8: the model profile a run used and what it meant (client.store.records.RunProfile).
runs.append_column(Column("profile", JSON(none_as_null=True)))
runs.append_column(Column("profile_digest", String(80)))
runs.append_column(Column("profile_origin", String(300)))
runs.append_column(Column("profile_assumed", Boolean))
runs.append_column(Column("preparation", Text))
runs.append_column(Column("input_tensor", JSON(none_as_null=True)))   # {"name", "dtype", "shape"}
datasets.append_column(Column("created_by", String(64)))       # v9: sha256 hex of the creating browser's token


def _v1_runs_rows_comparisons(conn: Connection) -> None:
    meta = MetaData()
    _runs_v1(meta)
    _rows_v1(meta)
    _comparisons_v1(meta)
    meta.create_all(conn)


def _v2_observations_and_run_owner(conn: Connection) -> None:
    """Server observations; which process runs a run (to find runs orphaned by a dead app); thumbnails flag."""
    meta = MetaData()
    _observations_v2(meta)
    meta.create_all(conn)
    conn.execute(text("ALTER TABLE runs ADD COLUMN owner VARCHAR(200)"))
    true = "1" if conn.dialect.name == "sqlite" else "TRUE"
    conn.execute(text(f"ALTER TABLE runs ADD COLUMN thumbnails BOOLEAN NOT NULL DEFAULT {true}"))


def _v3_prefixed_signature_digest(conn: Connection) -> None:
    """A run's signature digest reads "sha256:<hex>", as Compare and the report show it (the hash is unchanged)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("ALTER TABLE runs ALTER COLUMN signature_digest TYPE VARCHAR(80)"))
    conn.execute(text("UPDATE runs SET signature_digest = 'sha256:' || signature_digest "
                      "WHERE signature_digest IS NOT NULL AND signature_digest NOT LIKE 'sha256:%'"))


def _v4_int64_versions(conn: Connection) -> None:
    """Version numbers are int64, as TF Serving's; a server text already stored past the bound is cut to it."""
    if conn.dialect.name == "postgresql":
        for column in VERSION_COLUMNS:
            conn.execute(text(f"ALTER TABLE {column.table.name} ALTER COLUMN {column.name} TYPE BIGINT"))
    limit = 300  # client.store.texts.MAX_SERVER_TEXT_CHARS when this step was written
    conn.execute(text(f"UPDATE observations SET error = substr(error, 1, {limit}) || '… (cut; ' || "
                      f"length(error) || ' characters in all)' WHERE length(error) > {limit}"))


def _v5_run_ownership_and_leases(conn: Connection) -> None:
    """Who started a run (a digest of the browser's token, never the token) and the lease its owning process
    renews while it runs (a run whose lease expired is interrupted by any replica)."""
    conn.execute(text("ALTER TABLE runs ADD COLUMN started_by VARCHAR(64)"))
    timestamp = "TIMESTAMP WITH TIME ZONE" if conn.dialect.name == "postgresql" else "DATETIME"
    conn.execute(text(f"ALTER TABLE runs ADD COLUMN lease_expires_at {timestamp}"))
    conn.execute(text("CREATE INDEX ix_runs_status ON runs (status)"))


def _v6_datasets_and_image_store(conn: Connection) -> None:
    """The image store's index, datasets (versions, items) and the images runs keep; each run's dataset version
    and whether it keeps its images."""
    meta = MetaData()
    Table("runs", meta, Column("id", RUN_ID, primary_key=True))  # the foreign keys' target, created by v1
    meta.create_all(conn, tables=list(_datasets_v6(meta)))
    conn.execute(text("ALTER TABLE runs ADD COLUMN dataset_id VARCHAR(32)"))
    conn.execute(text("ALTER TABLE runs ADD COLUMN dataset_version INTEGER"))
    conn.execute(text("ALTER TABLE runs ADD COLUMN dataset_name VARCHAR(200)"))
    false = "0" if conn.dialect.name == "sqlite" else "FALSE"
    conn.execute(text(f"ALTER TABLE runs ADD COLUMN keep_images BOOLEAN NOT NULL DEFAULT {false}"))
    conn.execute(text("CREATE INDEX ix_runs_dataset ON runs (dataset_id)"))


def _v7_comparison_latency_probe(conn: Connection) -> None:
    """A comparison's latency probe: each side timed on its own, after the concurrent run (JSON, or NULL)."""
    kind = "JSON" if conn.dialect.name == "postgresql" else "TEXT"
    conn.execute(text(f"ALTER TABLE comparisons ADD COLUMN latency_probe {kind}"))


def _v8_run_profiles(conn: Connection) -> None:
    """The model profile each run used and what it meant (RunProfile); older runs have none."""
    for column, kind in (("profile", "JSON"), ("profile_digest", "VARCHAR(80)"), ("profile_origin", "VARCHAR(300)"),
                         ("profile_assumed", "BOOLEAN"), ("preparation", "TEXT"), ("input_tensor", "JSON")):
        conn.execute(text(f"ALTER TABLE runs ADD COLUMN {column} {kind}"))


def _v9_dataset_creators(conn: Connection) -> None:
    """Who created a dataset: a digest of the creating browser's token, never the token; NULL for a dataset made
    by the CLI, a script, or an app older than this step."""
    conn.execute(text("ALTER TABLE datasets ADD COLUMN created_by VARCHAR(64)"))


MIGRATIONS: tuple[Callable[[Connection], None], ...] = (
    _v1_runs_rows_comparisons, _v2_observations_and_run_owner, _v3_prefixed_signature_digest, _v4_int64_versions,
    _v5_run_ownership_and_leases, _v6_datasets_and_image_store, _v7_comparison_latency_probe,
    _v8_run_profiles, _v9_dataset_creators)
SCHEMA_VERSION = len(MIGRATIONS)


class SchemaTooNewError(RuntimeError):
    pass


def current_version(conn: Connection) -> int:
    if not inspect(conn).has_table("schema_version"):
        return 0
    return int(conn.execute(select(func.coalesce(func.max(schema_version.c.version), 0))).scalar_one())


def migrate(conn: Connection) -> int:
    """Bring the database to SCHEMA_VERSION inside the caller's transaction; returns the version found."""
    if conn.dialect.name == "postgresql":
        # Two replicas starting at once: the second waits here, then finds nothing left to do.
        conn.execute(text("SELECT pg_advisory_xact_lock(7105170)"))
    schema_version.create(conn, checkfirst=True)
    found = current_version(conn)
    if found > SCHEMA_VERSION:
        raise SchemaTooNewError(f"the database has schema version {found}, newer than this app's "
                                f"{SCHEMA_VERSION}: upgrade ServeScope or point SERVESCOPE_DB elsewhere")
    for number in range(found + 1, SCHEMA_VERSION + 1):
        MIGRATIONS[number - 1](conn)
        conn.execute(insert(schema_version).values(version=number, applied_at=datetime.now(timezone.utc)))
    return found
