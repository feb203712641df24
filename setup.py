# Only so that `scrapyd-deploy` builds the egg from pyproject.toml (it writes a setup.py of its own
# when there is none). Everything, the Scrapy entry point included, is declared in pyproject.toml.
from setuptools import setup

setup()
