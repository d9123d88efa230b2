# Shared by bin/serve and bin/test: make sure .venv exists and holds this checkout's dependencies.
# Needs only Python 3.11+ with pip; re-installs when pyproject.toml changes.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-python3}"
VENV="$ROOT/.venv"
EXTRAS="${1:-}"

"$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Hubbub needs Python 3.11 or newer")'
if [ ! -x "$VENV/bin/python" ]; then
  if ! "$PY" -m venv "$VENV" 2>/dev/null; then
    # Some distributions ship Python without ensurepip; virtualenv from PyPI does the same job.
    rm -rf "$VENV"
    "$PY" -m pip install --quiet --user virtualenv
    "$PY" -m virtualenv --quiet "$VENV"
  fi
fi
STAMP_BASE="$VENV/.stamp-$(sha256sum < "$ROOT/pyproject.toml" | cut -c1-16)"
STAMP="$STAMP_BASE${EXTRAS:+-$EXTRAS}"
# An install with the test extras also satisfies a plain one.
if [ ! -f "$STAMP" ] && ! { [ -z "$EXTRAS" ] && [ -f "$STAMP_BASE-test" ]; }; then
  echo "Installing Hubbub into $VENV ..." >&2
  "$VENV/bin/python" -m pip install --quiet --upgrade pip >&2
  "$VENV/bin/python" -m pip install --quiet -e "$ROOT${EXTRAS:+[$EXTRAS]}" >&2
  touch "$STAMP"
fi
