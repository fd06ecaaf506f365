"""The DR centre (容灾备份中心): replication and backup set up by Ansible,
drills that measure the RPO and RTO achieved, and checks that feed posture.

- `pair`: a system's primary and DR standby (PostgreSQL streaming replication).
- `failover`: the failover drill (cut, promote, repoint the writer, rebuild).
- `backup`: the restic line (backup, restore drill, corruption found).
- `record`: one drill's record and its `yunwang.dr` events.
- `checks`: replication lag, backup age, drill age against the class (YW-DR-001).
"""
