#!/usr/bin/env bash
# Mutation testing of one module against the tests that cover it (cosmic-ray).
#
#   scripts/mutation.sh MODULE [SAMPLE] [FIRST-LAST]
#
# MODULE: auth, store, config, adc, schedule, detector (or its path).
# SAMPLE: how many mutants to run, a seeded random sample (default 60; 0 = all).
# FIRST-LAST: only mutants on those lines (the detector's rules, say).
# SEED (environment, default 1) picks the sample.  Needs the dev extra:
# pip install -e '.[test,mutation]'.  Not part of CI: a few minutes a module.
#
# The source is copied to a temporary directory and mutated there, so the
# work tree is never touched; the score leaves out the mutants docs/mutation.md
# lists as equivalent (with why), and the script exits 1 under the floor.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
py="${PYTHON:-$repo/.venv/bin/python}"
module="${1:?usage: scripts/mutation.sh MODULE [SAMPLE] [FIRST-LAST]}"
sample="${2:-60}"
lines="${3:-}"
floor=90
case "$module" in  # the short names
  auth) module=web/auth.py ;;
  store|config|adc|schedule|detector) module="firmware_host/$module.py" ;;
esac
case "$module" in  # each module's own tests; a module split into a package keeps them
  web/auth.py) tests="tests/test_auth.py tests/test_access.py" ;;
  firmware_host/store.py|firmware_host/store/*.py) tests="tests/test_store.py tests/test_store_web.py" ;;
  firmware_host/config.py|firmware_host/config/*.py) tests="tests/test_config.py tests/test_schedule.py" ;;
  firmware_host/adc.py|firmware_host/adc/*.py) tests="tests/test_adc.py" ;;
  firmware_host/schedule.py) tests="tests/test_schedule.py" ;;
  firmware_host/detector.py|firmware_host/detector/*.py) floor=80
    tests="tests/test_detector.py tests/test_detector_physics.py tests/test_fixtures.py" ;;
  *) echo "scripts/mutation.sh: no tests known for $module (auth, store, config, adc, schedule, detector)" >&2
     exit 2 ;;
esac
path="$module"
if [ ! -f "$repo/$path" ]; then
  pkg="${path%.py}"
  if [ -d "$repo/$pkg" ]; then
    echo "scripts/mutation.sh: $path is now the package $pkg/: give one of its files, e.g. $(ls "$repo/$pkg"/*.py | head -1 | sed "s|$repo/||")" >&2
  else
    echo "scripts/mutation.sh: $path is not there" >&2
  fi
  exit 2
fi
"$py" -c "import cosmic_ray" 2>/dev/null || {
  echo "scripts/mutation.sh: cosmic-ray is not installed: $py -m pip install -e '.[test,mutation]'" >&2; exit 2; }

work="$(mktemp -d "${TMPDIR:-/tmp}/twitchmon-mutation.XXXXXX")"
trap 'rm -rf "$work"' EXIT
# the tracked and new files as they are in the work tree, and ../shared beside them as in CI
(cd "$repo" && git ls-files -z -co --exclude-standard) | (cd "$repo" && tar --null -T - -cf -) | (mkdir "$work/repo" && tar -C "$work/repo" -xf -)
[ -e "$repo/../shared" ] && ln -s "$(cd "$repo/../shared" && pwd)" "$work/shared"
cd "$work/repo"
cat > "$work/cr.toml" <<EOF
[cosmic-ray]
module-path = "$path"
timeout = ${MUTANT_TIMEOUT_S:-180}
excluded-modules = []
test-command = "$py -m pytest -x -q -p no:cacheprovider $tests"
[cosmic-ray.distributor]
name = "local"
EOF
# the copy, not the editable install, is what the tests and their subprocesses import
export PYTHONPATH="$work/repo"
"$py" -m pytest -x -q -p no:cacheprovider $tests >/dev/null || {
  echo "scripts/mutation.sh: the tests fail before any mutation: fix them first" >&2; exit 1; }
"$py" -m cosmic_ray.cli init "$work/cr.toml" "$work/session.sqlite"
n="$sample"; [ "$n" = 0 ] && n=1000000
"$py" "$repo/scripts/mutation_tool.py" sample "$work/session.sqlite" "$n" "${SEED:-1}" $lines
echo "mutation: $path against $tests"
"$py" -m cosmic_ray.cli exec "$work/cr.toml" "$work/session.sqlite"
"$py" "$repo/scripts/mutation_tool.py" report "$work/session.sqlite" "$path" "$repo/docs/mutation.md" "$floor"
