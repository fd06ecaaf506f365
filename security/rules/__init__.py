"""Rule files (one YAML per rule); loaded by `security.rulebook`."""
