import sys

from crisol.core.cli import main
from stages.web.params import WebParams
from stages.web.stage import run

sys.exit(main("web", WebParams, run))
