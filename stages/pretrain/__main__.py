import sys

from crisol.core.cli import main
from stages.pretrain.params import PretrainParams
from stages.pretrain.stage import run

sys.exit(main("pretrain", PretrainParams, run))
