#!/usr/bin/env bash
# The main job, end to end on the local stack (Azurite → SeaweedFS, sshd, SoftHSM2):
# seed a synthetic export, validate, probe, run, re-run (nothing moves), verify again,
# check the signed manifest, decrypt a sample and compare it byte for byte.
# `make rehearse` installs and starts everything first; run it from the repository root.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
HDH="$BIN/hdh-migrate"
PLAN=plans/rehearsal.yaml
STATE=.hdh-migrate/hdh-rehearsal
OBJECTS=${HDH_REHEARSAL_OBJECTS:-120}

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

eval "$("$BIN/python" -m devstack env)"

step "fresh rehearsal: state directory, source container and target bucket"
rm -rf "$STATE"
"$BIN/python" examples/corpus.py azure --container rehearsal --objects "$OBJECTS" --fresh
"$BIN/python" examples/target_bucket.py "$PLAN" seaweedfs --fresh

step "validate the plan"
"$HDH" validate "$PLAN"

step "probe the target"
"$HDH" probe "$PLAN"

step "run: inventory → copy (hash, encrypt, upload) → verify, signed manifest"
"$HDH" run "$PLAN"

step "run again: a finished plan moves nothing"
"$HDH" run "$PLAN" --json > "$STATE/rerun.json"
"$BIN/python" examples/check_rerun.py "$STATE/rerun.json"

step "verify again at the target (full read-back)"
"$HDH" verify "$PLAN" --mode full

step "check the signed manifest"
"$HDH" manifest verify "$STATE/manifest.jsonl"

step "status"
"$HDH" status "$PLAN"

echo
echo "rehearsal complete: every object copied, encrypted, verified and signed."
