"""The OpenAI request bodies the server accepts, validated strictly (a string where a number
belongs is a 400, not a guess), and OpenAI's error body.

Unknown fields are ignored, as OpenAI-compatible servers do, so clients that send newer options
(`user`, `frequency_penalty` at its default, ...) still work; an option that would change the
output and that this server does not implement is refused by name instead (UNSUPPORTED).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

Role = Literal["system", "user", "assistant"]


def _encodable(value):
    """A text field's string(s), refused when UTF-8 cannot carry them: JSON's \\ud800 escapes can
    hold a lone surrogate, which the tokenizer rejects (a 500 otherwise)."""
    for text in [value] if isinstance(value, str) else value if isinstance(value, list) else ():
        if isinstance(text, str) and not text.isascii():
            try:
                text.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise ValueError(f"not valid Unicode text (a lone surrogate at character {exc.start})") from None
    return value


Utf8 = AfterValidator(_encodable)

# Options that change what a model returns: silently ignoring them would give a wrong answer.
UNSUPPORTED = {
    "tools": None,
    "tool_choice": None,
    "functions": None,
    "response_format": None,
    "frequency_penalty": 0,
    "presence_penalty": 0,
    "logit_bias": None,
    "best_of": 1,
    "suffix": None,
}


class Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")

    @model_validator(mode="after")
    def _refuse_unsupported(self):
        for name, neutral in UNSUPPORTED.items():
            value = (self.model_extra or {}).get(name, neutral)
            if value not in (neutral, None) and value != {} and value != []:
                raise ValueError(f"{name} is not supported by this server")
        return self


class TextPart(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")
    type: Literal["text"]
    text: Annotated[str, Utf8]


class ChatMessage(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")
    role: Role
    content: Annotated[str | list[TextPart], Utf8]

    @property
    def text(self) -> str:
        return self.content if isinstance(self.content, str) else "".join(p.text for p in self.content)


class StreamOptions(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")
    include_usage: bool = False


class Generation(Strict):
    """What chat and text completions share."""

    model: str
    temperature: float = Field(1.0, ge=0, le=2)
    top_p: float = Field(1.0, gt=0, le=1)
    n: int = Field(1, ge=1)
    stop: Annotated[str | list[str] | None, Utf8] = None
    seed: int | None = Field(None, ge=-(2**63), le=2**63 - 1)  # torch's generators take 64-bit seeds
    stream: bool = False
    stream_options: StreamOptions | None = None

    @model_validator(mode="after")
    def _at_most_four_stops(self):
        if isinstance(self.stop, list) and len(self.stop) > 4:
            raise ValueError("stop: at most 4 sequences")
        return self

    @property
    def stop_strings(self) -> list[str]:
        return [self.stop] if isinstance(self.stop, str) else list(self.stop or [])

    @property
    def include_usage(self) -> bool:
        return bool(self.stream_options and self.stream_options.include_usage)


class ChatRequest(Generation):
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)

    @property
    def token_budget(self) -> int | None:
        return self.max_completion_tokens if self.max_completion_tokens is not None else self.max_tokens


class CompletionRequest(Generation):
    prompt: Annotated[str | list[str] | list[int] | list[list[int]], Utf8]
    max_tokens: int = Field(16, ge=0)  # OpenAI's default for completions
    echo: bool = False
    logprobs: int | None = Field(None, ge=0, le=20)

    @property
    def token_budget(self) -> int:
        return self.max_tokens


class TokenizeRequest(Strict):
    """vLLM's /tokenize (lm-eval's remote tokenizer uses it)."""

    prompt: Annotated[str, Utf8]
    add_special_tokens: bool = False
    model: str | None = None


class DetokenizeRequest(Strict):
    tokens: list[int]
    model: str | None = None


def error_body(
    message: str, kind: str = "invalid_request_error", param: str | None = None, code: str | None = None
) -> dict:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}
