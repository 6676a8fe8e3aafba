"""The kube-apiserver audit Policy: load it with line numbers, evaluate it exactly, lint it, and say what saved queries need.

    from auditlake import policy
    the_policy = policy.load_policy("/etc/kubernetes/audit-policy.yaml")
    policy.evaluate(the_policy, policy.request_for("alice", ["dev"], "get", resource="secrets", namespace="default")).level

Layout (imports point down): needs → lint → evaluate → model; apiserver → model. Nothing here opens a
lake, a DuckDB connection or a terminal, so `import auditlake.policy` costs only PyYAML.
"""

from auditlake.policy.apiserver import check_apiserver
from auditlake.policy.evaluate import Decision, Request, describe_decision, evaluate, request_for
from auditlake.policy.lint import lint
from auditlake.policy.model import LEVELS, Finding, GroupResources, Policy, PolicyError, Rule, level_at_least, load_policy
from auditlake.policy.needs import Loss, PolicySimulation, describe_loss, explain_events, losses, recommend, simulate, uses_resource_names

__all__ = ["LEVELS", "Decision", "Finding", "GroupResources", "Loss", "Policy", "PolicyError", "PolicySimulation", "Request", "Rule",
           "check_apiserver", "describe_decision", "describe_loss", "evaluate", "explain_events", "level_at_least", "lint", "load_policy",
           "losses", "recommend", "request_for", "simulate", "uses_resource_names"]
