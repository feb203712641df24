"""Reads the crawlers' JSONL and synthesises spreadsheets, a merged table and a validation report."""
