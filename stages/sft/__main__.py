import sys

from stages.common.cli import main
from stages.sft.params import SftParams
from stages.sft.stage import run

sys.exit(main("sft", SftParams, run))
