"""The dedup stage on small hand-made inputs: the rules, the odd inputs, the bad inputs."""

from __future__ import annotations

import random
import time

import pyarrow as pa
import pyarrow.parquet as pq

from crisol.formats.artifacts import write_parquet
from crisol.formats.schemas import CLUSTERS, DOCUMENTS, REJECTS
from kit.dedup import dedup, outputs, write_params
from kit.documents import document, write_documents
from kit.stages import run_stage

RNG_SEED = 11


def words(rng: random.Random, n: int, vocab: int = 5000) -> list[str]:
    return [f"w{rng.randrange(vocab)}x" for _ in range(n)]


def edited(text_words: list[str], rng: random.Random, share: float) -> list[str]:
    out = list(text_words)
    for i in rng.sample(range(len(out)), int(len(out) * share)):
        out[i] = f"edit{rng.randrange(10**6)}"
    return out


def by_id(rows: list[dict]) -> dict[str, dict]:
    return {row["id"]: row for row in rows}


def test_exact_then_near_duplicates_one_kept_per_cluster_by_the_documented_rule(tmp_path):
    rng = random.Random(RNG_SEED)
    base = words(rng, 300)
    docs = [
        document("a", " ".join(base)),
        document("b", " ".join(w.upper() if i % 7 == 0 else w for i, w in enumerate(base)) + " !!!"),  # exact
        document("c", " ".join(edited(base, rng, 0.02)) + " tail"),  # near, and the longest text
        document("d", " ".join(words(rng, 300))),  # unrelated
        document("e", ""),
        document("f", "  \n\t  "),
        document("g", "?! ..."),  # all normalise to ""
    ]
    out = dedup(tmp_path, docs, files=2)
    clusters = by_id(out["clusters"])
    assert clusters["c"]["kept"] and clusters["a"]["cluster_id"] == clusters["b"]["cluster_id"] == "c"
    assert not clusters["a"]["kept"] and not clusters["b"]["kept"]
    assert (clusters["a"]["kind"], clusters["b"]["kind"], clusters["c"]["kind"]) == ("exact", "exact", "near")
    assert clusters["a"]["cluster_size"] == 3 and 0.6 < clusters["a"]["jaccard_to_kept"] < 1
    assert clusters["d"]["kind"] == "unique" and clusters["d"]["kept"] and clusters["d"]["jaccard_to_kept"] is None
    # Texts without a word character are exact duplicates of one another: the longest one stays.
    assert [clusters[i]["kept"] for i in "efg"] == [False, True, False]
    assert {clusters[i]["kind"] for i in "efg"} == {"exact"} and clusters["e"]["jaccard_to_kept"] == 1.0
    assert sorted(d["id"] for d in out["documents"]) == ["c", "d", "f"]
    assert out["documents"][0].keys() == {f.name for f in DOCUMENTS.arrow}
    m = out["metrics"]
    # a and b are dropped as near copies: their normalised text is not the kept c's.
    assert (m["documents_in"], m["documents_out"], m["dropped"]) == (7, 3, {"exact": 2, "near": 2})
    assert m["documents_by_kind"] == {"unique": 1, "exact": 5, "near": 1}
    assert m["empty_texts"] == 3 and m["clusters"]["size_histogram"] == {"1": 1, "3": 2}
    assert m["lsh"]["verified_pairs"] >= 1 and set(m["lsh"]["candidate_probability"]) >= {"0.1", "1.0"}
    sample = out["samples"]["clusters"][0]
    assert sample["cluster_id"] == "c" and sample["members"][0]["kept"] and sample["members"][0]["text"]
    assert pq.read_schema(tmp_path / "out" / "clusters.parquet").metadata[b"crisol.schema"] == CLUSTERS.name.encode()


def test_empty_input_and_one_document(tmp_path):
    empty = dedup(tmp_path / "empty", [])
    assert empty["documents"] == [] and empty["clusters"] == [] and empty["metrics"]["documents_in"] == 0
    assert empty["samples"] == {"clusters": []}
    (tmp_path / "none" / "in").mkdir(parents=True)  # a directory with no parts
    assert run_stage("dedup", write_params(tmp_path / "none", tmp_path / "none" / "in")) == 0
    assert outputs(tmp_path / "none")["metrics"]["documents_out"] == 0
    one = dedup(tmp_path / "one", [document("solo", "just one short document")])
    assert [d["id"] for d in one["documents"]] == ["solo"]
    assert one["clusters"][0]["kind"] == "unique" and one["clusters"][0]["kept"]


