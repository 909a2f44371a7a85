import sys

from crisol.core.cli import main
from stages.dedup.params import DedupParams
from stages.dedup.stage import run

sys.exit(main("dedup", DedupParams, run))
