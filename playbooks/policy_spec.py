"""The mlps role's policy options: type, default, meaning (one place).

`generate.py` writes them into the role's defaults and argument specs;
`inventory.py` fills them from the estate for each host.
"""

from __future__ import annotations

from typing import Any

BANNER = "本系统仅限授权用户使用，所有操作均被审计。Authorised use only: all activity is audited."

POLICY_OPTIONS: dict[str, dict[str, Any]] = {
    "mlps_mode": {
        "type": "str",
        "choices": ["check", "fix"],
        "default": "check",
        "description": "check only reads; fix applies every selected control, then checks.",
    },
    "mlps_level": {
        "type": "int",
        "choices": [2, 3],
        "default": 3,
        "description": "The MLPS level of the host's system (from the estate): picks the controls.",
    },
    "mlps_kernel_shared": {
        "type": "bool",
        "default": False,
        "description": "The host shares its kernel with the machine below (a container, a lab "
        "host): kernel audit and the clock are that machine's, never touched from here.",
    },
    "mlps_password_max_days": {"type": "int", "default": 90, "description": "PASS_MAX_DAYS."},
    "mlps_password_min_days": {"type": "int", "default": 1, "description": "PASS_MIN_DAYS."},
    "mlps_password_warn_age": {"type": "int", "default": 7, "description": "PASS_WARN_AGE."},
    "mlps_password_min_length": {"type": "int", "default": 12, "description": "pwquality minlen."},
    "mlps_password_min_classes": {
        "type": "int",
        "default": 3,
        "description": "pwquality minclass.",
    },
    "mlps_password_remember": {
        "type": "int",
        "default": 5,
        "description": "Old passwords pam_pwhistory refuses.",
    },
    "mlps_lockout_deny": {
        "type": "int",
        "default": 5,
        "description": "Failed logins before faillock locks the account.",
    },
    "mlps_lockout_unlock_time": {
        "type": "int",
        "default": 900,
        "description": "Seconds a locked account stays locked.",
    },
    "mlps_session_timeout": {
        "type": "int",
        "default": 600,
        "description": "Idle shell timeout (TMOUT), seconds.",
    },
    "mlps_admins": {
        "type": "dict",
        "default": {"system": ["sysadmin"], "security": ["secadmin"], "audit": ["auditadmin"]},
        "description": "三员分立: the system, security and audit administrators' account names.",
    },
    "mlps_admin_keys": {
        "type": "dict",
        "default": {},
        "description": "Administrator name to ssh public key (public keys only; no secrets).",
    },
    "mlps_log_collector": {
        "type": "dict",
        "default": {"host": "", "port": 514, "protocol": "udp"},
        "description": "The central log collector in the management zone.",
    },
    "mlps_log_retention_weeks": {
        "type": "int",
        "default": 26,
        "description": "Weeks of logs kept locally (26 = six months; rotated daily, 7 rotations a week).",
    },
    "mlps_ntp_servers": {
        "type": "list",
        "elements": "str",
        "default": [],
        "description": "The estate's NTP servers.",
    },
    "mlps_firewall_allow": {
        "type": "list",
        "elements": "dict",
        "default": [],
        "description": "Inbound allows from the isolation matrix: sources, proto, ports, reason.",
    },
    "mlps_controller_address": {
        "type": "str",
        "default": "",
        "description": "Where Ansible connects from (always allowed ssh); found from the ssh "
        "connection when empty.",
    },
    "mlps_ipv6_router": {
        "type": "str",
        "default": "",
        "description": "The declared router's link-local address: the only RA source accepted. "
        "Empty: the host's addresses are planned, it takes no RA at all.",
    },
    "mlps_zone": {"type": "str", "default": "", "description": "The host's zone (for comments)."},
    "mlps_security_mirror": {
        "type": "str",
        "default": "http://security.debian.org/debian-security",
        "description": "The security update source (the city's own mirror of it).",
    },
    "mlps_banner": {"type": "str", "default": BANNER, "description": "Legal notice before login."},
    "mlps_backup_dir": {
        "type": "str",
        "default": "/var/backups/yunwang",
        "description": "Where the daily /etc archive goes.",
    },
    "mlps_backup_keep_days": {
        "type": "int",
        "default": 30,
        "description": "Days of /etc archives kept on the host.",
    },
    "mlps_daemons": {
        "type": "dict",
        "default": {
            "rsyslog": {"unit": "rsyslog", "process": "rsyslogd", "start": "rsyslogd"},
            "chrony": {
                "unit": "chrony",
                "process": "chronyd",
                "start": ". /etc/default/chrony && chronyd $DAEMON_OPTS",
            },
            "auditd": {"unit": "auditd", "process": "auditd", "start": "auditd"},
        },
        "description": "How to start each daemon where systemd is not PID 1.",
    },
}
