"""Token shards: zero-copy reads from the mapped file, eos after each document, the document index,
and the smallest id type that holds the vocabulary."""

from __future__ import annotations

import os

import numpy as np
import pytest

from crisol.core.errors import StageInputError
from crisol.formats.tokens import SplitManifest, TokenSplit, token_dtype, tokens_file, write_shard


def make_split(directory, shards: list[list[list[int]]], vocab_size: int = 1000, eos: int = 1) -> TokenSplit:
    dtype = token_dtype(vocab_size)
    entries = []
    for index, docs in enumerate(shards):
        lengths = np.array([len(d) for d in docs], np.int64)
        starts = np.concatenate([[0], np.cumsum(lengths + 1)[:-1]]) if docs else lengths
        flat = np.array([t for d in docs for t in d + [eos]], dtype)
        write_shard(directory, index, flat, [f"d{index}-{i}" for i in range(len(docs))], starts, lengths)
        entries.append({"index": index, "tokens": len(flat), "documents": len(docs)})
    SplitManifest(dtype.name, vocab_size, eos, "sha", tuple(entries), {}).write(directory)
    return TokenSplit(directory)


def mapped_ranges(path) -> list[tuple[int, int]]:
    """Address ranges where the kernel maps `path` into this process (Linux /proc/self/maps)."""
    ranges = []
    for line in open("/proc/self/maps"):
        fields = line.split(maxsplit=5)
        if len(fields) == 6 and fields[5].strip() == str(path):
            low, high = (int(x, 16) for x in fields[0].split("-"))
            ranges.append((low, high))
    return ranges


@pytest.mark.skipif(not os.path.exists("/proc/self/maps"), reason="needs Linux /proc/self/maps")
def test_tokens_are_a_view_of_the_mapped_file(tmp_path):
    split = make_split(tmp_path, [[[5, 6, 7], [8, 9]]])
    tokens = split.tokens(0)
    start = tokens.__array_interface__["data"][0]
    ranges = mapped_ranges((tmp_path / tokens_file(0)).resolve())
    assert any(low <= start and start + tokens.nbytes <= high for low, high in ranges), "tokens were copied"
    assert not tokens.flags.owndata and not tokens.flags.writeable
    assert tokens.tolist() == [5, 6, 7, 1, 8, 9, 1]


def test_document_index_points_at_each_document(tmp_path):
    docs = [[10, 11, 12], [13], [], [14, 15]]
    split = make_split(tmp_path, [docs])
    tokens, index = split.tokens(0), split.documents(0).to_pydict()
    for i, doc in enumerate(docs):
        start, length = index["start"][i], index["length"][i]
        assert tokens[start : start + length].tolist() == doc
        assert tokens[start + length] == split.manifest.eos_id


def test_id_type_follows_vocabulary_size(tmp_path):
    assert token_dtype(65536) == np.uint16 and token_dtype(65537) == np.uint32
    split = make_split(tmp_path, [[[70000, 3]]], vocab_size=100_000)
    assert split.tokens(0).dtype == np.uint32 and split.tokens(0).tolist() == [70000, 3, 1]


def test_empty_shard(tmp_path):
    split = make_split(tmp_path, [[]])
    assert len(split.tokens(0)) == 0 and split.documents(0).num_rows == 0


def test_missing_and_corrupt_shards_are_clear_errors(tmp_path):
    with pytest.raises(StageInputError, match="run the tokenizer stage"):
        TokenSplit(tmp_path / "nowhere")
    split = make_split(tmp_path, [[[5, 6]]])
    (tmp_path / tokens_file(0)).write_bytes(b"not arrow at all")
    with pytest.raises(StageInputError, match="corrupt token shard"):
        split.tokens(0)


def test_shard_that_disagrees_with_manifest(tmp_path):
    make_split(tmp_path, [[[5, 6]]])
    write_shard(tmp_path, 0, np.array([5, 6, 7, 1], np.uint16), ["x"], np.array([0]), np.array([3]))
    with pytest.raises(StageInputError, match="manifest says"):
        TokenSplit(tmp_path).tokens(0)
