"""fsabench: fine-grained sentiment analysis as a benchmark anyone can run, extend and publish."""

__version__ = "0.1.0"
