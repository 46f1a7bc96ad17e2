#!/usr/bin/env bash
# What ships, checked from the lock: the Dockerfile (hadolint), docker-compose.yml (validated
# without an engine), the image's software bill of materials (CycloneDX, from
# deploy/requirements/runtime.txt) and known vulnerabilities (pip-audit over the same file).
# Run by .ci/run after the venv is synced; sourced, expects `step`, `die` and .venv.
#
# HERALD_ARTIFACTS (default test-artifacts/) receives sbom/herald-image.cdx.json and
# sbom/pip-audit.json: the CI artifacts.

artifacts="${HERALD_ARTIFACTS:-test-artifacts}/sbom"
mkdir -p "$artifacts"

step "hadolint deploy/Dockerfile"
.venv/bin/hadolint deploy/Dockerfile || die "hadolint found problems in deploy/Dockerfile"
echo "deploy/Dockerfile: hadolint clean"

step "docker-compose config -q (docker-compose.yml, no engine needed)"
if ! command -v docker-compose >/dev/null 2>&1; then
    apt-get update -qq </dev/null
    apt-get install -y -qq --no-install-recommends docker-compose </dev/null >/dev/null \
        || die "docker-compose could not be installed (apt-get install docker-compose)"
fi
docker-compose -f docker-compose.yml config -q || die "docker-compose.yml does not validate"
echo "docker-compose.yml: valid"

step "SBOM of the services' image: $artifacts/herald-image.cdx.json (CycloneDX, from the lock)"
.venv/bin/cyclonedx-py requirements deploy/requirements/runtime.txt \
    --output-reproducible --of JSON -o "$artifacts/herald-image.cdx.json" \
    || die "cyclonedx-py could not make the SBOM"
.venv/bin/python - "$artifacts/herald-image.cdx.json" <<'PY'
import json
import sys

bom = json.load(open(sys.argv[1]))
components = bom.get("components", [])
pinned = [
    c for c in components
    if c.get("version") and any(r.get("hashes") for r in c.get("externalReferences", []))
]
print(f"{len(components)} components, {len(pinned)} with a version and hashes")
if not components or len(pinned) != len(components):
    sys.exit("the SBOM should list every locked package with its version and hashes")
PY

# pip-audit asks PyPI's JSON API for each pinned version's known vulnerabilities. Where that
# API cannot be reached (this workplace's registry serves packages only), every package comes
# back "could not be audited": the run says so and goes on. A vulnerability found fails it.
step "pip-audit -r deploy/requirements/runtime.txt (known vulnerabilities in the lock)"
audit_rc=0
.venv/bin/pip-audit --disable-pip --require-hashes --progress-spinner off \
    -r deploy/requirements/runtime.txt -f json -o "$artifacts/pip-audit.json" || audit_rc=$?
.venv/bin/python - "$artifacts/pip-audit.json" "$audit_rc" <<'PY'
import json
import sys

report = json.load(open(sys.argv[1]))["dependencies"]
skipped = [d for d in report if "skip_reason" in d]
vulnerable = [d for d in report if d.get("vulns")]
for dep in vulnerable:
    for vuln in dep["vulns"]:
        print(f"VULNERABLE {dep['name']} {dep['version']}: {vuln['id']} (fixed in {vuln.get('fix_versions')})")
if vulnerable:
    sys.exit(f"{len(vulnerable)} locked packages have known vulnerabilities: bash deploy/lock.sh --upgrade-package NAME")
if sys.argv[2] != "0" and not skipped:
    sys.exit(f"pip-audit failed (exit {sys.argv[2]})")
if len(skipped) == len(report):
    print(f"NOT AUDITED: PyPI's vulnerability data could not be reached from this machine "
          f"({len(report)} packages skipped: {skipped[0]['skip_reason']})")
else:
    print(f"{len(report) - len(skipped)} packages audited, no known vulnerability; "
          f"{len(skipped)} could not be audited")
PY
