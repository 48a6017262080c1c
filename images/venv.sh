#!/bin/sh
# images/venv.sh EXTRA [LEAVE_OUT...]: make /opt/venv with the project and its EXTRA (pyproject.toml), pinned by
# constraints.txt, without pip. Packages named in LEAVE_OUT are taken out of the resolved set: dependencies a
# library declares but the image never imports (CatBoost's notebook plotting in the service; the import
# contracts in pyproject.toml keep the service from importing them). Run in the build stage, from /src.
set -eu
extra=$1
shift
python3 -m venv --without-pip /opt/venv
pip="/opt/tools/bin/pip --python /opt/venv/bin/python"
if [ $# -eq 0 ]; then
  $pip install --quiet -c constraints.txt ".[$extra]"
else
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
  $pip install --quiet --no-deps .
  rm /tmp/resolved.json /tmp/pinned.txt
fi
/opt/venv/bin/python -m compileall -q /opt/venv/lib
find /opt/venv -depth -type d -name tests -path "*/site-packages/*/tests" -exec rm -rf {} +
