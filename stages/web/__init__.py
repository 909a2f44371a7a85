"""Stage `web`: a deterministic synthetic web about a fictional world (see stage.py)."""
