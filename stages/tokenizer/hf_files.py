"""The files beside tokenizer.json that let Hugging Face `transformers` load it as it is:
`AutoTokenizer.from_pretrained(dir)` (offline) or `PreTrainedTokenizerFast(tokenizer_file=...)`.

No bos is added by the tokenizer itself (the token shards place eos after each document; the chat
template places its own tokens), so encoding with transformers gives the ids this stage writes.
"""

from __future__ import annotations

from pathlib import Path

from crisol.core.atomic import write_json
from stages.tokenizer.params import SpecialTokens

CONFIG_FILE = "tokenizer_config.json"
SPECIAL_TOKENS_FILE = "special_tokens_map.json"
# transformers' "no limit" value: the context length is the model's, set when a model is exported.
UNBOUNDED = int(1e30)


def special_tokens_map(specials: SpecialTokens) -> dict:
    extra = [t for t in specials.tokens() if t not in (specials.bos, specials.eos, specials.pad)]
    return {
        "bos_token": specials.bos,
        "eos_token": specials.eos,
        "pad_token": specials.pad,
        "extra_special_tokens": extra,
    }


def write_hf_files(directory: Path | str, specials: SpecialTokens) -> None:
    directory = Path(directory)
    mapping = special_tokens_map(specials)
    write_json(directory / SPECIAL_TOKENS_FILE, mapping)
    write_json(
        directory / CONFIG_FILE,
        {
            "tokenizer_class": "PreTrainedTokenizerFast",
            **mapping,
            "unk_token": None,  # byte-level: every string is encodable
            "add_bos_token": False,
            "add_eos_token": False,
            "clean_up_tokenization_spaces": False,  # decode must give back the exact text
            "model_max_length": UNBOUNDED,
        },
    )
