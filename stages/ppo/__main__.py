import sys

from crisol.core.cli import main
from stages.ppo.params import PPOParams
from stages.ppo.stage import run

sys.exit(main("ppo", PPOParams, run))
