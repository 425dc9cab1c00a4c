"""Declarative tasks: a YAML file per task, validated by TaskSpec, found by the registry."""
