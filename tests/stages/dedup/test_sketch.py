"""Signatures are datasketch's own sketches, computed for a whole shard at once."""

from __future__ import annotations

import numpy as np
import xxhash
from datasketch import MinHash

from stages.dedup.hashing import sequence_keys
from stages.dedup.minhash import BLOCK, lean_minhash, permutations, signatures
from stages.dedup.normalize import normalised_text, tokenise
from stages.dedup.shingles import char_token_hashes, shingle_hashes, word_token_hashes


def test_signatures_equal_datasketch_bulk_including_empty_and_multi_block_documents():
    rng = np.random.default_rng(3)
    counts = np.array([0, 3, BLOCK * 2 + 17, 1, 0, BLOCK - 1, 2])  # empty, tiny, spanning 3 blocks
    shingles = rng.integers(0, 2**32, counts.sum(), dtype=np.uint64).astype(np.uint32)
    sig = signatures(shingles, counts, permutations(64, 7))
    offsets = np.r_[0, np.cumsum(counts)]
    expected = MinHash.bulk(
        [shingles[offsets[d] : offsets[d + 1]].tolist() for d in range(len(counts))], num_perm=64, seed=7, hashfunc=int
    )
    for row, sketch in zip(sig, expected):
        assert np.array_equal(row, sketch.hashvalues)
    assert (sig[0] == 0xFFFFFFFF).all() and (sig[4] == 0xFFFFFFFF).all()


def test_a_row_is_a_datasketch_lean_minhash_with_the_same_estimate():
    rng = np.random.default_rng(0)
    base = rng.integers(0, 2**32, 400, dtype=np.uint64).astype(np.uint32)
    other = base.copy()
    other[:100] = rng.integers(0, 2**32, 100, dtype=np.uint64).astype(np.uint32)  # J = 300/500
    sig = signatures(np.concatenate([base, other]), np.array([400, 400]), permutations(256, 1))
    a, b = lean_minhash(sig[0], 1), lean_minhash(sig[1], 1)
    assert a.jaccard(b) == (sig[0] == sig[1]).mean()
    assert abs(a.jaccard(b) - 0.6) < 0.1


def test_shingles_of_a_window_depend_on_its_tokens_only_and_short_texts_get_one():
    tokens = tokenise(["one two three four five six", "zero one two three four five", "one two", "", "one two"])
    hashes, counts = word_token_hashes(tokens, seed=1)
    shingles, per_doc = shingle_hashes(hashes, counts, 5)
    assert per_doc.tolist() == [2, 2, 1, 0, 1]
    first, second = shingles[:2], shingles[2:4]
    assert first[0] == second[1]  # "one two three four five" in both documents
    assert first[1] not in second  # "two three four five six" only in the first
    assert shingles[4] == shingles[5]  # the two-word documents: one shingle each, equal


def test_character_shingles_follow_the_normalised_text():
    tokens = tokenise(["Ab, cd!", "ab   CD", "abcd"])
    assert normalised_text(tokens).to_list() == ["ab cd", "ab cd", "abcd"]
    hashes, counts = char_token_hashes(tokens, seed=1)
    assert counts.tolist() == [5, 5, 4]
    shingles, per_doc = shingle_hashes(hashes, counts, 3)
    assert per_doc.tolist() == [3, 3, 2]
    assert shingles[:3].tolist() == shingles[3:6].tolist()


def test_normalisation_folds_case_width_punctuation_and_whitespace_and_splits_cjk_by_character():
    tokens = tokenise(
        ["Hello,  WORLD!!", "hello world", "ｈｅｌｌｏ\tworld.", "hello worlds", "東京は晴れ。Tokyo", "", "  \n\t "]
    ).to_list()
    assert tokens[0] == tokens[1] == tokens[2] == ["hello", "world"]
    assert tokens[4] == ["東", "京", "は", "晴", "れ", "tokyo"]
    assert tokens[5] == tokens[6] == []
    texts = ["Hello,  WORLD!!", "hello world", "hello worlds", "world hello", "", " "]
    hashes, counts = word_token_hashes(tokenise(texts), 1)
    keys = [tuple(k) for k in sequence_keys(hashes, counts)]
    assert keys[0] == keys[1] and keys[4] == keys[5]
    assert len({keys[0], keys[2], keys[3], keys[4]}) == 4  # a changed word or order is another text


def test_token_hashes_do_not_collide_on_a_large_vocabulary():
    words = [xxhash.xxh64_hexdigest(str(i).encode())[:8] for i in range(50000)]
    hashes, _ = word_token_hashes(tokenise([" ".join(words)]), seed=1)
    assert len(np.unique(hashes)) == len(words)
