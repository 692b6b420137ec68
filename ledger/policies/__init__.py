"""Policy interpretation (政策解读): the register of published policy documents, the
interpretation materials released for them, and the interpretation clock of each document
(subject ``policy`` in ``clocks.toml``: 3 working days after publication by default).

Seeds 000 §14, 001 (三)4 and 004 (九): 政策文件与解读材料同步起草、同步审签、同步发布; a document
submitted without its interpretation is returned (退文). Uses :mod:`ledger.clocks` for the clock
and :mod:`ledger.alerts` for the alert when a document is registered already overdue.
"""

from ledger.policies.register import (
    PolicyEnv,
    PolicyError,
    add_policy,
    interpret_policy,
    list_policies,
    policy_detail,
    return_policy,
)

__all__ = ["PolicyEnv", "PolicyError", "add_policy", "interpret_policy", "list_policies", "policy_detail",
           "return_policy"]
