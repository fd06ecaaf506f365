"""The invariants as a Pulumi PolicyPack, for users who run the real engine."""
