"""The PPO loop on tiny random models: the first minibatch's ratio is exactly 1 with left-padded
prompts of different lengths; a zero learning rate changes nothing (the KL to the reference stays
0); the reward model reads each response at its stop token and unfinished responses lose the
penalty; a positive learning rate moves the policy away from the reference; and every log-prob
pass divides the logits by the sampling temperature."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from crisol.chat.template import ChatTemplate
from crisol.model.config import ModelConfig
from crisol.model.reward import RewardModel
from crisol.model.transformer import Transformer
from kit.chat import small_tokenizer
from stages.ppo import rollout as rollout_module
from stages.ppo.advantages import FixedKLController
from stages.ppo.rollout import complete_response, rollout
from stages.ppo.trainer import PPOSettings, PPOTrainer, value_model_from

QUESTIONS = [
    "Where was Maren Okafor born?",
    "Who?",
    "When did the river Osk first flood the valley town?",
    "Name a violinist.",
    "Is it far?",
    "What is the capital of Aldoria, and who founded it?",
]


@pytest.fixture(scope="module")
def template() -> ChatTemplate:
    return ChatTemplate(small_tokenizer())


def _transformer(vocab: int, seed: int) -> Transformer:
    torch.manual_seed(seed)
    # init_std 0.3: sharper random distributions, so that updates and temperatures show.
    return Transformer(ModelConfig.from_depth(1, vocab, 64, d_model=32, init_std=0.3)).eval()


def _models(template: ChatTemplate) -> tuple[Transformer, Transformer, RewardModel, RewardModel]:
    vocab = template.text_tokenizer.get_vocab_size()
    reference = _transformer(vocab, 0)
    policy = copy.deepcopy(reference)
    reward_model = RewardModel(_transformer(vocab, 1)).eval()
    return policy, reference, reward_model, value_model_from(reward_model)


def _prompts(template: ChatTemplate, count: int = 6) -> list[list[int]]:
    prompts = [template.generation_prompt([{"role": "user", "content": q}]) for q in QUESTIONS]
    return (prompts * (count // len(prompts) + 1))[:count]


def _trainer(template: ChatTemplate, lr: float, **overrides) -> PPOTrainer:
    settings = PPOSettings(
        **{"max_new_tokens": 8, "temperature": 0.7, "ppo_epochs": 2, "minibatch_size": 4, "lr": lr, **overrides}
    )
    return PPOTrainer(*_models(template), template, settings, FixedKLController(0.05), seed=0)


def test_first_minibatch_ratio_is_exactly_one_with_left_padded_prompts(template):
    trainer = _trainer(template, lr=1e-2, minibatch_size=3)
    prompts = _prompts(template)
    assert len({len(p) for p in prompts}) > 3  # really left-padded, by different amounts
    for step in range(2):
        stats = trainer.step(prompts, seed=step).stats
        assert stats["policy/ratio_first_max_error"] < 1e-6
        assert stats["policy/ratio_first"] == pytest.approx(1.0, abs=1e-6)
    # Later minibatches saw updates: the ratio statistic is able to move at all.
    assert stats["policy/approxkl"] > 0


def test_zero_learning_rate_changes_nothing_and_kl_stays_zero(template):
    trainer = _trainer(template, lr=0.0)
    before = copy.deepcopy(trainer.policy.state_dict())
    for step in range(3):
        stats = trainer.step(_prompts(template), seed=step).stats
        assert stats["objective/kl"] == 0.0
        assert stats["objective/non_score_reward"] == 0.0
        assert stats["objective/rlhf_reward"] == pytest.approx(stats["objective/scores"])
        assert stats["policy/approxkl"] < 1e-12
    after = trainer.policy.state_dict()
    assert all(torch.equal(before[name], after[name]) for name in before)


def test_positive_learning_rate_moves_the_policy_away_from_the_reference(template):
    trainer = _trainer(template, lr=3e-2, ppo_epochs=4)
    before = copy.deepcopy(trainer.policy.state_dict())
    kls = [trainer.step(_prompts(template, 12), seed=step).stats["objective/kl"] for step in range(4)]
    after = trainer.policy.state_dict()
    assert any(not torch.equal(before[name], after[name]) for name in before)
    assert kls[0] == 0.0  # the first rollout still samples the reference itself
    assert kls[-1] > 0.0
    # frozen models stay frozen
    assert not any(p.requires_grad for p in trainer.reference.parameters())
    assert not any(p.requires_grad for p in trainer.reward_model.parameters())


def test_complete_response_restores_the_stop_token():
    assert complete_response([5, 6], 4, end_id=1, other_stops={2}) == ([5, 6, 1], True)
    assert complete_response([5, 2, 7], 4, end_id=1, other_stops={2}) == ([5, 2], True)
    assert complete_response([5, 6, 7, 8], 4, end_id=1, other_stops={2}) == ([5, 6, 7, 8], False)
    assert complete_response([5, 6, 7], 4, end_id=1, other_stops={2}) == ([5, 6, 7, 1], True)


def test_reward_is_read_at_the_stop_token_and_unfinished_replies_pay(template, monkeypatch):
    models = _models(template)
    _, _, reward_model, _ = models
    prompts = _prompts(template, 3)
    end, eos = template.end_id, template.eos_id
    words = template.encode_content("Ravel is far away")
    # What generate returns when stopping on <|end|>: row 0 stopped early (its end cut off),
    # row 1 emitted <|eos|> and decoded on, row 2 ran out of tokens.
    fake = [words[:2], [words[0], eos, words[1], words[2]], words[:4]]
    calls = {}

    def fake_generate(model, prompts_, max_new_tokens, **kwargs):
        calls.update(kwargs, max_new_tokens=max_new_tokens)
        return [list(r) for r in fake]

    monkeypatch.setattr(rollout_module, "generate", fake_generate)
    batch = rollout(*models, prompts, template, max_new_tokens=4, temperature=0.7, missing_eos_penalty=1.5, seed=3)
    assert calls["stop_ids"] == (end,) and calls["temperature"] == 0.7 and calls["seed"] == 3
    assert calls["top_k"] is None and calls["top_p"] is None
    expected = [[*words[:2], end], [words[0], eos], words[:4]]
    assert batch.finished.tolist() == [True, True, False]
    assert batch.lengths.tolist() == [3, 2, 4]
    assert batch.mask.tolist() == [[1, 1, 1, 0], [1, 1, 0, 0], [1, 1, 1, 1]]
    width = batch.prompt_width
    for row, response in enumerate(expected):
        assert batch.response[row, : len(response)].tolist() == response
        assert int(batch.last[row]) == width + len(response) - 1
        assert int(batch.ids[row, batch.last[row]]) == response[-1]
        assert int(batch.starts[row]) == width - len(prompts[row])
    assert batch.replies[0] == template.reply(words[:2])
    with torch.no_grad():
        # Each row alone, unpadded, scored at its final token: what the batch must have read.
        alone = [
            float(reward_model(torch.tensor([p + r]), torch.tensor([len(p) + len(r) - 1])))
            for p, r in zip(prompts, expected)
        ]
    assert batch.rm_scores.tolist() == pytest.approx(alone, abs=1e-5)
    assert batch.scores.tolist() == pytest.approx([alone[0], alone[1], alone[2] - 1.5], abs=1e-5)


def test_old_logprobs_apply_the_temperature(template):
    models = _models(template)
    policy, _, _, value_model = models
    prompts = _prompts(template, 4)
    batch = rollout(*models, prompts, template, max_new_tokens=6, temperature=0.7, missing_eos_penalty=1.0, seed=0)
    with torch.no_grad():
        for row, prompt in enumerate(prompts):
            length = int(batch.lengths[row])
            response = batch.response[row, :length]
            logits, _ = policy(torch.tensor([prompt + response.tolist()]))
            predicting = logits[0, len(prompt) - 1 : len(prompt) - 1 + length]
            by_hand = F.log_softmax(predicting / 0.7, dim=-1).gather(-1, response[:, None]).squeeze(-1)
            untempered = F.log_softmax(predicting, dim=-1).gather(-1, response[:, None]).squeeze(-1)
            torch.testing.assert_close(batch.logprobs[row, :length], by_hand, atol=1e-5, rtol=1e-5)
            assert not torch.allclose(batch.logprobs[row, :length], untempered, atol=1e-3)
            # the reference is the same network: its log-probs match, and so would a KL of 0
            torch.testing.assert_close(batch.ref_logprobs[row, :length], by_hand, atol=1e-5, rtol=1e-5)
            values = value_model.values(torch.tensor([prompt + response.tolist()]))[0]
            torch.testing.assert_close(
                batch.values[row, :length], values[len(prompt) - 1 : len(prompt) - 1 + length], atol=1e-5, rtol=1e-5
            )


def test_value_model_starts_at_zero_or_on_the_scores_scale(template):
    _, _, reward_model, _ = _models(template)
    reward_model.set_normalisation(2.0, 4.0)
    ids = torch.tensor([_prompts(template, 1)[0]])
    zero = value_model_from(reward_model, "zero")
    assert torch.equal(zero.values(ids), torch.zeros(ids.shape))
    folded = value_model_from(reward_model, "reward")
    expected = (reward_model.values(ids) - 2.0) / 4.0  # the head, normalised like the scores
    assert torch.allclose(folded.values(ids), expected, atol=1e-6)
    assert float(reward_model.shift) == 2.0  # the reward model itself is untouched
    with pytest.raises(ValueError, match="zero"):
        value_model_from(reward_model, "random")


def test_balanced_prompts_draw_each_kind_equally_often():
    from crisol.formats.conversations import qa
    from stages.ppo.prompts import PromptSampler

    examples = [qa(f"f{i}", "fact", "rl", "q", "a") for i in range(90)] + [qa("c0", "count", "rl", "q", "a")]
    drawn = PromptSampler(examples, balance_kinds=True, seed=0).batch(2000)
    counts = {kind: sum(e.kind == kind for e in drawn) for kind in ("fact", "count")}
    assert 900 < counts["count"] < 1100  # one prompt of ninety-one, half the draws
    uniform = PromptSampler(examples, balance_kinds=False, seed=0).batch(32)
    assert len({e.id for e in uniform}) == 32  # without replacement
