import sys

from crisol.core.cli import main
from stages.evaluate.params import EvaluateParams
from stages.evaluate.stage import run

sys.exit(main("evaluate", EvaluateParams, run))
