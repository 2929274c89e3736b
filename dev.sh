#!/usr/bin/env bash
# Set up a virtual environment from this repository's own files and run something in it.
#   ./dev.sh demo   the core + the SQLite plugin, then `taskshed demo` on the embedded SQLite file
#   ./dev.sh test   everything (both plugins, all drivers, test tools), then lint, types and tests
#   ./dev.sh setup  just the full environment
set -euo pipefail
cd "$(dirname "$0")"

VENV=${TASKSHED_VENV:-.venv}

find_python() {
    for candidate in "${PYTHON:-}" python3 python3.13 python3.12 python3.11; do
        [ -n "$candidate" ] || continue
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            echo "$candidate"
            return
        fi
    done
    echo "dev.sh: taskshed needs Python 3.11 or newer (set PYTHON=/path/to/python3.11)" >&2
    exit 1
}

make_venv() {
    if [ ! -x "$VENV/bin/python" ]; then
        "$(find_python)" -m venv "$VENV"
    fi
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
}

pip_install() {
    "$VENV/bin/python" -m pip install --quiet "$@"
}

setup_demo() {
    make_venv
    pip_install -e . -e "plugins/taskshed-sqlalchemy[sqlite]"
}

setup_all() {
    make_venv
    pip_install -e . \
        -e "plugins/taskshed-sqlalchemy[mysql,sqlite,postgresql]" \
        -e plugins/taskshed-redis \
        -e tests/example_plugin \
        -r requirements-dev.txt
}

case "${1:-}" in
    demo)
        setup_demo
        shift
        exec "$VENV/bin/taskshed" demo "$@"
        ;;
    test)
        setup_all
        shift
        "$VENV/bin/ruff" check .
        "$VENV/bin/ruff" format --check .
        "$VENV/bin/mypy"
        exec "$VENV/bin/python" -m pytest "$@"
        ;;
    setup)
        setup_all
        ;;
    *)
        echo "usage: ./dev.sh demo | test [pytest args] | setup" >&2
        exit 2
        ;;
esac
