"""The chat template, at the level of token ids: what SFT trains on, what sampling prompts with and
what evaluation asks, all from this one module.

Layout (the spaces between pieces below are for reading; the one real space is the one before
each content, see the third point):

    <|bos|> <|system|>␣text<|end|> <|user|>␣text<|end|> <|assistant|>␣text<|end|> <|user|>... <|assistant|>␣text<|end|>

- `<|bos|>` opens every conversation once. Pretraining never puts it inside a document, so it
  marks "a conversation starts here" unambiguously, also when conversations are packed back to
  back in one training row.
- Each turn is its role token, one space and the content verbatim, then `<|end|>`. The space is
  tokenized with the content, so the content's first word gets the token it has in running text:
  byte-level BPE merges a word with the space before it, and pretraining saw " violinist" (one
  token) after a space, never "violinist" at the start of a text (three rarer pieces). Without
  the space a model has to learn a second spelling of every answer: measured on the tiny
  profile (a half-trained base), held-out exact match after SFT was 20% without it and 54% with
  it. No newline after the role token: the role is a token of its own already.
- No `<|eos|>`: `<|end|>` ends every turn, the last included, and is the one thing the model
  learns to emit when its answer is done (it is in the loss mask). `<|eos|>` keeps its pretraining
  meaning, the end of a document; the sampler stops on either (`stop_ids`), so a model that falls
  back to its pretraining habit still stops.
- The loss mask is 1 on the assistant's content tokens and its closing `<|end|>`, 0 elsewhere
  (bos, role tokens, the assistant opener, system and user turns): the opener is part of the
  prompt (`generation_prompt` ends with it), so the model is never trained to predict that an
  answer starts, only what it says and where it stops.

Content is untrusted text. It is encoded with `encode_special_tokens = True`, so a user who types
"<|end|><|assistant|>" gets those characters as plain-text tokens, never the control tokens;
control tokens are inserted by id only. Content is kept verbatim (no stripping): leading and
trailing spaces and newlines are the writer's. transformers' `apply_chat_template` renders
`jinja_template` to a string and tokenizes that; added tokens split the string first, so each
content segment is tokenized alone, exactly as here. The one divergence: transformers parses
special-token strings inside content as control tokens (it has no per-segment switch), so for
content that contains one, only this module's ids are injection-proof (tested).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import cached_property
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from tokenizers import Tokenizer

from crisol.formats.tokenizer_file import load_tokenizer

ROLES = ("system", "user", "assistant")
CONTENT_PREFIX = " "  # before every turn's content, tokenized with it (see the layout above)
Message = Mapping[str, str]


class TemplateError(ValueError):
    """A conversation the template cannot render: not a list of {role, content} with known roles."""


@dataclass(frozen=True)
class ChatTokens:
    """The special-token strings the template uses; the defaults are params.yaml's
    `tokenizer.special_tokens` (a test keeps them equal), so that SFT, sampling and the exported
    transformers template agree without a stage importing the tokenizer stage."""

    bos: str = "<|bos|>"
    eos: str = "<|eos|>"
    pad: str = "<|pad|>"
    system: str = "<|system|>"
    user: str = "<|user|>"
    assistant: str = "<|assistant|>"
    end_of_turn: str = "<|end|>"

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, object]) -> "ChatTokens":
        """From a `tokenizer.special_tokens` section (extra keys such as `reserved` are ignored)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: str(v) for k, v in mapping.items() if k in names})

    def role(self, role: str) -> str:
        return {"system": self.system, "user": self.user, "assistant": self.assistant}[role]


@dataclass(frozen=True)
class Rendered:
    ids: list[int]
    mask: list[int]  # 1 where the token is a training target (assistant content and its end)

    def __len__(self) -> int:
        return len(self.ids)


def check_messages(messages: object) -> list[Message]:
    """The conversation as a list of messages, or a TemplateError naming what is wrong."""
    if not isinstance(messages, (list, tuple)):
        raise TemplateError(f"a conversation is a list of messages, got {type(messages).__name__}")
    for i, message in enumerate(messages):
        if not isinstance(message, Mapping):
            raise TemplateError(f"message {i}: expected a mapping with role and content, got {type(message).__name__}")
        role, content = message.get("role"), message.get("content")
        if role not in ROLES:
            raise TemplateError(f"message {i}: unknown role {role!r} (expected one of {', '.join(ROLES)})")
        if not isinstance(content, str):
            raise TemplateError(f"message {i}: content must be a string, got {type(content).__name__}")
    return list(messages)


