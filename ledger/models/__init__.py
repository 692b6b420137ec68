"""All tables of the ledger. Importing this package registers every table on ``SQLModel.metadata``."""

from ledger.models.core import AuditLog, Evidence, Message, Post, PostVersion, Source

__all__ = ["AuditLog", "Evidence", "Message", "Post", "PostVersion", "Source"]
