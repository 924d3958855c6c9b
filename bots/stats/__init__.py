"""Anonymous statistics: the quarterly report, its small-cell rule, page-view counting
and the operations metrics. See docs/statistics.md."""
