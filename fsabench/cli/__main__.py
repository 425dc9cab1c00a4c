"""`python -m fsabench.cli ...`: what `accelerate launch -m fsabench.cli` and `torchrun -m fsabench.cli` run."""

from fsabench.cli import main

main()
