#!/bin/sh
# images/venv.sh deps EXTRA [LEAVE_OUT...]: make /opt/venv, without pip, with the dependencies of the project's
#   EXTRA (pyproject.toml) pinned by constraints.txt. Needs only pyproject.toml and constraints.txt, so the layer
#   stays cached while only the code changes. Packages named in LEAVE_OUT are taken out of the resolved set:
#   dependencies a library declares but the image never imports (CatBoost's notebook plotting in the service;
#   the import contracts in pyproject.toml keep the service from importing them).
# images/venv.sh project: add the project itself (no dependencies), compile, drop the packages' tests.
# Run in the build stage, from /src.
set -eu
pip="/opt/tools/bin/pip --python /opt/venv/bin/python"
case $1 in
deps)
  extra=$2
  shift 2
  python3 -m venv --without-pip /opt/venv
  $pip install --quiet --dry-run --ignore-installed --report /tmp/resolved.json -c constraints.txt ".[$extra]"
  /opt/tools/bin/python3 - "$@" >/tmp/pinned.txt <<'PY'
import json
import sys

leave_out = {name.lower() for name in sys.argv[1:]}
for item in json.load(open("/tmp/resolved.json"))["install"]:
    name, version = item["metadata"]["name"], item["metadata"]["version"]
    if name.lower() not in leave_out | {"riskops"}:
        print(f"{name}=={version}")
PY
  $pip install --quiet --no-deps -r /tmp/pinned.txt
  rm -rf /tmp/resolved.json /tmp/pinned.txt build ./*.egg-info
  /opt/venv/bin/python -m compileall -q /opt/venv/lib
  find /opt/venv -depth -type d -name tests -path "*/site-packages/*/tests" -exec rm -rf {} +
  ;;
project)
  $pip install --quiet --no-deps .
  rm -rf build ./*.egg-info
  /opt/venv/bin/python -m compileall -q /opt/venv/lib/python3*/site-packages/riskops* \
    /opt/venv/lib/python3*/site-packages/components /opt/venv/lib/python3*/site-packages/pipelines \
    /opt/venv/lib/python3*/site-packages/serving /opt/venv/lib/python3*/site-packages/console \
    /opt/venv/lib/python3*/site-packages/monitoring
  ;;
*)
  echo "usage: images/venv.sh deps EXTRA [LEAVE_OUT...] | images/venv.sh project" >&2
  exit 2
  ;;
esac
