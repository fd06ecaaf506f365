"""Posture, early warnings, event stores and the audit trail."""
