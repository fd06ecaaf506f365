"""Ansible content and the Python that runs it.

`roles/mlps/` hardens Debian hosts to MLPS 2.0 (GB/T 22239-2019); its task
files are generated from one YAML file per control (`controls.py`,
`generate.py`). `runner.py` runs any playbook through ansible-runner and
streams its events; `hardening.py` turns a hardening run into ECS events.
"""
