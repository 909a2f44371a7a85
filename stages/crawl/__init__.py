"""Stage `crawl`: a polite crawler (robots.txt, Crawl-delay, SSRF guard) writing WARC."""
