import sys

from crisol.core.cli import main
from stages.sft.params import SftParams
from stages.sft.stage import run

sys.exit(main("sft", SftParams, run))
