"""``python -m embrec`` (and ``torchrun -m embrec``): the ``embrec`` command."""

from embrec.cli.main import run

run()
