"""The two failures a stage reports to its caller with a one-line message and a non-zero exit."""


class ParamsError(ValueError):
    """A parameter is unknown or has a bad value (exit code 2, before any work starts)."""


class StageInputError(RuntimeError):
    """An input is unusable as a whole: missing path, wrong schema, nothing to read (exit code 1)."""
