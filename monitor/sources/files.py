"""Opening inputs: paths, globs, folders and standard input; decompression; format detection.

Inputs are read as bytes in chunks of complete lines so that any file size fits in bounded memory,
and every chunk carries the byte offset (in the decompressed stream) where it ends, which is what
the ingest manifest records to resume a file that has grown.
"""

from __future__ import annotations

import bz2
import glob
import gzip
import hashlib
import io
import lzma
import re
import sys
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal, cast

from monitor.errors import SourceError

#: Lines are handed to decoders in chunks of about this many bytes.
CHUNK_BYTES = 1 << 20
#: A file is identified by a hash of its first bytes (raw, before decompression).
FINGERPRINT_BYTES = 4096
#: How much decompressed text format detection looks at.
DETECT_BYTES = 64 * 1024
#: A line longer than this is no AIS sentence or CSV row (those are under 1 KiB): it is dropped
#: as it is read, so that a file without line ends (a binary blob) is never held in memory.
MAX_LINE_BYTES = 64 * 1024

Format = Literal["nmea", "csv"]
FORMATS: tuple[str, ...] = ("auto", "nmea", "csv")

_GLOB_CHARS = re.compile(r"[*?\[]")
_SENTENCE = re.compile(rb"[!$][A-Z]{2}VD[MO],")
_NMEA_HINT = re.compile(rb"^(\\[^\\]*\\)?[!$][A-Z]{2}[A-Z]{3},|\$PGHP,")


@dataclass(frozen=True)
class InputFile:
    """One input: a file on disk, or standard input when ``path`` is None."""

    path: Path | None
    #: The name recorded in each stored row's ``source`` and shown in messages.
    name: str

    @property
    def is_stdin(self) -> bool:
        return self.path is None


@dataclass(frozen=True)
class Chunk:
    """Complete lines read from an input, with their place in the decompressed stream."""

    data: bytes
    #: Offset of the first byte of ``data``.
    start: int
    #: Offset just after the last complete line; resuming there never splits a line.
    end: int
    #: Lines longer than MAX_LINE_BYTES dropped just before ``data`` (their bytes are not in it).
    overlong: int = 0


def _is_hidden(path: Path) -> bool:
    return any(part.startswith(".") for part in path.parts if part not in (".", ".."))


def expand_inputs(paths: Sequence[str | Path]) -> list[InputFile]:
    """Return the inputs named by ``paths``: files, folders (every file under them), globs, "-".

    Raises SourceError for a path that does not exist or a glob that matches nothing.
    """
    found: list[InputFile] = []
    seen: set[str] = set()

    def add(path: Path) -> None:
        key = str(path.resolve())
        if key not in seen:
            seen.add(key)
            found.append(InputFile(path=path, name=str(path)))

    for raw in paths:
        text = str(raw)
        if text == "-":
            if "-" not in seen:
                seen.add("-")
                found.append(InputFile(path=None, name="stdin"))
            continue
        path = Path(text)
        if path.is_dir():
            for child in sorted(p for p in path.rglob("*") if p.is_file()):
                if not _is_hidden(child.relative_to(path)):
                    add(child)
        elif path.is_file():
            add(path)
        elif _GLOB_CHARS.search(text):
            matches = sorted(glob.glob(text, recursive=True))
            files = [Path(m) for m in matches if Path(m).is_file()]
            if not files:
                raise SourceError(f"{text}: the pattern matches no file; check the pattern")
            for match in files:
                add(match)
        else:
            raise SourceError(f"{text}: no such file or folder; check the path")
    return found


def compression_of(head: bytes) -> str | None:
    """Return "gzip", "bz2" or "xz" from a file's first bytes, None for plain text."""
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith(b"BZh"):
        return "bz2"
    if head.startswith(b"\xfd7zXZ\x00"):
        return "xz"
    return None


class _Prepended(io.RawIOBase):
    """A raw stream giving ``head`` and then the rest of ``rest`` (for streams without peek)."""

    def __init__(self, head: bytes, rest: io.BufferedIOBase) -> None:
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if self._head:
            n = min(len(view), len(self._head))
            view[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(view))
        view[: len(data)] = data
        return len(data)


class _Salvaging(io.RawIOBase):
    """Decompressed bytes that end cleanly where the compressed data is cut short or corrupt.

    ``error`` keeps what went wrong; every byte decompressed before it is still delivered.
    """

    def __init__(self, inner: io.BufferedIOBase) -> None:
        self._inner = inner
        self.error: Exception | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.error is not None:
            return 0
        view = memoryview(buffer).cast("B")
        try:
            data = self._inner.read1(len(view))
        except (EOFError, OSError, zlib.error, lzma.LZMAError) as exc:
            self.error = exc
            return 0
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._inner.close()
        super().close()


