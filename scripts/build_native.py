"""Compiles the extractors (crawler/extract) with mypyc into build/native; see crawler/extract/__init__.py.

Run by scripts/setup.sh: does nothing when the build matches the sources, else builds (about two
minutes on one core). ``--force`` builds anyway. Needs a C compiler and Python's headers; without
them it says so and the sources run as they are.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from crawler.extract import (BUILT_FROM, COMPILED_MODULES, NATIVE_DIR,  # noqa: E402
                             native_build_is_current, sources_digest)

# The name of the one shared library every compiled module's stub loads (crawler/extract/native__mypyc).
GROUP_NAME = "crawler.extract.native"


def build() -> None:
    from mypyc.build import mypycify  # build-time only: the compiled modules do not need mypy
    from setuptools import Distribution

    digest = sources_digest()
    build_root = NATIVE_DIR.parents[1]
    with tempfile.TemporaryDirectory(prefix="native-build-") as work:
        paths = [f"crawler/extract/{name}.py" for name in COMPILED_MODULES]
        # dataset_tables, imported by documents, is type-checked silently: it is not compiled.
        extensions = mypycify(["--ignore-missing-imports", "--follow-imports=silent", *paths], opt_level="3",
                              group_name=GROUP_NAME, target_dir=str(Path(work) / "c"))
        distribution = Distribution({"name": "crawler-native", "ext_modules": extensions})
        command = distribution.get_command_obj("build_ext")
        command.build_lib, command.build_temp = str(Path(work) / "lib"), str(Path(work) / "temp")
        distribution.run_command("build_ext")
        # Swapped in whole: a build that failed half-way leaves the previous one (or none).
        shutil.rmtree(build_root, ignore_errors=True)
        shutil.copytree(Path(work) / "lib", build_root)
    BUILT_FROM.write_text(digest + "\n")


@contextlib.contextmanager
def _output_to(log):
    """The build's output (mypyc's notes, setuptools' and the compiler's lines, which write to the
    file descriptors themselves) into ``log``: the set-up prints a line per stage."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    try:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for descriptor in saved:
            os.close(descriptor)


def main() -> None:
    if "--force" not in sys.argv and native_build_is_current():
        return
    os.chdir(ROOT)  # mypyc names modules after their paths
    started = time.monotonic()
    print("Compiling crawler/extract with mypyc into build/native (about two minutes)", flush=True)
    with tempfile.TemporaryFile("w+") as log:
        try:
            with _output_to(log):
                build()
        except (Exception, SystemExit) as exc:  # setuptools exits on a compiler error
            log.seek(0)
            print(log.read()[-4000:], file=sys.stderr)
            print(f"Compiling failed ({type(exc).__name__}: {exc}); the extractors run as Python source",
                  file=sys.stderr)
            sys.exit(1)
    print(f"Compiled in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
