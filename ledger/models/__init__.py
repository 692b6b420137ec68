"""All tables of the ledger. Importing this package registers every table on ``SQLModel.metadata``."""

from ledger.models.alerts import Alert, DeliveryAttempt, DutyShift, Notification, Person  # noqa: F401
from ledger.models.clocks import Clock  # noqa: F401
from ledger.models.core import AuditLog, Evidence, Message, Post, PostVersion, Source
from ledger.models.events import Event  # noqa: F401

__all__ = ["AuditLog", "Evidence", "Message", "Post", "PostVersion", "Source"]
from ledger.models.cases import (  # noqa: F401
    Briefing,
    Case,
    CaseCounter,
    CasePost,
    Commitment,
    Referral,
    Release,
    ReleaseReview,
)
from ledger.models.policies import PolicyDoc, PolicyInterpretation  # noqa: F401
from ledger.models.schemes import MonitorScheme  # noqa: F401
from ledger.models.users import LoginThrottle, User  # noqa: F401