class _CrToLf(io.RawIOBase):
    """The bytes of ``inner`` with every CR turned into LF: lines of a file that ends them with
    CR alone (old Mac style) become ordinary lines, at the same offsets."""

    def __init__(self, inner: io.BufferedIOBase) -> None:
        self._inner = inner

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self._inner.seekable()

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._inner.seek(offset, whence)

    def tell(self) -> int:
        return self._inner.tell()

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self._inner.read1(len(view))
        view[: len(data)] = data.replace(b"\r", b"\n")
        return len(data)

    def close(self) -> None:
        self._inner.close()
        super().close()


def cr_only(head: bytes) -> bool:
    """Return whether text starting with ``head`` ends its lines with CR alone.

    Decided on the first FINGERPRINT_BYTES; a CR at the very end may be half of a CR LF.
    """
    sample = head[:FINGERPRINT_BYTES]
    return b"\r" in sample[:-1] and b"\n" not in sample


class OpenInput:
    """An opened input: ``stream`` gives decompressed bytes, ``raw_position()`` the raw progress.

    Compression is recognised by content (magic bytes), not by file name.
    """

    def __init__(self, inp: InputFile) -> None:
        self.input = inp
        raw: io.BufferedReader
        if inp.path is None:
            raw = cast(io.BufferedReader, sys.stdin.buffer)
        else:
            try:
                raw = inp.path.open("rb")
            except OSError as exc:
                raise SourceError(
                    f"{inp.name}: cannot open ({exc.strerror}); check the path"
                ) from exc
        self._raw = raw
        buffered = raw
        if not hasattr(raw, "peek"):
            head = read_exact(raw, 8)
            buffered = io.BufferedReader(_Prepended(head, raw))
        head = buffered.peek(8)[:8]
        self.compression = compression_of(head)
        self._salvage: _Salvaging | None = None
        inner: io.BufferedIOBase
        if self.compression == "gzip":
            inner = gzip.GzipFile(fileobj=buffered, mode="rb")
        elif self.compression == "bz2":
            inner = bz2.BZ2File(buffered, mode="rb")
        elif self.compression == "xz":
            inner = lzma.LZMAFile(buffered, mode="rb")  # noqa: SIM115
        else:
            inner = buffered
        self.stream: io.BufferedIOBase = inner
        if self.compression is not None:
            self._salvage = _Salvaging(inner)
            self.stream = io.BufferedReader(self._salvage, buffer_size=CHUNK_BYTES)
        #: Whether the text ends its lines with CR alone; they are read as LF.
        self.cr_only = cr_only(cast(io.BufferedReader, self.stream).peek(FINGERPRINT_BYTES))
        if self.cr_only:
            self.stream = io.BufferedReader(_CrToLf(self.stream), buffer_size=CHUNK_BYTES)

    @property
    def error(self) -> Exception | None:
        """Return why decompression stopped early (data cut short or corrupt), else None."""
        return self._salvage.error if self._salvage is not None else None

    def raw_position(self) -> int:
        """Return how many raw (compressed) bytes have been read so far, 0 for standard input."""
        if self.input.path is None:
            return 0
        try:
            return self._raw.tell()
        except (OSError, ValueError):
            return 0

    def close(self) -> None:
        if self.input.path is not None:
            self.stream.close()
            self._raw.close()

    def __enter__(self) -> OpenInput:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_exact(stream: io.BufferedIOBase, size: int) -> bytes:
    """Return up to ``size`` bytes from ``stream``, fewer only at the end of the stream."""
    parts: list[bytes] = []
    remaining = size
    while remaining > 0:
        block = stream.read(remaining)
        if not block:
            break
        parts.append(block)
        remaining -= len(block)
    return b"".join(parts)


def skip_to(opened: OpenInput, offset: int, tail_size: int = FINGERPRINT_BYTES) -> bytes:
    """Advance the decompressed stream to ``offset``; return the ``tail_size`` bytes before it.

    Plain files seek; compressed streams are read and discarded. Returns fewer bytes when the
    stream ends before ``offset``.
    """
    stream = opened.stream
    if opened.compression is None and opened.input.path is not None:
        start = max(0, offset - tail_size)
        stream.seek(start)
        tail = read_exact(stream, offset - start)
        return tail
    kept = b""
    position = 0
    while position < offset:
        block = stream.read(min(CHUNK_BYTES, offset - position))
        if not block:
            break
        position += len(block)
        kept = (kept + block)[-tail_size:]
    return kept


