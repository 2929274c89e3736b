#!/usr/bin/env bash
# Set up a virtual environment from this repository's own files and run something in it.
#   ./dev.sh demo   the core + the SQLite plugin, then `taskshed demo` on the embedded SQLite file
#   ./dev.sh test   everything (both plugins, all drivers, test tools), then lint, types and tests
#   ./dev.sh setup  just the full environment
#   ./dev.sh uv     the uv route on a copy of this checkout: uv sync --all-packages, then
#                   uv run pytest -q tests/core (uv itself is installed with pip)
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

# The dashboard's browser tests drive Debian's Chromium through its chromedriver.
ensure_chromium() {
    if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
        return 0
    fi
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "dev.sh: installing chromium and chromium-driver for the browser tests" >&2
        if (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            chromium chromium-driver) >/dev/null; then
            return 0
        fi
    fi
    # Locally the browser tests then skip; in CI (TASKSHED_REQUIRE_SERVICES=1) they fail.
    echo "dev.sh: chromium/chromium-driver missing (apt-get install chromium chromium-driver)" >&2
}

setup_all() {
    make_venv
    # The tools come from the `tools` dependency group of pyproject.toml (pip >= 25.1).
    pip_install -e . \
        -e "plugins/taskshed-sqlalchemy[mysql,sqlite,postgresql]" \
        -e plugins/taskshed-redis \
        -e plugins/taskshed-prometheus \
        -e plugins/taskshed-dashboard \
        -e tests/example_plugin \
        --group tools
    ensure_chromium
}

# The files a fresh clone would have: tracked and new ones, as they are now (none ignored).
checkout_files() {
    git ls-files -z --cached --others --exclude-standard |
        while IFS= read -r -d '' file; do
            [ -e "$file" ] && printf '%s\0' "$file"
        done
}

check_uv() {
    make_venv
    pip_install uv
    local uv python
    uv="$(cd "$VENV" && pwd)/bin/uv"
    python="$(command -v "$(find_python)")"
    UV_COPY="$(mktemp -d)"
    trap 'rm -rf "$UV_COPY"' EXIT
    checkout_files | tar --null -T - -cf - | tar -xf - -C "$UV_COPY"
    (
        cd "$UV_COPY"
        unset VIRTUAL_ENV
        export UV_PYTHON_DOWNLOADS=never
        "$uv" sync --all-packages --python "$python" --quiet
        "$uv" run --no-sync pytest -q -p no:cacheprovider "$@" tests/core
    )
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
        # Four pytest-xdist workers (most tests wait on servers and timers, not on a core);
        # the CPU-bound ones run one at a time (tests/conftest.py, docs/development.md).
        exec "$VENV/bin/python" -m pytest -n "${TASKSHED_TEST_WORKERS:-4}" --dist loadgroup "$@"
        ;;
    setup)
        setup_all
        ;;
    uv)
        shift
        check_uv "$@"
        ;;
    *)
        echo "usage: ./dev.sh demo | test [pytest args] | setup | uv [pytest args]" >&2
        exit 2
        ;;
esac
