"""Least privilege from the record: the RBAC a subject needs (from what it did) and the grants it holds but never used.

    from auditlake import Lake
    print(Lake("lake").rbac_suggest(user="alice", since="90d").yaml)
    Lake("lake").rbac_unused(since="90d").chosen()  # unused and unknown grants, sensitive ones first

Layout (imports point down): reader → {generator, grants} → model. `model`, `generator` and `grants` are pure (rows in,
rows out); `reader` runs the saved queries of queries/rbac/ on a connection it is given. Nothing here opens a lake
or a terminal: the `Lake` and the report packs call `reader`.
"""

from auditlake.rbac.generator import Observed, Suggestion, SuggestOptions, suggest, to_yaml
from auditlake.rbac.grants import Grant, ObjectState
from auditlake.rbac.model import Request, Rule, Subject, authorizes, describe, is_sensitive, subject_for
from auditlake.rbac.reader import SOURCES, UnusedGrants, read_suggestion, read_unused

__all__ = ["SOURCES", "Grant", "ObjectState", "Observed", "Request", "Rule", "Subject", "SuggestOptions", "Suggestion", "UnusedGrants", "authorizes",
           "describe", "is_sensitive", "read_suggestion", "read_unused", "subject_for", "suggest", "to_yaml"]
