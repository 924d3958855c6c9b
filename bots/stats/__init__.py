"""Anonymous statistics: the quarterly report, its small-cell rule and page-view
counting. See docs/statistics.md (the operations metrics are bots/metrics.py)."""
