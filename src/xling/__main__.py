"""`python -m xling` (and `torchrun -m xling pretrain ...`) run the CLI."""

from xling.cli import main

main()
