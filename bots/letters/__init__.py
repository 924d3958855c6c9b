"""The letterbox ("brevkasse"): anonymous letters, answered later, read with a pickup code
(docs/letterbox.md)."""
