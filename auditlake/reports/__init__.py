"""Compliance reports: packs (YAML → typed checks), build (connection + manifest + library → Report), reviews.

Owns nothing itself; its modules never import the `Lake` (the lake calls them) nor the CLI.

    from auditlake.reports import packs
    pack = packs.load("pci-dss")
    [section.control for section in pack.sections]
"""
