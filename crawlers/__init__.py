"""Getting posts in: feeds (feedparser), Scrapy spiders for HTML and JSON sources, file importers.

Every collector emits :class:`ledger.intake.RawPost` items to one sink, :func:`ledger.intake.store_posts`.
"""
