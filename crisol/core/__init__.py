"""The stage contract every stage runs under: params, the stage CLI (exit codes, one-line errors),
atomic outputs, executors, progress, the data source, plots, deterministic splits and samples."""
