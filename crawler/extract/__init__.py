"""Pure extraction rules: text, tables and data rows in, figures and records out.

Nothing here imports Scrapy or does I/O, so every rule can be tested on a string.
"""
