#!/usr/bin/env bash
# Cloud area: the real Keystone, Neutron and Cinder API the cloud tests run
# against (tests/cloud/testcloud.py), with gunicorn to serve them and the
# `openstack` CLI the bench compares with. They go into their own
# virtualenv, cached outside the repo: their pinned dependencies would
# conflict with the project's .venv, and the install takes minutes once,
# seconds after.
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then
    if [ "${CI:-}" = true ]; then
        # CI runs every real-component test: a tool it cannot install is a failure.
        echo "70-cloud.sh: not root, and under CI=true nothing may be skipped" >&2
        exit 1
    fi
    echo "not root: skipping the test cloud's setup (the cloud tests will fail)" >&2
    exit 0
fi
venv=${YUNWANG_OPENSTACK_VENV:-/var/cache/yunwang/openstack-venv}
# One release (2026.1) of each service; the stamp names the set, so a venv
# made by an older version of this script gets what it lacks.
packages=('keystone==30.0.0' 'neutron==29.0.0' 'cinder==29.0.0' 'gunicorn' 'python-openstackclient')
stamp="$venv/.yunwang-installed-3"
if [ -e "$stamp" ]; then
    echo "openstack venv ready in $venv"
    exit 0
fi
mkdir -p "$(dirname "$venv")"
[ -x "$venv/bin/pip" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q --upgrade pip
"$venv/bin/pip" install -q "${packages[@]}"
for tool in keystone-manage neutron-db-manage cinder-manage gunicorn openstack; do
    if [ ! -x "$venv/bin/$tool" ]; then
        echo "70-cloud.sh: $tool missing from $venv after install" >&2
        exit 1
    fi
done
touch "$stamp"
echo "openstack venv ready in $venv"
