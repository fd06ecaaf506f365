"""`pulumi preview --policy-pack infra/policy` (config: `estate`, the estate file)."""

from pulumi_policy import PolicyPack

from infra.policy.adapter import policies

PolicyPack(name="yunwang-invariants", policies=policies())
