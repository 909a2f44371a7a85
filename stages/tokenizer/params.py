"""The `tokenizer` section of params.yaml. Defaults are the `tiny` profile, PROFILES holds the other
profiles' values."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from tokenizers import Regex

from crisol.core.params import Section
from crisol.core.path_roles import InputPath, OutputDir, OutputFile

BYTE_ALPHABET = 256  # byte-level BPE starts from every byte, so any text can be encoded

# GPT-4's split pattern (cl100k), as nanochat uses it: letters, numbers of up to three digits,
# punctuation runs, newlines and spaces become separate pre-tokens, so merges never cross them.
GPT4_PATTERN = (
    r"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]++[\r\n]*"
    r"|\s*[\r\n]|\s+(?!\S)|\s+"
)
GPT2_PATTERN = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
# Named patterns. params.yaml names one rather than spelling the regex: DVC 3.67 writes a long
# string full of backslashes into dvc.lock folded at a `\\`, reads it back changed, and would then
# rerun the tokenizer (and all after it) on every `dvc repro`. A custom regex still works.
PRETOKENIZE_PRESETS = {"gpt4": GPT4_PATTERN, "gpt2": GPT2_PATTERN}


class SpecialTokens(Section):
    """Reserved now, so that SFT and RLHF never resize the vocabulary. Ids follow this order from 0."""

    bos: str = "<|bos|>"
    eos: str = "<|eos|>"  # ends every document in the token shards
    pad: str = "<|pad|>"  # distinct from eos: padding must never look like an ending
    system: str = "<|system|>"
    user: str = "<|user|>"
    assistant: str = "<|assistant|>"
    end_of_turn: str = "<|end|>"
    reserved: int = Field(4, ge=0, le=1024)  # <|reserved_0|>... for later use (tools, etc.)

    def tokens(self) -> list[str]:
        named = [self.bos, self.eos, self.pad, self.system, self.user, self.assistant, self.end_of_turn]
        return named + [f"<|reserved_{i}|>" for i in range(self.reserved)]

    @model_validator(mode="after")
    def _distinct(self) -> "SpecialTokens":
        tokens = self.tokens()
        if any(not t or t.isspace() for t in tokens):
            raise ValueError("special tokens must be non-empty and not whitespace")
        if len(set(tokens)) != len(tokens):
            raise ValueError(f"special tokens must be distinct (pad must differ from eos): {tokens}")
        return self


class TokenizerParams(Section):
    """Byte-level BPE, the train/validation split and token shards (stages/tokenizer). Deduplicated
    documents in; tokenizer files, train/validation token shards and a report out."""

    input: InputPath = Path("data/dedup/documents")  # = dedup.documents
    out: OutputDir = Path("data/tokenizer")  # tokenizer.json, transformers files, report
    tokens: OutputDir = Path("data/tokens")  # train/ and validation/ token shards
    metrics: OutputFile = Path("data/metrics/tokenizer.json")

    vocab_size: int = Field(4096, le=1 << 24)
    min_frequency: int = Field(2, ge=1)  # a pair seen fewer times is never merged
    # Unicode normalisation before splitting. "none" keeps decode(encode(x)) == x for any text;
    # NFC/NFKC make visually equal strings share tokens but change the text they decode to.
    normalization: Literal["none", "NFC", "NFKC"] = "none"
    pretokenize_pattern: str = "gpt4"  # GPT-4's split (GPT4_PATTERN here), gpt2, or a regex
    # Reserved now, so that SFT and RLHF never resize the vocabulary; ids follow this order from 0.
    special_tokens: SpecialTokens = SpecialTokens()

    # A document goes to validation when hash(salt + id) falls below this fraction: its own id
    # decides, so adding documents never moves an old one to the other split.
    validation_fraction: float = Field(0.05, ge=0.0, lt=1.0)
    split_salt: str = "crisol-split-1"
    fit_max_chars: int = Field(200_000_000, ge=1)  # the BPE is fitted on at most this much train text
    docs_per_shard: int = Field(1000, ge=1)  # documents per encoding task and token shard (at most)
    encode_batch_docs: int = Field(256, ge=1)  # documents per encode_batch call
    longest_tokens: int = Field(20, ge=0)  # shown in the report

    def split_regex(self) -> str:
        return PRETOKENIZE_PRESETS.get(self.pretokenize_pattern, self.pretokenize_pattern)

    @field_validator("pretokenize_pattern")
    @classmethod
    def _known_or_valid_regex(cls, value: str) -> str:
        try:
            Regex(PRETOKENIZE_PRESETS.get(value, value))
        except Exception as exc:  # tokenizers raises a bare Exception for a bad pattern
            raise ValueError(f"not a preset ({', '.join(PRETOKENIZE_PRESETS)}) nor a valid regex: {exc}") from None
        return value

    @model_validator(mode="after")
    def _vocabulary_holds_bytes_and_specials(self) -> "TokenizerParams":
        floor = BYTE_ALPHABET + len(self.special_tokens.tokens())
        if self.vocab_size < floor:
            raise ValueError(
                f"vocab_size {self.vocab_size} is smaller than the byte alphabet ({BYTE_ALPHABET}) "
                f"plus {len(self.special_tokens.tokens())} special tokens = {floor}"
            )
        return self


# The profiles' values (the defaults are tiny's; crisol/core/params.py: PROFILE_NOTES).
PROFILES = {
    "micro": {"vocab_size": 1024, "validation_fraction": 0.1},
}
