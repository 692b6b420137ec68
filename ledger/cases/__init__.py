"""Cases (台账): the response ledger's workflow for one case of public opinion.

:mod:`ledger.cases.workflow` opens, grades, assigns, reports, moves and closes cases and keeps
their clocks in step; :mod:`ledger.cases.items` records what answers the case (releases through
三审 and publication, briefings, referrals, commitments and their follow-through);
:mod:`ledger.cases.policy` is the policy-as-data of ``cases.toml`` (grades, statuses, disposal
types and what each must publish); :mod:`ledger.cases.views` reads a case with its timeline for
the CLI and dashboard. Cases use clocks and alerts; neither uses cases.
"""

from ledger.cases.policy import CasePolicy
from ledger.cases.views import case_detail, list_cases
from ledger.cases.workflow import CaseEnv, CaseError, get_case, open_case

__all__ = ["CaseEnv", "CaseError", "CasePolicy", "case_detail", "get_case", "list_cases", "open_case"]
