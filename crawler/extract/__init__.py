"""Pure extraction rules: text, tables and data rows in, figures and records out.

Nothing here imports Scrapy or does I/O, so every rule can be tested on a string.

The modules may run compiled: ``scripts/build_native.py`` (run by ``scripts/setup.sh``) compiles
them with mypyc into ``build/native``, and they are loaded from there (30% fewer instructions a
card than the sources) as long as that build was made from the sources as they stand: after an
edit, the sources run until the next build, never stale code.
``CRAWLER_PURE_PYTHON=1`` runs the sources regardless.
"""

import hashlib
import os
import sys
from pathlib import Path

# Every module but dataset_tables (its row dicts are typed too loosely for mypyc's checks) and
# records (cached_attribute, a descriptor that keeps values in an instance __dict__).
COMPILED_MODULES = ("ai_energy_score", "benchmark_results", "context", "datafiles", "documents",
                    "figure_roles", "github_issues", "gpus", "markdown_doc", "mlperf", "model_cards",
                    "models", "power_tables", "prose", "tables", "tool_output", "units")
SOURCE_DIR = Path(__file__).resolve().parent
NATIVE_DIR = SOURCE_DIR.parents[1] / "build" / "native" / "crawler" / "extract"
BUILT_FROM = NATIVE_DIR / "BUILT_FROM"  # sources_digest() of the sources the build was made from


def sources_digest() -> str:
    """A digest of the compiled modules' sources and the Python they are built for."""
    digest = hashlib.sha256(sys.implementation.cache_tag.encode())
    for name in COMPILED_MODULES:
        digest.update((SOURCE_DIR / f"{name}.py").read_bytes())
    return digest.hexdigest()


def native_build_is_current() -> bool:
    try:
        return BUILT_FROM.read_text().strip() == sources_digest()
    except OSError:  # no build
        return False


NATIVE = os.environ.get("CRAWLER_PURE_PYTHON") != "1" and native_build_is_current()
if NATIVE:
    __path__.insert(0, str(NATIVE_DIR))  # the compiled modules are found before the sources
