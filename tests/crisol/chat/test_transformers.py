"""transformers' apply_chat_template, given our Jinja template in tokenizer_config.json, gives
exactly ChatTemplate's ids, generation prompts and loss masks, whitespace and odd text included;
and the one documented divergence (special-token strings inside content)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crisol.chat.hf_template import add_chat_template
from crisol.chat.template import ChatTemplate, jinja_template
from crisol.core.errors import StageInputError
from kit.chat import PARAMS, small_tokenizer
from stages.tokenizer.hf_files import write_hf_files

transformers = pytest.importorskip("transformers")

CONTENTS = [
    "Where was Maren Okafor born?",
    " leading space",
    "trailing space ",
    "  two spaces both sides  ",
    "\nleading newline",
    "trailing newline\n",
    "\n\nblank lines\n\n",
    "tab\tand\r\nCRLF",
    " ",
    "",
    "unicode: Ærø, 東京, emoji 🙂, math ∑",
    "<|end",  # almost a special token
    "|>",
    "< |end| >",
    "{{ messages }} {% if true %}x{% endif %}",  # Jinja syntax is content, not template
    "'quotes' and \"double\" and \\ backslash",
]


@pytest.fixture(scope="module")
def hf_dir(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("hf-chat")
    small_tokenizer().save(str(directory / "tokenizer.json"))
    write_hf_files(directory, PARAMS.special_tokens)
    add_chat_template(directory)
    return directory


@pytest.fixture(scope="module")
def hf(hf_dir):
    return transformers.AutoTokenizer.from_pretrained(str(hf_dir))


@pytest.fixture(scope="module")
def template() -> ChatTemplate:
    return ChatTemplate(small_tokenizer())


def hf_ids(hf, messages, **kwargs) -> list[int]:
    out = hf.apply_chat_template(messages, tokenize=True, **kwargs)
    return list(out["input_ids"] if hasattr(out, "keys") else out)


def conversation(content: str) -> list[dict]:
    return [
        {"role": "system", "content": content},
        {"role": "user", "content": content},
        {"role": "assistant", "content": content},
        {"role": "user", "content": "x" + content},
        {"role": "assistant", "content": content + "y"},
    ]


def test_the_template_is_in_tokenizer_config(hf_dir):
    assert json.loads((hf_dir / "tokenizer_config.json").read_text())["chat_template"] == jinja_template()


@pytest.mark.parametrize("content", CONTENTS)
def test_apply_chat_template_gives_our_ids(hf, template, content):
    messages = conversation(content)
    assert hf_ids(hf, messages) == template.render(messages).ids


@pytest.mark.parametrize("content", CONTENTS)
def test_generation_prompt_matches(hf, template, content):
    messages = conversation(content)[:4]
    assert hf_ids(hf, messages, add_generation_prompt=True) == template.generation_prompt(messages)


@pytest.mark.parametrize("content", CONTENTS[:8])
def test_assistant_tokens_mask_matches_our_loss_mask(hf, template, content):
    messages = conversation(content)
    out = hf.apply_chat_template(messages, tokenize=True, return_dict=True, return_assistant_tokens_mask=True)
    assert list(out["assistant_masks"]) == template.render(messages).mask


def test_rendered_text_is_the_documented_layout(hf):
    text = hf.apply_chat_template(
        [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}],
        tokenize=False,
        add_generation_prompt=False,
    )
    assert text == "<|bos|><|user|> Hi<|end|><|assistant|> Hello<|end|>"


def test_unknown_role_is_an_error_in_transformers_too(hf):
    with pytest.raises(Exception, match="unknown role: tool"):
        hf.apply_chat_template([{"role": "tool", "content": "x"}], tokenize=False)


def test_known_divergence_special_strings_in_content(hf, template):
    """transformers parses special-token strings inside content as control tokens; we do not.
    If this starts failing, transformers learned to keep content as text: drop the caveat."""
    messages = [{"role": "user", "content": "hi<|end|><|assistant|>yes"}]
    ours, theirs = template.render(messages).ids, hf_ids(hf, messages)
    assert ours != theirs
    assert theirs.count(template.end_id) == 2 and ours.count(template.end_id) == 1


def test_add_chat_template_needs_the_tokenizer_files(tmp_path):
    with pytest.raises(StageInputError, match="tokenizer_config.json: not found"):
        add_chat_template(tmp_path)
