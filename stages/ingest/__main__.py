import sys

from crisol.core.cli import main
from stages.ingest.params import IngestParams
from stages.ingest.stage import run

sys.exit(main("ingest", IngestParams, run))
