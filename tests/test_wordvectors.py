"""The pretrained word-vector feature block of the topic classifier (analysis/wordvectors.py)."""

from __future__ import annotations

import numpy as np
import pytest

from analysis import textmodel as tm
from analysis import topicmodel as topm
from analysis.textfeatures import FeatureSpecError, make_features
from analysis.wordvectors import WordVectorMean, load_vectors


def _cos(a, b) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_related_messages_with_no_shared_word_are_close_in_vector_space():
    block = make_features("vec:all").fit([]).blocks[0]
    X = block.transform(
        ["小区附近工地夜间施工噪音太大", "楼下装修扰民严重", "医保报销比例怎么查询"]
    )
    X = X.toarray()
    assert X.shape == (3, 100)
    assert _cos(X[0], X[1]) > _cos(X[0], X[2]) + 0.1
    assert np.allclose(np.linalg.norm(X, axis=1), 1.0, atol=1e-5)


def test_lead_block_reads_only_the_first_line_and_weight_scales_it():
    block = make_features("vec:lead*0.5").fit([]).blocks[0]
    a = block.transform(["公交线路调整\n医院挂号难"]).toarray()[0]
    b = block.transform(["公交线路调整"]).toarray()[0]
    assert np.allclose(a, b)
    assert np.isclose(np.linalg.norm(a), 0.5, atol=1e-5)
    assert not block.transform(["", "!!!"]).toarray().any()  # no known word: a zero row


@pytest.mark.parametrize("spec", ["vec:body", "vec:all*0", "vec:all*x", "vec:lead*-1"])
def test_bad_vector_specs_are_refused(spec):
    with pytest.raises(FeatureSpecError):
        make_features(spec)


def test_saved_model_keeps_a_checksum_not_the_vectors_and_refuses_other_vectors(tmp_path):
    texts = [
        "噪音扰民\n工地夜间施工",
        "公交改线\n线路调整",
        "施工噪声\n晚上打桩",
        "地铁站\n换乘不便",
    ] * 3
    labels = ["城乡建设", "交通运输", "城乡建设", "交通运输"] * 3
    model = topm.train_topic(texts, labels, features="vec:all,vec:lead", prior=None)
    path = model.save(tmp_path / "t.npz")
    assert path.stat().st_size < 50_000  # the 50 MB of vectors are not copied in
    again = tm.load_model(path, "topic")
    assert [lab for lab, _ in again.predict(["深夜施工噪音"])] == ["城乡建设"]
    assert again.predict(["公交线路"]) == model.predict(["公交线路"])

    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["header"] = np.array(str(arrays["header"]).replace(load_vectors()[2], "0" * 64))
    forged = tmp_path / "other.npz"
    with forged.open("wb") as fh:
        np.savez_compressed(fh, **arrays)
    with pytest.raises(tm.TextModelError, match="词向量"):
        tm.load_model(forged, "topic")


def test_default_topic_features_use_the_vectors():
    kinds = [type(b) for b in topm._topic_features(topm.DEFAULT_TOPIC_FEATURES, None, 0).blocks]
    assert kinds.count(WordVectorMean) == 2
