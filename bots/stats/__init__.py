"""Anonymous statistics: the quarterly report, its figures and the small-cell rule they
all go through. See docs/statistics.md (page views are counted by
bots/intake/page_views.py, the operations metrics are bots/metrics.py)."""
