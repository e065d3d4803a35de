#!/usr/bin/env bash
# Mutation testing of one module against the tests that cover it (cosmic-ray).
#
#   scripts/mutation.sh MODULE [SAMPLE] [FIRST-LAST]
#
# MODULE: auth, attempts, config, schedule, window, rules or regions (the detector's), or a
# file's path; store, adc and detector are packages (issue 16): give one of
# their files, e.g. firmware_host/store/db.py, firmware_host/adc/transports.py.
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
case "$module" in  # the short names; store, adc and detector are packages since issue 16: name a file
  auth|attempts) module="web/$module.py" ;;
  config|schedule|window|scoring) module="firmware_host/$module.py" ;;
  rules|regions) module="firmware_host/detector/$module.py" ;;
esac
case "$module" in  # each module's own tests
  web/auth.py|web/attempts.py) tests="tests/test_auth.py tests/test_access.py" ;;
  firmware_host/store/*.py) tests="tests/test_store.py tests/test_store_typed.py tests/test_store_web.py" ;;
  firmware_host/config.py) tests="tests/test_config.py tests/test_schedule.py" ;;
  firmware_host/adc/*.py) tests="tests/test_adc.py tests/test_adc_transports.py" ;;
  firmware_host/daemon/guarded.py) tests="tests/test_daemon_detector_fault.py" ;;
  firmware_host/scoring.py) tests="tests/test_scoring.py tests/test_fixtures.py" ;;
  firmware_host/schedule.py|firmware_host/window.py) tests="tests/test_schedule.py" ;;
  firmware_host/detector/rules.py|firmware_host/detector/regions.py) floor=80
    tests="tests/test_detector_rules.py tests/test_detector_physics.py tests/test_detector_edges.py" ;;
  firmware_host/detector/front.py) floor=80  # and the glitch repair checked to the bit
    tests="tests/test_detector.py tests/test_detector_rules.py tests/test_detector_physics.py tests/test_detector_edges.py tests/test_fixtures.py tests/test_detector_exact.py" ;;
  firmware_host/simulator/night.py) floor=80  # the family's nights as the golden events and the benches see them
    tests="tests/test_simulator_heart_waves.py tests/test_simulator_family.py tests/test_events_identical.py" ;;
  firmware_host/detector/beatfit.py) floor=80  # the pulse's later wave, and the beats' fit the golden nights check
    tests="tests/test_detector_heart_waves.py tests/test_detector_physics.py" ;;
  firmware_host/detector/*.py) floor=80
    tests="tests/test_detector.py tests/test_detector_rules.py tests/test_detector_physics.py tests/test_detector_edges.py tests/test_fixtures.py" ;;
  store|adc|detector|firmware_host/store.py|firmware_host/adc.py|firmware_host/detector.py)
    pkg="firmware_host/${module#firmware_host/}"; pkg="${pkg%.py}"
    eg=$(case "$pkg" in *store) echo db.py ;; *adc) echo transports.py ;; *) echo rules.py ;; esac)
    echo "scripts/mutation.sh: $pkg is a package: give one of its files, e.g. $pkg/$eg" >&2
    exit 2 ;;
  *) echo "scripts/mutation.sh: no tests known for $module (auth, attempts, config, schedule, window, scoring, rules, regions, firmware_host/daemon/guarded.py, or a file of firmware_host/store/, adc/, detector/)" >&2
     exit 2 ;;
esac
path="$module"
if [ ! -f "$repo/$path" ]; then
  echo "scripts/mutation.sh: $path is not there" >&2
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
