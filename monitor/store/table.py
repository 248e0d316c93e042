"""Tables kept whole in one Parquet file each: read with their schema, replaced atomically.

The manifest and the port-call tables are such tables; a new table of the store is one more
:class:`Table` with its schema from :mod:`monitor.schema`.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from monitor.core.atomic import atomic_path
from monitor.errors import StoreError
from monitor.schema import conform, empty_frame
from monitor.store.fs import StorePath, is_local, read_parquet, store_path, write_bytes

#: Columns of these types are dictionary-encoded (few distinct values); others are plain.
_DICTIONARY_TYPES = (pl.String(), pl.Boolean(), pl.UInt8(), pl.UInt16(), pl.Int8(), pl.Int16())


def atomic_write_parquet(
    frame: pl.DataFrame, path: StorePath, *, row_group_size: int | None = None
) -> None:
    """Write ``frame`` to ``path`` through a temp file and a rename (in an object store: in one
    request), so readers never see half; in row groups of ``row_group_size`` rows if given.

    zstd level 1, floats byte-stream-split and dictionaries only for strings and small integers:
    as small as polars' own zstd files, at about two thirds of the CPU time.
    """
    dictionary = [c for c, t in frame.schema.items() if t in _DICTIONARY_TYPES]
    floats = [c for c, t in frame.schema.items() if t.is_float()]
    options = {
        "compression": "zstd",
        "compression_level": 1,
        "use_dictionary": dictionary,
        "column_encoding": dict.fromkeys(floats, "BYTE_STREAM_SPLIT"),
        "row_group_size": row_group_size,
    }
    if not is_local(path):
        buffer = io.BytesIO()
        pq.write_table(frame.to_arrow(), buffer, **options)
        write_bytes(path, buffer.getvalue())
        return
    assert isinstance(path, Path)
    with atomic_path(path) as tmp:
        pq.write_table(frame.to_arrow(), tmp, **options)


@dataclass(frozen=True)
class Table:
    """One table of a store: a Parquet file at ``name`` under the store's root, with ``schema``."""

    #: Path of the file under the store's root, e.g. ``calls/calls.parquet``.
    name: str
    schema: dict[str, pl.DataType]
    #: What the table is, in error messages ("manifest", "port calls").
    title: str
    #: What the user can do when the file is unreadable.
    remedy: str
    #: Columns added to the schema after files were written without them: read as nulls.
    added: tuple[str, ...] = ()

    def path(self, root: StorePath | str) -> StorePath:
        """Return the table's file in the store at ``root``."""
        return store_path(root) / self.name

    def exists(self, root: StorePath | str) -> bool:
        """Return whether the store at ``root`` has this table."""
        return self.path(root).is_file()

    def read(self, root: StorePath | str) -> pl.DataFrame:
        """Return the table with exactly its schema, empty when the store has none yet.

        Raises StoreError, naming the file and the fix, when it is unreadable or lacks a column.
        """
        path = self.path(root)
        if not path.is_file():
            return empty_frame(self.schema)
        try:
            frame = read_parquet(path)
        except (OSError, pl.exceptions.PolarsError) as exc:
            raise StoreError(f"{path}: unreadable {self.title} ({exc}); {self.remedy}") from exc
        frame = frame.with_columns(
            pl.lit(None, self.schema[name]).alias(name)
            for name in self.added
            if name not in frame.columns
        )
        missing = set(self.schema) - set(frame.columns)
        if missing:
            raise StoreError(
                f"{path}: {self.title} without columns {sorted(missing)}; {self.remedy}"
            )
        return conform(frame, self.schema)

    def write(self, root: StorePath | str, frame: pl.DataFrame) -> None:
        """Replace the table in the store at ``root`` with ``frame`` (atomically)."""
        atomic_write_parquet(conform(frame, self.schema), self.path(root))
