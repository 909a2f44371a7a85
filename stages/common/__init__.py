"""Shared library for all stages: params, artifact IO, schemas, progress, executors."""
