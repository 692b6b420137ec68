"""Posts: getting collected text into the ledger and reading it back.

Every crawler and importer hands :class:`~ledger.posts.intake.RawPost` batches to
:func:`~ledger.posts.intake.store_posts` (normalise, assess, deduplicate, bulk insert through
:mod:`ledger.posts.bulk`), which links the new posts to duplicates and events
(:mod:`ledger.posts.events`). :mod:`ledger.posts.sources` keeps the source registry and its health,
:mod:`ledger.posts.event_views` and :mod:`ledger.posts.queries` read events and posts for the CLI
and dashboard. Depends only on the tables, the audit log and :mod:`analysis`.
"""

from ledger.posts.event_views import event_dict, event_posts, top_events
from ledger.posts.intake import IntakeResult, RawPost, store_posts
from ledger.posts.sources import SourceError, add_source, get_source, list_sources

__all__ = ["IntakeResult", "RawPost", "SourceError", "add_source", "event_dict", "event_posts", "get_source",
           "list_sources", "store_posts", "top_events"]
