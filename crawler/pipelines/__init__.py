"""Item pipelines, one job each; their order is set and explained in crawler/settings.py."""
