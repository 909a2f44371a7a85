import sys

from stages.common.cli import main
from stages.ingest.params import IngestParams
from stages.ingest.stage import run

sys.exit(main("ingest", IngestParams, run))
