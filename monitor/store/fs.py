"""Where a store lives: a local folder, or a prefix of an S3-compatible object store.

A local store is a :class:`pathlib.Path` and is read and written as it always was. An object
store is named by URL (``s3://bucket/prefix``) and reached through fsspec (``s3fs``) as a
:class:`upath.UPath`, which has the same methods; credentials, region and endpoint come from the
usual variables (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_REGION``, and
``AWS_ENDPOINT_URL`` for MinIO, Ceph and other S3-compatible servers), read by s3fs and by
polars alike.

Object stores have no rename: a file is written there in one request, and appears whole or not
at all, so writing it under its final name is as atomic as the local temp file and rename.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import polars as pl

from monitor.core.atomic import atomic_write_bytes
from monitor.core.locations import is_url
from monitor.errors import StoreError

if TYPE_CHECKING:
    from upath import UPath

    #: A store path: local, or in an object store.
    StorePath: TypeAlias = Path | UPath
else:
    StorePath = Path


def store_path(location: StorePath | str) -> StorePath:
    """Return the path of a store given as a folder or an object-store URL."""
    if not isinstance(location, str):
        return location
    if not is_url(location):
        return Path(location)
    try:
        from upath import UPath
    except ImportError as exc:
        raise StoreError(
            f"{location}: a store in an object store needs pip install 'monitor[s3]'"
        ) from exc
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    options: dict[str, Any] = {
        # Listings are never cached: another process adds and compacts files.
        "use_listings_cache": False,
    }
    if endpoint and location.startswith("s3://"):
        # Named explicitly, so that the filesystem sent to Dask workers reaches the same server.
        options["endpoint_url"] = endpoint
    try:
        found: StorePath = UPath(location, **options)
    except (ImportError, ValueError) as exc:
        raise StoreError(
            f"{location}: cannot open this object store ({exc}); S3 needs pip install "
            "'monitor[s3]', and the URL must look like s3://bucket/prefix"
        ) from exc
    return found


def is_local(path: StorePath) -> bool:
    """Return whether ``path`` is on a local (or mounted) filesystem."""
    return isinstance(path, Path)


def location(path: StorePath) -> str:
    """Return ``path`` as polars and pyarrow name it (a local path or a URL)."""
    return str(path)


def storage_options(path: StorePath) -> dict[str, str] | None:
    """Return the options polars needs to reach ``path``'s object store (None when local)."""
    if is_local(path):
        return None
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint is None:
        return {}
    options = {"aws_endpoint_url": endpoint}
    if endpoint.startswith("http://"):
        options["aws_allow_http"] = "true"
    return options


def arrow_source(path: StorePath) -> tuple[str, Any]:
    """Return the name and the filesystem (None when local) under which pyarrow reads ``path``."""
    if is_local(path):
        return str(path), None
    return str(path.path), path.fs  # type: ignore[union-attr]


def write_bytes(path: StorePath, data: bytes) -> None:
    """Write ``data`` to ``path`` so that no reader sees half of it."""
    if is_local(path):
        assert isinstance(path, Path)
        atomic_write_bytes(path, data)
        return
    path.write_bytes(data)


def write_text(path: StorePath, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` so that no reader sees half of it."""
    write_bytes(path, text.encode("utf-8"))


def read_parquet(path: StorePath) -> pl.DataFrame:
    """Return the Parquet file at ``path``."""
    if isinstance(path, Path):
        return pl.read_parquet(path)
    with path.open("rb") as handle:
        return pl.read_parquet(io.BytesIO(handle.read()))


def scan_parquet(
    files: list[StorePath], schema: dict[str, pl.DataType] | None = None, **options: Any
) -> pl.LazyFrame:
    """Return the rows of the Parquet ``files`` (all in one store), with ``schema`` if given
    (columns a file lacks, added to the schema after it was written, are null)."""
    if schema is not None:
        options.setdefault("missing_columns", "insert")
    if not files or is_local(files[0]):
        return pl.scan_parquet(files, schema=schema, **options)  # type: ignore[arg-type]
    return pl.scan_parquet(
        [location(f) for f in files],
        schema=schema,
        storage_options=storage_options(files[0]),
        **options,
    )


def listing(folder: StorePath, pattern: str) -> list[StorePath]:
    """Return the entries of ``folder`` matching the glob ``pattern``, sorted by name."""
    found: list[StorePath] = []
    if isinstance(folder, Path):
        found.extend(folder.glob(pattern))
    else:
        found.extend(folder.glob(pattern))
    return sorted(found, key=str)
