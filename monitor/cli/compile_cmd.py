"""``monitor compile``: compile the kernels ahead of the first ingest; the first-use notice."""

from __future__ import annotations

import click


def announce_compile() -> None:
    """Compile the kernels when none is cached yet, with a one-line notice on standard error."""
    from monitor.pipeline.warmup import compile_on_first_use

    compile_on_first_use(lambda notice: click.echo(notice, err=True))


@click.command("compile")
def compile_command() -> None:
    """Compile the decoder's kernels ahead of the first ingest; print the time it took.

    The kernels are compiled once per install and cached; without this command the first
    ingest compiles them, after a one-line notice.
    """
    from monitor.pipeline.warmup import compile_kernels, kernels_cached

    cached = kernels_cached()
    seconds = compile_kernels()
    state = "already compiled, loaded" if cached else "compiled"
    click.echo(f"Kernels {state} in {seconds:.1f} s.")


COMMANDS: list[click.Command] = [compile_command]
