"""crisol stages: one subpackage per pipeline stage, plus the shared library in `common`.

A stage never imports another stage; stages talk only through artifacts on disk.
"""
