import sys

from crisol.core.cli import main
from stages.crawl.params import CrawlParams
from stages.crawl.stage import run

sys.exit(main("crawl", CrawlParams, run))
