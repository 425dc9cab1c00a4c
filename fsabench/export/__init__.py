"""Export fsabench tasks to other harnesses (lm-eval) so they run the same benchmark."""
