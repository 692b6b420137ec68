"""Getting posts in: feeds (feedparser), Scrapy spiders for HTML and JSON sources, file importers.

Every collector emits :class:`ledger.posts.intake.RawPost` items to one sink, :func:`ledger.posts.intake.store_posts`.
"""
