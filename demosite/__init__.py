"""The offline demo site: a local mock of the sources, served in their real response shapes.

The README's main command crawls it when there is no internet, and the end-to-end tests crawl the
same site. Nothing here is used by the crawler itself.
"""
