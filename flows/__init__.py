"""Prefect orchestration of the DVC stage graph. Orchestration only: no ML code is imported here."""
