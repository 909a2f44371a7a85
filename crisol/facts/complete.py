"""Turns a tokenizer and a token-level `generate` into the `complete(prompts) -> continuations`
that score_completions asks for, without importing the model package: the caller binds its model,
e.g. `token_completer(tokenizer, functools.partial(sampling.generate, model), probes)`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Sequence

from crisol.facts.probes import FactProbe

if TYPE_CHECKING:
    from tokenizers import Tokenizer

# generate(prompts_ids, max_new_tokens, **kwargs) -> the new tokens of each prompt.
Generate = Callable[..., list[list[int]]]
# crisol.model.sampling.generate reads temperature 0 as argmax (no draw, so no RNG and no ties
# broken at random); pass generate_kwargs for a sampler that spells greedy otherwise.
GREEDY = {"temperature": 0.0}
SLACK_TOKENS = 2  # past the longest answer: room for the boundary after it


class TokenCompleter:
    """Greedy continuations of text prompts, decoded from at most `max_new_tokens` new tokens.

    `max_new_tokens` is the longest answer's token count (as the answer follows a prompt: with
    its leading space) plus SLACK_TOKENS, so that the token after the answer shows whether the
    word ends there. `prefix_ids` go before every prompt, e.g. (eos_id,): in pretraining, a
    document starts right after the previous one's eos, and a probe is read as a fresh start.
    `generate_kwargs` (e.g. stop_ids) are added to the greedy setting.
    """

    def __init__(
        self,
        tokenizer: Tokenizer,
        generate: Generate,
        probes: Sequence[FactProbe],
        *,
        prefix_ids: Sequence[int] = (),
        generate_kwargs: dict[str, Any] | None = None,
    ):
        if not probes:
            raise ValueError("token_completer: no probes to size max_new_tokens from")
        self.tokenizer = tokenizer
        self.generate = generate
        self.prefix_ids = [int(i) for i in prefix_ids]
        self.generate_kwargs = {**GREEDY, **(generate_kwargs or {})}
        longest = max(len(self._ids(" " + answer)) for answer in {p.answer for p in probes})
        self.max_new_tokens = longest + SLACK_TOKENS

    def _ids(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False).ids

    def __call__(self, prompts: list[str]) -> list[str]:
        batch = [self.prefix_ids + self._ids(prompt) for prompt in prompts]
        if any(len(ids) == len(self.prefix_ids) for ids in batch):
            raise ValueError("token_completer: a prompt encodes to no tokens")
        new_tokens = self.generate(batch, self.max_new_tokens, **self.generate_kwargs)
        if len(new_tokens) != len(prompts):
            raise ValueError(f"generate returned {len(new_tokens)} sequences for {len(prompts)} prompts")
        return [self.tokenizer.decode(list(ids), skip_special_tokens=True) for ids in new_tokens]


def token_completer(
    tokenizer: Tokenizer,
    generate: Generate,
    probes: Sequence[FactProbe],
    *,
    prefix_ids: Sequence[int] = (),
    generate_kwargs: dict[str, Any] | None = None,
) -> TokenCompleter:
    """A `complete` for score_completions; see TokenCompleter."""
    return TokenCompleter(tokenizer, generate, probes, prefix_ids=prefix_ids, generate_kwargs=generate_kwargs)