def iter_chunks(
    stream: io.BufferedIOBase,
    start: int = 0,
    chunk_bytes: int = CHUNK_BYTES,
    prefix: bytes = b"",
) -> Iterator[Chunk]:
    """Yield chunks of complete lines from ``stream`` (already positioned at ``start``).

    ``prefix`` holds bytes already read from the stream (they start at ``start``). A last line
    without a newline is yielded on its own with ``end`` left at its start, so that a file still
    being written is resumed from the beginning of that line. A line longer than MAX_LINE_BYTES
    is dropped as it is read and counted in the next chunk's ``overlong``; a chunk holds at most
    MAX_LINE_BYTES + ``chunk_bytes`` bytes.
    """
    carry = prefix
    offset = start
    #: Bytes of an overlong line dropped so far (-1: not in one).
    dropped = -1
    while True:
        block = stream.read(chunk_bytes)
        if not block:
            break
        if dropped >= 0:
            cut = block.find(b"\n")
            if cut < 0:
                dropped += len(block)
                continue
            dropped += cut + 1
            yield Chunk(data=b"", start=offset, end=offset + dropped, overlong=1)
            offset += dropped
            dropped, block = -1, block[cut + 1 :]
        data = carry + block
        cut = data.rfind(b"\n")
        lines, carry = (data[: cut + 1], data[cut + 1 :]) if cut >= 0 else (b"", data)
        if lines:
            yield Chunk(data=lines, start=offset, end=offset + len(lines))
            offset += len(lines)
        if len(carry) > MAX_LINE_BYTES:
            dropped, carry = len(carry), b""
    if dropped >= 0:
        # Unfinished: read again from its start next time, as any unfinished last line.
        yield Chunk(data=b"", start=offset, end=offset, overlong=1)
        return
    cut = carry.rfind(b"\n")
    if cut >= 0:
        lines, carry = carry[: cut + 1], carry[cut + 1 :]
        yield Chunk(data=lines, start=offset, end=offset + len(lines))
        offset += len(lines)
    if carry:
        yield Chunk(data=carry, start=offset, end=offset)


def fingerprint(head: bytes) -> str:
    """Return the hex SHA-256 of ``head`` (the first bytes of a file, raw)."""
    return hashlib.sha256(head).hexdigest()


def read_head(path: Path, size: int = FINGERPRINT_BYTES) -> bytes:
    """Return the first ``size`` raw bytes of ``path``."""
    with path.open("rb") as handle:
        return read_exact(handle, size)


#: File formats that hold text without being text, by their first bytes.
_CONTAINERS: Final = (
    (b"PK\x03\x04", "a zip archive"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"PAR1", "a Parquet file"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"%PDF-", "a PDF document"),
)
#: Bytes that no CSV header holds (control characters but tab, CR and LF).
_BINARY = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def container_kind(head: bytes) -> str | None:
    """Return what kind of archive or database a file starting with ``head`` is, else None."""
    if head[257:262] == b"ustar":
        return "a tar archive"
    return next((kind for magic, kind in _CONTAINERS if head.startswith(magic)), None)


def detect_format(head: bytes) -> Format | None:
    """Return "nmea" or "csv" for the decompressed start of an input, None when neither.

    NMEA wins as soon as one AIS sentence (``!AIVDM,``...) or Gatehouse ``$PGHP`` appears in the
    first lines, whatever binary noise is around them (a serial capture often starts with some);
    otherwise a first line with several commas, semicolons or tabs, and no control characters,
    is a CSV header. Archives and databases are neither, whatever text they hold.
    """
    text = head[:DETECT_BYTES]
    if container_kind(text) is not None:
        return None
    if _SENTENCE.search(text) or b"$PGHP," in text:
        return "nmea"
    lines = [line.strip(b"\x00 \t") for line in text.splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        return None
    nmea_like = sum(1 for line in lines[:50] if _NMEA_HINT.search(line))
    if nmea_like * 2 > min(len(lines), 50):
        return "nmea"
    first = lines[0].lstrip(b"\xef\xbb\xbf")
    if _BINARY.search(first):
        return None
    if max(first.count(b","), first.count(b";"), first.count(b"\t")) >= 2:
        return "csv"
    return None
