"""Input sources: path expansion, decompression, chunking at line boundaries, format detection."""

from __future__ import annotations

import bz2
import gzip
import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.errors import SourceError
from monitor.sources.files import (
    FINGERPRINT_BYTES,
    InputFile,
    OpenInput,
    detect_format,
    expand_inputs,
    iter_chunks,
    read_exact,
    skip_to,
)

NMEA = b"\\c:1635731889*00\\!AIVDM,1,1,,A,15M67F@P0kG?d`0E`Ah3Q2hEP000,0*3C\n"
CSV = b"MMSI,BaseDateTime,LAT,LON\n366053209,2024-01-01T00:00:00,37.8,-122.4\n"


def test_expand_inputs_takes_files_folders_globs_and_stdin(tmp_path: Path) -> None:
    (tmp_path / "a.nmea").write_bytes(NMEA)
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "b.csv").write_bytes(CSV)
    (sub / ".hidden").write_bytes(b"x")
    found = expand_inputs([tmp_path / "a.nmea", str(sub), str(tmp_path / "*.nmea"), "-"])
    names = [Path(f.name).name if f.path else f.name for f in found]
    # The glob repeats a.nmea: it is listed once; hidden files under a folder are skipped.
    assert names == ["a.nmea", "b.csv", "stdin"]
    assert found[-1].is_stdin


def test_expand_inputs_names_a_missing_path(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"nope\.nmea: no such file"):
        expand_inputs([tmp_path / "nope.nmea"])
    with pytest.raises(SourceError, match="matches no file"):
        expand_inputs([str(tmp_path / "*.zzz")])


@pytest.mark.parametrize("packer", [lambda b: b, gzip.compress, bz2.compress])
def test_open_input_decompresses_by_content(tmp_path: Path, packer: object) -> None:
    path = tmp_path / "feed.txt"  # no telling extension: the content decides
    assert callable(packer)
    path.write_bytes(packer(NMEA * 3))
    with OpenInput(InputFile(path, str(path))) as opened:
        assert read_exact(opened.stream, 10_000) == NMEA * 3


def test_skip_to_returns_the_bytes_before_the_offset(tmp_path: Path) -> None:
    data = b"".join(b"line %05d\n" % i for i in range(2000))
    for name, packed in (("plain", data), ("gz", gzip.compress(data))):
        path = tmp_path / name
        path.write_bytes(packed)
        with OpenInput(InputFile(path, name)) as opened:
            tail = skip_to(opened, 11_000)
            assert tail == data[11_000 - FINGERPRINT_BYTES : 11_000]
            assert opened.stream.read(11) == data[11_000:11_011]


def test_iter_chunks_cuts_at_newlines_and_holds_back_an_unfinished_line() -> None:
    data = b"one\ntwo\nthree\nfour-unfinished"
    chunks = list(iter_chunks(io.BytesIO(data), chunk_bytes=5))
    assert all(c.data.endswith(b"\n") for c in chunks[:-1])
    assert chunks[-1].data == b"four-unfinished"
    # Resuming at the last ``end`` re-reads the unfinished line, never half of it.
    assert chunks[-1].start == chunks[-1].end == len(b"one\ntwo\nthree\n")


def test_iter_chunks_with_prefix_and_start_offset() -> None:
    chunks = list(iter_chunks(io.BytesIO(b"c\nd\n"), start=100, prefix=b"a\nb"))
    assert b"".join(c.data for c in chunks) == b"a\nbc\nd\n"
    assert chunks[0].start == 100
    assert chunks[-1].end == 100 + len(b"a\nbc\nd\n")


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.binary(max_size=30).map(lambda b: b.replace(b"\n", b"")), max_size=40),
    st.booleans(),
    st.integers(1, 50),
)
def test_iter_chunks_loses_nothing(lines: list[bytes], final_newline: bool, size: int) -> None:
    data = b"\n".join(lines) + (b"\n" if final_newline and lines else b"")
    chunks = list(iter_chunks(io.BytesIO(data), chunk_bytes=size))
    assert b"".join(c.data for c in chunks) == data
    position = 0
    for chunk in chunks:
        assert chunk.start == position
        position += len(chunk.data)
        if chunk.data.endswith(b"\n"):
            assert chunk.end == position


def test_detect_format() -> None:
    assert detect_format(NMEA) == "nmea"
    assert detect_format(b"$PGHP,1,2010,6,11,11,46,11,929,244,0,,1,72*21\n") == "nmea"
    assert detect_format(b"\xef\xbb\xbf" + CSV) == "csv"
    assert detect_format(b"# Timestamp,Type of mobile,MMSI,Latitude\n") == "csv"
    assert detect_format(b"just some words\nmore\n") is None
    assert detect_format(b"") is None
    assert detect_format(b"archive/\x00\x00\x000000644,a,b,c\n") is None