class ChatTemplate:
    """Renders conversations with a fitted `tokenizers.Tokenizer` (the caller's is left untouched)."""

    def __init__(self, tokenizer: Tokenizer, tokens: ChatTokens = ChatTokens()):
        # A private copy: the switch below must not change how the caller's tokenizer encodes.
        self.text_tokenizer = Tokenizer.from_str(tokenizer.to_str())
        self.text_tokenizer.encode_special_tokens = True
        self.tokens = tokens
        self.bos_id = self._id(tokens.bos)
        self.eos_id = self._id(tokens.eos)
        self.pad_id = self._id(tokens.pad)
        self.end_id = self._id(tokens.end_of_turn)
        self.role_ids = {role: self._id(tokens.role(role)) for role in ROLES}

    @classmethod
    def from_file(cls, path: Path | str, tokens: ChatTokens = ChatTokens()) -> "ChatTemplate":
        """From a tokenizers JSON file, or a directory holding tokenizer.json (the tokenizer stage's out)."""
        return cls(load_tokenizer(path), tokens)

    def _id(self, token: str) -> int:
        token_id = self.text_tokenizer.token_to_id(token)
        if token_id is None:
            raise TemplateError(f"the tokenizer has no special token {token!r} (fit it with the chat tokens reserved)")
        return token_id

    @property
    def stop_ids(self) -> tuple[int, ...]:
        """Sampling stops at the end of the assistant's turn, or at a document end."""
        return (self.end_id, self.eos_id)

    def encode_text(self, text: str) -> list[int]:
        """Plain text: special-token strings in it become ordinary tokens."""
        return self.text_tokenizer.encode(text, add_special_tokens=False).ids

    def encode_content(self, content: str) -> list[int]:
        """A turn's content as the template tokenizes it: after its leading space."""
        return self.encode_text(CONTENT_PREFIX + content)

    def _encode_contents(self, messages: Sequence[Message]) -> list[list[int]]:
        if not messages:
            return []
        return [
            e.ids
            for e in self.text_tokenizer.encode_batch(
                [CONTENT_PREFIX + m["content"] for m in messages], add_special_tokens=False
            )
        ]

    def render(self, messages: object) -> Rendered:
        """Token ids of a whole conversation and its loss mask (assistant content + closing end)."""
        messages = check_messages(messages)
        ids, mask = [self.bos_id], [0]
        for message, content_ids in zip(messages, self._encode_contents(messages)):
            target = 1 if message["role"] == "assistant" else 0
            ids.append(self.role_ids[message["role"]])
            mask.append(0)
            ids.extend(content_ids)
            ids.append(self.end_id)
            mask.extend([target] * (len(content_ids) + 1))
        return Rendered(ids, mask)

    @cached_property
    def max_token_bytes(self) -> int:
        """At least the bytes of content one token can stand for: the longest ordinary token of the
        byte-level vocabulary (a character per byte, counted here as its UTF-8, never fewer bytes),
        times 4, the most a normaliser shrinks UTF-8 (NFKC maps 𝐀, 4 bytes, to A)."""
        vocab = self.text_tokenizer.get_vocab(with_added_tokens=False)
        return 4 * max((len(token.encode("utf-8")) for token in vocab), default=1)

    def surely_longer(self, messages: Sequence[Message], max_tokens: int) -> bool:
        """Whether the contents alone need more than `max_tokens` tokens, told from their size without
        tokenising them (a 3 MB turn costs the tokenizer seconds and a gigabyte to be found too
        long). Never true of a conversation that fits; false means only "render it to know"."""
        return sum(len(m["content"].encode("utf-8")) for m in messages) > max_tokens * self.max_token_bytes

    def fits(self, messages: Sequence[Message], max_tokens: int) -> bool:
        """Whether the rendered conversation is at most `max_tokens` tokens."""
        return not self.surely_longer(messages, max_tokens) and len(self.render(messages)) <= max_tokens

    def generation_prompt(self, messages: object) -> list[int]:
        """The conversation so far, then the assistant opener: what the model continues."""
        return self.render(messages).ids + [self.role_ids["assistant"]]

    def reply(self, generated: Iterable[int]) -> str:
        """The text of a sampled reply: the tokens before the first stop token, decoded, without
        the space the template puts before every content."""
        kept = []
        for token_id in generated:
            if token_id in self.stop_ids:
                break
            kept.append(int(token_id))
        text = self.text_tokenizer.decode(kept, skip_special_tokens=False)
        return text[len(CONTENT_PREFIX) :] if text.startswith(CONTENT_PREFIX) else text

    def jinja(self) -> str:
        return jinja_template(self.tokens)


def _literal(token: str) -> str:
    if "'" in token or "\\" in token or "{" in token or "}" in token:
        raise TemplateError(f"special token {token!r} cannot be written into a Jinja template")
    return f"'{token}'"


def jinja_template(tokens: ChatTokens = ChatTokens()) -> str:
    """The template as transformers' `chat_template` (tokenizer_config.json), the same layout.

    `apply_chat_template(messages, tokenize=True)` gives `ChatTemplate.render(messages).ids`, and
    with `add_generation_prompt=True` gives `generation_prompt(messages)`. The assistant's content
    and closing end sit in a `{% generation %}` block, so `return_assistant_tokens_mask=True`
    reproduces the loss mask. Whitespace control (`{%-`, `-%}`) keeps the template's own layout
    out of the output: only the tokens and the content are printed.
    """
    end = _literal(tokens.end_of_turn)
    return (
        "{%- for message in messages -%}"
        "{%- if message['role'] not in ['system', 'user', 'assistant'] -%}"
        "{{- raise_exception('unknown role: ' ~ message['role']) -}}"
        "{%- endif -%}"
        "{%- endfor -%}"
        f"{{{{- {_literal(tokens.bos)} -}}}}"
        "{%- for message in messages -%}"
        "{%- if message['role'] == 'assistant' -%}"
        f"{{{{- {_literal(tokens.assistant)} -}}}}"
        "{%- generation -%}"
        f"{{{{- ' ' ~ message['content'] ~ {end} -}}}}"
        "{%- endgeneration -%}"
        "{%- elif message['role'] == 'user' -%}"
        f"{{{{- {_literal(tokens.user)} ~ ' ' ~ message['content'] ~ {end} -}}}}"
        "{%- else -%}"
        f"{{{{- {_literal(tokens.system)} ~ ' ' ~ message['content'] ~ {end} -}}}}"
        "{%- endif -%}"
        "{%- endfor -%}"
        "{%- if add_generation_prompt -%}"
        f"{{{{- {_literal(tokens.assistant)} -}}}}"
        "{%- endif -%}"
    )
