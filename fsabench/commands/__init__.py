"""One module per CLI verb; cli.py only declares options and imports these on use."""
