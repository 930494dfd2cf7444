"""`python -m xling` (and `torchrun -m xling pretrain ...`) run the CLI."""

from xling.cli import main

# The guard matters: `xling serve --workers N` spawns processes that import __main__ again.
if __name__ == "__main__":
    main()
