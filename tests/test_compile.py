"""Compiled kernels: the disk-cache check, ``monitor compile`` and the notice on first use."""

from __future__ import annotations

import importlib.util
import json
import subprocess
from pathlib import Path
from types import ModuleType

from click.testing import CliRunner
from fresh_process import python_output

from monitor.cli import main
from monitor.config import Settings, StoreSettings
from monitor.core import jit
from monitor.pipeline.ingest import ingest_paths
from monitor.pipeline.warmup import SAMPLE_NMEA, kernels_cached

NOTICE = "Compiling the decoder's kernels once"


def _load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_cache_check_sees_a_kernel_compiled_and_its_source_changed(tmp_path: Path) -> None:
    source = tmp_path / "twice.py"
    source.write_text(
        "from monitor.core.jit import kernel\n\n\n@kernel\ndef twice(x):\n    return 2 * x\n"
    )
    compiled = _load(source, "twice_v1").twice
    assert compiled in jit.KERNELS
    assert not jit.cached_on_disk(compiled)
    assert compiled(21) == 42
    assert jit.cached_on_disk(compiled)
    # A new version of the source (an upgrade) makes the cached code stale.
    source.write_text(source.read_text().replace("2 * x", "x + x  # same"))
    assert not jit.cached_on_disk(_load(source, "twice_v2").twice)


def test_compile_command_leaves_every_kernel_cached() -> None:
    result = CliRunner().invoke(main, ["compile"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Kernels ") and result.output.rstrip().endswith(" s.")
    assert kernels_cached()


def test_first_ingest_of_an_install_announces_the_compile_once(
    first_ingests_run: list[subprocess.CompletedProcess[str]],
) -> None:
    # Two ingests in a fresh numba cache, run in the background from the session's start.
    first, again = first_ingests_run
    assert first.returncode == 0, first.stderr
    assert first.stderr.count(NOTICE) == 1
    assert "positions stored" in first.stdout
    assert again.returncode == 0, again.stderr
    assert NOTICE not in again.stderr


def test_the_sample_takes_every_time_source_and_message_family(tmp_path: Path) -> None:
    sample = tmp_path / "sample.nmea"
    sample.write_bytes(SAMPLE_NMEA)
    settings = Settings(store=StoreSettings(path=tmp_path / "store"))
    summary = ingest_paths([sample], settings)
    assert set(summary.time_sources) == {"tag_block", "pghp", "zda", "rmc", "trailing_epoch"}
    assert not summary.rejected and not summary.errors
    # The last line repeats the one before, 60 s later: a duplicate.
    assert summary.n_positions == 7 and summary.n_statics == 3 and summary.n_duplicates == 1


#: Decodes inputs that make differently laid out arrays (with and without prefix lines and
#: clocks; columns of one chunk and of several), then prints each kernel's compiled signatures.
SIGNATURES_SCRIPT = """
import json
import polars as pl
from monitor.core import jit
from monitor.decode.nmea.decoder import NmeaDecoder
from monitor.pipeline.warmup import SAMPLE_NMEA
from monitor.store.parquet import drop_repeats

lines = SAMPLE_NMEA.splitlines(keepends=True)
for part in (lines[:7], lines[7:9], lines[11:13], lines, lines[9:]):
    decoder = NmeaDecoder("sample")
    decoder.feed(b"".join(part))
    decoder.flush()
batch = NmeaDecoder("sample").feed(SAMPLE_NMEA).positions
drop_repeats(batch, 60)
drop_repeats(pl.concat([batch, batch], rechunk=False), 60)
print(json.dumps({k.py_func.__qualname__: len(k.signatures) for k in jit.KERNELS}))
"""


def test_each_kernel_is_compiled_once_whatever_its_input() -> None:
    # In a process of its own: tests in this one call kernels with arrays of their own making.
    signatures = json.loads(python_output(SIGNATURES_SCRIPT))
    assert signatures["resolve_times"] == 1 and signatures["_repeats"] == 1
    assert max(signatures.values()) == 1, signatures
