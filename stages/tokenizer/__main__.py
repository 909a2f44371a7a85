import sys

from crisol.core.cli import main
from stages.tokenizer.params import TokenizerParams
from stages.tokenizer.stage import run

sys.exit(main("tokenizer", TokenizerParams, run))
