"""Synthetic raw NMEA AIS feeds for benchmarks: a realistic mix of message types and time sources.

A pool of distinct messages is encoded once with pyais, then sampled into lines, so a feed of a
million lines takes a few seconds to build. Run as a script to write a feed file:

    python benchmarks/feed.py OUT.nmea [N_LINES]

or to measure the decoder on position reports only (types 1, 3, 18) against plain pyais, in the
same run, best of three each (pyais on the first ``--baseline-lines`` lines, for time):

    python benchmarks/feed.py --positions-only [--lines N] [--baseline-lines N] [--style S ...]
"""

from __future__ import annotations

import argparse
import random
import tempfile
from pathlib import Path

from decode import decoder_rate, pyais_file_rate, random_message
from pyais.encode import encode_dict

#: Share of each message kind in the feed (roughly a busy coastal receiver).
MIX = {1: 0.55, 3: 0.12, 18: 0.10, 27: 0.03, 4: 0.08, 5: 0.06, 24: 0.04, 21: 0.02}

_EPOCH_S = 1_700_000_000


def _with_checksum(sentence: str) -> str:
    x = 0
    for ch in sentence[1:].encode():
        x ^= ch
    return f"{sentence}*{x:02X}"


def message_pool(
    size: int = 20_000, seed: int = 1, mix: dict[int, float] | None = None
) -> list[list[str]]:
    """Return ``size`` encoded messages (each a list of 1 or 2 sentences) drawn from ``mix``."""
    rng = random.Random(seed)
    mix = mix or MIX
    kinds, weights = list(mix), list(mix.values())
    pool = []
    for i in range(size):
        msg_type = rng.choices(kinds, weights)[0]
        seq = str(i % 10) if msg_type == 5 else None
        fields = random_message(rng, msg_type)
        pool.append(encode_dict(fields, radio_channel="AB"[i % 2], seq_id=seq))
    return pool


def generate_feed(
    n_lines: int, *, seed: int = 1, style: str = "tag_block", mix: dict[int, float] | None = None
) -> bytes:
    """Return about ``n_lines`` lines of NMEA text, timed with ``style``.

    Styles: "tag_block" (``\\c:EPOCH*hh\\`` in front), "trailing" (USCG ``,rSTATION,EPOCH`` after
    the checksum), "pghp" (a ``$PGHP`` line before each message) or "plain" (no time).
    ``mix`` overrides the share of each message type (default MIX).
    """
    pool = message_pool(min(20_000, max(100, n_lines // 20)), seed, mix)
    rng = random.Random(seed + 1)
    out: list[str] = []
    t = _EPOCH_S
    lines = 0
    while lines < n_lines:
        sentences = pool[rng.randrange(len(pool))]
        t += rng.random() < 0.01
        for s in sentences:
            if style == "tag_block":
                out.append(f"\\c:{t}*00\\{s}")
            elif style == "trailing":
                out.append(f"{s},r003669987,{t}")
            elif style == "pghp":
                out.append(_with_checksum(f"$PGHP,1,2023,11,14,22,13,{t % 60},0,219,,2190067,1,00"))
                out.append(s)
                lines += 1
            else:
                out.append(s)
            lines += 1
    out.append("")
    return "\n".join(out).encode()


#: Position reports only: the decoder's fast path.
POSITION_MIX = {1: 0.70, 3: 0.15, 18: 0.15}


def bench_positions(n_lines: int, baseline_lines: int, styles: list[str]) -> None:
    """Print the decoder's and pyais's rates on position-report feeds, and their ratio."""
    from monitor.decode.nmea.decoder import NmeaDecoder

    work = Path(tempfile.mkdtemp(prefix="positions-bench-"))
    for style in styles:
        data = generate_feed(n_lines, style=style, mix=POSITION_MIX)
        sample = work / f"{style}.nmea"
        cut = 0
        for _ in range(baseline_lines):
            cut = data.find(b"\n", cut) + 1
            if cut == 0:
                cut = len(data)
                break
        sample.write_bytes(data[:cut])
        # Warm-up: the first call pays one-off costs (lazy imports, first allocations).
        NmeaDecoder("warm-up").feed(data[: data.rfind(b"\n", 0, 1 << 20) + 1])
        fast_n, fast_s = min((decoder_rate(data) for _ in range(3)), key=lambda r: r[1])
        base_n, base_s = min((pyais_file_rate(sample) for _ in range(3)), key=lambda r: r[1])
        fast, base = fast_n / fast_s, base_n / base_s
        print(
            f"{style:>9}: decoder {fast:,.0f} msg/s ({fast_n:,} messages in {fast_s:.2f} s); "
            f"pyais {base:,.0f} msg/s ({base_n:,} messages); ratio {fast / base:.1f}x "
            f"{'OK' if fast / base >= 20 else 'below the 20x target'}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, help="feed file to write")
    parser.add_argument("n_lines", nargs="?", type=int, default=1_000_000)
    parser.add_argument("--positions-only", action="store_true", help="run the benchmark")
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--baseline-lines", type=int, default=200_000)
    parser.add_argument(
        "--style",
        action="append",
        choices=["tag_block", "trailing", "pghp"],
        help="time source of the lines (repeat for several; default tag_block and trailing)",
    )
    args = parser.parse_args()
    if args.positions_only:
        bench_positions(args.lines, args.baseline_lines, args.style or ["tag_block", "trailing"])
    elif args.out is not None:
        args.out.write_bytes(generate_feed(args.n_lines))
    else:
        parser.error("give OUT.nmea or --positions-only")


if __name__ == "__main__":
    main()
