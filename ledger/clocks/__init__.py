"""Clocks: every legal time limit the ledger runs, and the passing of time.

:mod:`ledger.clocks.calendar` knows China's working days (statutory holidays, 调休, supplements,
provisional fallback); :mod:`ledger.clocks.rules` turns the rules of ``clocks.toml`` into due and
warning times; :mod:`ledger.clocks.engine` and :mod:`ledger.clocks.service` keep the ``clock`` rows
of cases and policies (start, meet, pause, restart, extend, advance);
:mod:`ledger.clocks.replies` is the reply clock kept on each citizen's message; and
:mod:`ledger.clocks.tick` is one idempotent pass of time over all of them. Clocks know nothing
of cases, alerts or reports: those depend on clocks, never the other way round.
"""

from ledger.clocks.calendar import WorkCalendar, calendar_from_config
from ledger.clocks.rules import ClockRule, compute, load_rules, rules_for
from ledger.clocks.tick import TickReport, run_tick

__all__ = ["ClockRule", "TickReport", "WorkCalendar", "calendar_from_config", "compute", "load_rules", "rules_for",
           "run_tick"]
