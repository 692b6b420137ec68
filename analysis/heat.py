"""Heat and trend of an event, and every tunable number of the event clusterer (``EventParams``).

Heat (热度) at an instant ``now``::

    base = posts + engagement_weight * sqrt(likes + dislike_weight * dislikes + repost_weight * reposts)
    heat = base / (1 + age_hours / decay_hours) ** decay_power      (age: now - last_seen)

Size counts linearly and engagement with a square root (one post with 2,000 likes must not
outweigh fifty people writing about the same problem). The hyperbolic decay keeps heat
comparable across old data (events years old are ranked by ``base``) while an event seen in
the last hours outranks a larger one that went quiet days ago.

Trend compares the posts of the last hour with the hourly mean of the previous 12 hours.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass
class EventParams:
    """Every number of the clusterer and of the heat/trend formulas, with its default."""

    threshold: float = 0.30  # cosine similarity to join an event
    post_terms: int = 40  # strongest terms kept per post vector
    query_terms: int = 6  # terms used to look up candidate events
    rescore: int = 3  # best pre-scored candidates compared exactly
    anchor_threshold: float = 0.12  # cosine enough when a dominant anchor term is shared
    anchor_share: float = 0.4  # anchor weight relative to the event's strongest term
    merge_threshold: float = 0.5  # centroid cosine at which two events are merged
    merge_min_posts: int = 2  # only events with at least this many posts are merged
    tag_link_min_posts: int = 5  # events linked by a shared hashtag word need this many posts
    tag_word_max_events: int = 4  # a hashtag word in more events is too general
    centroid_terms: int = 96  # terms kept per event centroid
    centroid_sample_after: int = 64  # beyond this many posts only a sample updates the centroid
    postings_cap: int = 24  # events remembered per term in the inverted index
    max_active: int = 10_000  # events kept in memory (LRU)
    df_cap: int = 300_000  # vocabulary size before document frequencies are halved
    title_weight: int = 2  # a title's shingles count this many times
    hashtag_boost: float = 3.0
    entity_boost: float = 2.5
    anchor_idf_floor: float = 0.7  # anchors weigh at least this share of the largest IDF
    text_limit: int = 600  # characters of a text used for features
    # heat = base / (1 + age_hours / decay_hours) ** decay_power,
    # base = posts + engagement_weight * sqrt(likes + dislike_weight*dislikes + repost_weight*reposts)
    engagement_weight: float = 2.0
    dislike_weight: float = 0.5
    repost_weight: float = 2.0
    decay_hours: float = 24.0
    decay_power: float = 1.0
    # trend: ratio of the last hour to the hourly mean of the previous 12 hours
    spike_ratio: float = 3.0
    spike_min_posts: int = 5


_DEFAULT = EventParams()


def heat_base(
    posts: int, likes: int, dislikes: int, reposts: int, params: EventParams | None = None
) -> float:
    """Size and engagement of an event, without time: posts + w·√(likes + a·dislikes + b·reposts)."""
    p = params or _DEFAULT
    engagement = (
        max(0, likes) + p.dislike_weight * max(0, dislikes) + p.repost_weight * max(0, reposts)
    )
    return posts + p.engagement_weight * math.sqrt(engagement)


def heat(
    base: float, last_seen: datetime | None, now: datetime, params: EventParams | None = None
) -> float:
    """Heat at ``now``: ``base / (1 + age_h / decay_hours) ** decay_power`` (age from last_seen)."""
    p = params or _DEFAULT
    if last_seen is None:
        return base
    age_h = max(0.0, (now - last_seen).total_seconds() / 3600.0)
    return base / (1.0 + age_h / p.decay_hours) ** p.decay_power


def trend(last_hour: int, prev_12h: int, params: EventParams | None = None) -> dict[str, Any]:
    """Compare the last hour with the hourly mean of the previous 12 hours.

    ``ratio = last_hour / max(prev_12h / 12, 1 / 12)`` (a quiet past counts as one post in 12 h);
    ``spike`` when the ratio reaches ``spike_ratio`` with at least ``spike_min_posts`` posts in the
    last hour. ``direction`` is 上升 / 下降 / 平稳 / 突增.
    """
    p = params or _DEFAULT
    hourly = max(prev_12h / 12.0, 1.0 / 12.0)
    ratio = last_hour / hourly
    spike = ratio >= p.spike_ratio and last_hour >= p.spike_min_posts
    if spike:
        direction = "突增"
    elif last_hour == 0 and prev_12h == 0:
        direction = "平稳"
    elif ratio >= 1.5:
        direction = "上升"
    elif ratio <= 0.5:
        direction = "下降"
    else:
        direction = "平稳"
    return {
        "last_hour": last_hour,
        "prev_12h": prev_12h,
        "ratio": round(ratio, 2),
        "spike": spike,
        "direction": direction,
    }
