import sys

from stages.common.cli import main
from stages.crawl.params import CrawlParams
from stages.crawl.stage import run

sys.exit(main("crawl", CrawlParams, run))
