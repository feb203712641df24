# Sourced by the other scripts: makes .venv with the project and its test tools installed.
# Re-installs only when pyproject.toml changes.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PYTHON="${PYTHON:-python3}"
if [ ! -x "$VENV/bin/python" ]; then
  echo "Creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
STAMP="$VENV/.installed-$(sha256sum "$ROOT/pyproject.toml" | cut -c1-16)"
if [ ! -f "$STAMP" ]; then
  # On a terminal, pip's own progress (each package collected, download bars); in a log (CI), a
  # line per stage and pip's errors only, so the log stays short.
  if [ -t 1 ]; then PIP_OUTPUT=(--progress-bar on); else PIP_OUTPUT=(--quiet); fi
  INSTALL_STARTED=$SECONDS
  echo "Installing into $VENV (1/2): the latest pip"
  "$VENV/bin/python" -m pip install "${PIP_OUTPUT[@]}" --upgrade pip
  echo "Installing into $VENV (2/2): the project and its dependencies (about 80 s on a fresh machine)"
  "$VENV/bin/python" -m pip install "${PIP_OUTPUT[@]}" -e "$ROOT[test,native]"
  rm -f "$VENV"/.installed-*
  touch "$STAMP"
  echo "Installed in $((SECONDS - INSTALL_STARTED)) s"
fi
# The project's own modules byte-compiled, as pip does for a package it installs (not for an
# editable one). Python then reads the .pyc files even where PYTHONDONTWRITEBYTECODE is set (as in
# many container images), which otherwise compiles every module's source again at each crawl's
# start: ~0.35 s CPU of each `scrapy crawl`. Only sources newer than their .pyc are compiled.
"$VENV/bin/python" -m compileall -q "$ROOT/crawler" "$ROOT/postprocess" "$ROOT/demosite" >/dev/null
# The extractors compiled with mypyc (crawler/extract/__init__.py says how they are loaded): only
# when their sources changed since the last build. Without a C compiler the sources run as they are.
"$VENV/bin/python" "$ROOT/scripts/build_native.py" || true
export PATH="$VENV/bin:$PATH"
cd "$ROOT"
