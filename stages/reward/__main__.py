import sys

from crisol.core.cli import main
from stages.reward.params import RewardParams
from stages.reward.stage import run

sys.exit(main("reward", RewardParams, run))
