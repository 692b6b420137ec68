"""Search on PostgreSQL: the newest-first probe against the bigram index, on a generated ledger.

    python bench/search/probe.py 300000          # generate N posts in schema ``srch``, then time
    python bench/search/probe.py 300000 10000    # time again with a probe of 10,000 rows (no generation)

Posts are generated in SQL (five places, six complaints, one phrase in a fifth of the posts, a
rare word in one post of 9,973); each query is run five times both ways: ``probe`` (what
``search_post_ids`` does) and ``index`` (the bigram GIN path alone). Prints median and max ms.
Uses the PostgreSQL of ``YUQING_TEST_PG_URL`` (default 127.0.0.1:5432/test).
"""

import os
import statistics
import sys
import time
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import ledger.posts.search as search  # noqa: E402
from ledger.db import make_engine, session_scope  # noqa: E402
from ledger.migrate import upgrade  # noqa: E402

base = os.environ.get("YUQING_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
e0 = sa.create_engine(base)
N = int(sys.argv[1])
if len(sys.argv) < 3:
  with e0.begin() as c:
    c.exec_driver_sql("DROP SCHEMA IF EXISTS srch CASCADE; CREATE SCHEMA srch")
url = base + "?options=-csearch_path%3Dsrch"
upgrade(url)
eng = make_engine(url)
t = time.time()
if len(sys.argv) < 3:
 with eng.begin() as c:
    c.exec_driver_sql("INSERT INTO source (name, kind, enabled, status, consecutive_failures, created_at, config) VALUES ('s', 'file', false, 'ok', 0, now(), '{}')")
    c.exec_driver_sql(f"""
    INSERT INTO post (source_id, external_id, text, fetched_at, likes, dislikes, reposts, content_hash, sentiment, sentiment_score, sensitivity, categories, topics, version, rumour, pii, assessment)
    SELECT 1, 'p' || g,
      (ARRAY['望湖花园小区','长乐路','河西区','北关村','南湖社区'])[1 + g %% 5] ||
      (CASE WHEN g %% 5 = 0 THEN '多次向社区反映' ELSE '' END) ||
      (ARRAY['漏水严重','垃圾清运不及时','医院挂号难','噪音扰民','路灯不亮','停车难'])[1 + g %% 6] ||
      (CASE WHEN g %% 9973 = 0 THEN '双黄连' ELSE '' END) || '，编号' || g || repeat('，情况说明', 1 + g %% 20),
      now() - (({N} - g) || ' seconds')::interval, 0, 0, 0, md5(g::text), 'neutral', 0.5, 0, '[]', '[]', 1, false, '[]', '{{}}'
    FROM generate_series(1, {N}) g""")
print("insert", round(time.time() - t, 1), "s", flush=True)
with eng.begin() as c:
    c.exec_driver_sql("ANALYZE post")
for q in ["多次向社区反映", "望湖花园小区", "医院 挂号", "河西区 垃圾清运", "漏水", "双黄连", "不存在的词语"]:
    for mode in ("probe", "index"):
        search.RECENT_PROBE_ROWS = int(sys.argv[2]) if len(sys.argv) > 2 and mode == "probe" else 20_000 if mode == "probe" else 0
        times = []
        for _ in range(5):
            with session_scope(eng) as s:
                t = time.perf_counter()
                ids = search.search_post_ids(s, query=q, limit=100) if mode == "probe" else [r[0] for r in s.execute(search._matching(s, search._POST, search.parse_query(q), search.SearchFilters(), [search._POST.c.id])[0].order_by(search._POST.c.id.desc()).limit(100))]
                times.append((time.perf_counter() - t) * 1000)
        print(q, mode, len(ids), "median", round(statistics.median(times), 1), "max", round(max(times), 1), "ms", flush=True)
