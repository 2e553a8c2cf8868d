#!/usr/bin/env bash
# The main job, end to end on the local stack (Azurite → SeaweedFS, sshd, SoftHSM2):
# seed a synthetic export, validate, probe, run, re-run (nothing moves), verify again,
# check the signed manifest, decrypt a sample and compare it byte for byte.
# An example of the same lifecycle step by step with the individual commands; `make rehearse`
# runs `hdh-migrate rehearse plans/rehearsal.yaml`, which does all of this (docs/rehearse.md).
# Start the stack first (`make services-up`); run it from the repository root.
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
rm -rf "$STATE" "$STATE-restored" "$STATE-audit.html"
"$BIN/python" examples/corpus.py azure --container rehearsal --objects "$OBJECTS" --fresh
"$BIN/python" examples/target_bucket.py "$PLAN" seaweedfs --fresh

step "validate the plan"
"$HDH" validate "$PLAN"

step "audit (dry run): sovereignty findings, inventory, diff, estimates — writes nothing"
"$HDH" audit "$PLAN" --format html --out "$STATE-audit.html"
"$HDH" audit "$PLAN"

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
"$HDH" manifest verify "$STATE/manifest.jsonl" --trust-adjacent-key

step "restore a sample, decrypt it, compare it byte for byte with the source"
rm -rf "$STATE-restored"
"$HDH" restore "$PLAN" --dataset rehearsal-referentiels --to "$STATE-restored"
"$BIN/python" examples/compare_restore.py "$STATE-restored" --prefix referentiels/

step "status"
"$HDH" status "$PLAN"

# -- cutover and rollback of the rehearsal wave (issue 7) -------------------------------------
WAVE=wave-1-rehearsal
READERS="$(getent passwd "$HDH_SFTP_USER" | cut -d: -f6)/hdh-readers-endpoint.txt"  # the plan's hooks write it
source_write() {  # $1 = refused | accepted: rewrite one source blob with its own bytes
  "$BIN/python" - "$1" <<'PY'
import os, sys
from hdh_migrate.backends.registry import open_backend
from hdh_migrate.stages.freeze import probe_leased
source = open_backend("azure_blob", {"container": "rehearsal",
                      "connection_string": os.environ["AZURE_STORAGE_CONNECTION_STRING"]})
key = next(info.key for info in source.list("referentiels/"))
probe = probe_leased(source, key)
answer = "refused" if probe.refused else "accepted"
print(f"source write to {key}: {answer} ({probe.detail})")
sys.exit(0 if answer == sys.argv[1] else 1)
PY
}

step "cutover: freeze (blob leases) → delta → final pass → gates → switch hook over SSH"
rm -f "$READERS"
"$HDH" cutover "$PLAN" --wave "$WAVE" --approve alice
grep -q " hdh-rehearsal$" "$READERS"
echo "readers now point to: $(cat "$READERS")"
source_write refused

step "rollback: readers back to the source, leases released, source writable again"
"$HDH" rollback "$PLAN" --wave "$WAVE"
grep -qx "azure" "$READERS"
echo "readers now point to: $(cat "$READERS")"
source_write accepted
"$HDH" manifest verify "$STATE/manifest.jsonl" --trust-adjacent-key
"$HDH" status "$PLAN"

echo
echo "rehearsal complete: every object copied, encrypted, verified and signed."