def test_a_10_mb_document_and_its_near_copy(tmp_path):
    rng = random.Random(RNG_SEED)
    big = words(rng, 1_400_000, vocab=200_000)
    text = " ".join(big)
    assert len(text) >= 10_000_000
    start = time.perf_counter()
    out = dedup(
        tmp_path,
        [
            document("big", text),
            document("copy", " ".join(edited(big, rng, 0.005))),
            document("other", " ".join(words(rng, 500))),
        ],
    )
    clusters = by_id(out["clusters"])
    assert clusters["copy"]["cluster_id"] == clusters["big"]["cluster_id"]
    assert clusters["copy"]["kind"] == clusters["big"]["kind"] == "near"
    assert clusters["other"]["kind"] == "unique"
    assert time.perf_counter() - start < 30


def test_scripts_without_spaces_are_compared_character_by_character(tmp_path):
    rng = random.Random(RNG_SEED)
    han = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]
    kana = [chr(c) for c in range(0x3041, 0x3097)]
    chinese = "".join(rng.choice(han) for _ in range(600))
    near = list(chinese)
    for i in rng.sample(range(len(near)), 10):
        near[i] = rng.choice(han)
    japanese = "".join(rng.choice(han + kana) for _ in range(400))
    docs = [
        document("zh", "。".join(chinese[i : i + 40] for i in range(0, 600, 40))),
        document("zh-near", "".join(near)),
        document("zh-other", "".join(rng.choice(han) for _ in range(600))),
        document("ja", japanese),
        document("ja-copy", japanese.replace(japanese[:30], japanese[:30] + "、")),
    ]
    clusters = by_id(dedup(tmp_path, docs)["clusters"])
    assert clusters["zh-near"]["cluster_id"] == clusters["zh"]["cluster_id"]
    assert clusters["zh-near"]["kind"] == "near" and clusters["zh-other"]["kind"] == "unique"
    assert clusters["ja"]["kind"] == clusters["ja-copy"]["kind"] == "exact"  # punctuation only differs


def test_same_clusters_whatever_the_sharding(tmp_path):
    rng = random.Random(RNG_SEED)
    docs = []
    for i in range(60):
        base = words(rng, 200)
        docs.append(document(f"o{i:02d}", " ".join(base)))
        if i % 3 == 0:
            docs.append(document(f"n{i:02d}", " ".join(edited(base, rng, 0.03))))
    one = dedup(tmp_path / "one", docs, files=1)
    many = dedup(tmp_path / "many", docs, files=3, row_group=5, docs_per_shard=7)
    assert len(many["parts"]) > 3
    assert sorted(one["clusters"], key=lambda r: r["id"]) == sorted(many["clusters"], key=lambda r: r["id"])
    assert one["metrics"]["dropped"]["near"] == 20


def test_unusable_inputs_are_one_line_errors(tmp_path, capsys):
    assert run_stage("dedup", write_params(tmp_path, tmp_path / "missing")) == 1
    assert "input not found" in capsys.readouterr().err
    wrong = tmp_path / "wrong"
    write_parquet(wrong / "part-00000.parquet", REJECTS, [{"reason": "x"}])
    assert run_stage("dedup", write_params(tmp_path, wrong)) == 1
    assert "expected a 'documents' artifact, found a 'rejects' artifact" in capsys.readouterr().err
    plain = tmp_path / "plain"  # a user's own Parquet of documents: a way in, not a traceback
    plain.mkdir()
    pq.write_table(pa.table({"text": ["some text"]}), plain / "c4.parquet")
    assert run_stage("dedup", write_params(tmp_path, plain)) == 1
    err = capsys.readouterr().err
    assert "found a plain Parquet file" in err and "own.root/text/" in err
    write_documents(tmp_path / "in", [document("a", "text")])
    assert run_stage("dedup", write_params(tmp_path, tmp_path / "in"), "dedup.bands=4") == 2
    assert "give both bands and rows" in capsys.readouterr().err
