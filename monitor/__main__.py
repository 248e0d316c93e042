"""``python -m monitor``: the command line, as the ``monitor`` command."""

from monitor.cli import main

main(prog_name="monitor")
