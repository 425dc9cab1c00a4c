"""Real loopback servers for the test suite (no mocks): see scripted.py."""
