"""The reward model reads its score at each row's last real token (right or left padding), saves and
loads with its normalisation, which falls back to scale 1 when the scores do not spread; generated
pairs follow the oracle (or Bradley-Terry noise); and the Bradley-Terry loop learns a preference the
data makes learnable."""

from __future__ import annotations

import json
import logging

import pytest
import torch

from crisol.chat.template import ChatTemplate
from crisol.core.errors import StageInputError
from crisol.formats.conversations import qa
from crisol.grading.oracle import judge
from crisol.model.config import ModelConfig
from crisol.model.reward import Answered, RewardModel, load_reward_model, save_reward_model
from crisol.model.transformer import Transformer
from crisol.model.weights import save_model
from kit.chat import small_tokenizer
from stages.reward.generated import Sample, pairs_from_samples
from stages.reward.normalise import PAIR_RESPONSES, fit_normalisation
from stages.reward.preference import Preference
from stages.reward.train import answer_ids, encode_pair, pair_metrics, score_pairs, train_reward_model


def reward_model(vocab: int = 64, context: int = 32) -> RewardModel:
    torch.manual_seed(0)
    return RewardModel(Transformer(ModelConfig.from_depth(1, vocab, context, d_model=32))).eval()


@torch.no_grad()
def test_the_score_is_read_at_the_last_real_token_whatever_the_padding():
    model = reward_model()
    rows = [[5, 6, 7, 8, 9], [10, 11, 12]]
    alone = [float(model(torch.tensor([r]), torch.tensor([len(r) - 1]))) for r in rows]
    right = torch.tensor([rows[0], rows[1] + [0, 0]])
    assert model(right, torch.tensor([4, 2])).tolist() == pytest.approx(alone, abs=1e-5)
    left = torch.tensor([rows[0], [0, 0] + rows[1]])
    assert model(left, torch.tensor([4, 4]), starts=torch.tensor([0, 2])).tolist() == pytest.approx(alone, abs=1e-5)
    # a pad slot is not where the score comes from: reading there gives another number
    assert float(model(right, torch.tensor([4, 4]))[1]) != pytest.approx(alone[1], abs=1e-3)


@torch.no_grad()
def test_normalisation_save_and_load(tmp_path):
    model = reward_model()
    ids, last = torch.tensor([[1, 2, 3]]), torch.tensor([2])
    raw = float(model.raw(ids, last))
    model.set_normalisation(mean=raw - 2.0, std=0.5)
    assert float(model(ids, last)) == pytest.approx(4.0, abs=1e-4)
    model.likelihood_weight.fill_(0.75)
    save_reward_model(model, tmp_path / "rm")
    loaded = load_reward_model(tmp_path / "rm").eval()
    assert float(loaded(ids, last)) == pytest.approx(4.0, abs=1e-4)
    assert float(loaded.likelihood_weight) == 0.75
    save_model(Transformer(model.body.config), tmp_path / "plain")
    with pytest.raises(StageInputError, match="not a reward model"):
        load_reward_model(tmp_path / "plain")
    with pytest.raises(ValueError, match="positive std"):
        model.set_normalisation(0.0, 0.0)


@torch.no_grad()
def test_normalisation_fits_mean_and_std_and_falls_back_when_scores_do_not_spread():
    model = reward_model()
    rows = [Answered([5, 6, 7], 1), Answered([8, 9], 1), Answered([10, 11, 12, 13], 2)]
    cpu = torch.device("cpu")
    entry = fit_normalisation(model, rows, PAIR_RESPONSES, 0, cpu)
    assert entry["on"] == PAIR_RESPONSES and entry["n"] == 3 and entry["fallback"] is None
    assert float(model.scale) == pytest.approx(entry["raw_std"], abs=1e-5) and float(model.scale) > 0
    model.head.weight.zero_()  # every score equal: std 0, so the scores are only centred
    model.head.bias.fill_(0.5)
    entry = fit_normalisation(model, rows, PAIR_RESPONSES, 0, cpu)
    assert "scale 1" in entry["fallback"] and float(model.scale) == 1.0 and float(model.shift) == pytest.approx(0.5)
    for degenerate in ([], rows[:1]):  # no score, or one: no std either, and no NaN in the metrics
        entry = fit_normalisation(model, degenerate, PAIR_RESPONSES, 0, cpu)
        assert entry["fallback"] and entry["raw_std"] is None and float(model.scale) == 1.0
        json.dumps(entry, allow_nan=False)


def _samples(replies: list[tuple[str, bool]], gold: str = "Ravel") -> list[Sample]:
    example = qa("fact:1", "fact", "train", "Where was A born?", gold)
    return [Sample(example, text, judge(text, gold, finished)) for text, finished in replies]


def test_pairs_follow_the_oracle_and_skip_ties():
    samples = _samples([("Ravel", True), ("Ravel", True), ("Osk", True), ("Ravel", False), ("I don't know.", True)])
    generated = pairs_from_samples(samples, pairs_per_prompt=10, label_noise=0.0, seed=0)
    # distinct replies: Ravel, Osk, Ravel-truncated, idk -> 4 with 4 different scores: 6 pairs
    assert len(generated.pairs) == 6
    for pair in generated.pairs:
        assert (
            judge(pair.chosen, "Ravel", pair.chosen_finished).score
            > judge(pair.rejected, "Ravel", pair.rejected_finished).score
        )
    ties = pairs_from_samples(_samples([("Ravel", True), ("ravel", True)]), 10, 0.0, 0)
    assert ties.pairs == [] and ties.prompts_without_pair == 1
    assert generated.summary()["sft_verdicts"] == {"correct": 3, "wrong": 1, "idk": 1}


def test_label_noise_flips_close_pairs_more_often():
    samples = _samples([("Ravel", True), ("Ravel", False), ("Osk", True)] * 1)
    flips = [pairs_from_samples(samples, 10, label_noise=1.0, seed=s).flipped for s in range(200)]
    assert 0 < sum(flips) < 200 * 3
    assert sum(pairs_from_samples(samples, 10, label_noise=0.0, seed=s).flipped for s in range(20)) == 0


def test_a_truncated_answer_has_no_end_token():
    template = ChatTemplate(small_tokenizer())
    prompt = [{"role": "user", "content": "Where was A born?"}]
    finished, truncated = answer_ids(template, prompt, "Ravel", True), answer_ids(template, prompt, "Ravel", False)
    assert finished.ids[-1] == template.end_id and truncated.ids[-1] != template.end_id
    assert finished.answer_start == len(template.generation_prompt(prompt))
    assert finished.ids[finished.answer_start : -1] == template.encode_content("Ravel")


@torch.no_grad()
def test_the_likelihood_term_is_the_mean_log_probability_of_the_answer():
    model = reward_model()
    model.likelihood_weight.fill_(2.0)
    ids = torch.tensor([[5, 6, 7, 8, 9, 10]])
    last, start = torch.tensor([4]), torch.tensor([2])  # the answer is ids 7, 8, 9
    logits, _ = model.body(ids)
    logp = torch.log_softmax(logits[0], -1)
    expected = (logp[1, 7] + logp[2, 8] + logp[3, 9]) / 3
    head_only = float(model.raw(ids, last))
    assert float(model.raw(ids, last, answer_start=start)) == pytest.approx(head_only + 2.0 * float(expected), abs=1e-4)
    # left padding with starts: the same score
    padded = torch.tensor([[0, 0, 5, 6, 7, 8, 9, 10]])
    assert float(model.raw(padded, last + 2, starts=torch.tensor([2]), answer_start=start + 2)) == pytest.approx(
        float(model.raw(ids, last, answer_start=start)), abs=1e-4
    )


def test_bradley_terry_training_learns_a_learnable_preference():
    """Chosen answers say 'Ravel', rejected ones another word: an untrained model ranks them at random,
    a trained one must get every held-out pair right."""
    template = ChatTemplate(small_tokenizer())
    vocab = template.text_tokenizer.get_vocab_size()
    model = RewardModel(Transformer(ModelConfig.from_depth(1, vocab, 64, d_model=32)))
    others = ["Osk", "Tam", "Bel", "Kor", "Dun", "Mira", "Sel", "Vox"]
    pairs = [
        Preference(
            f"p{i}",
            "train",
            [{"role": "user", "content": f"Question {i}?"}],
            "Ravel",
            others[i % len(others)],
            "generated",
            "fact",
        )
        for i in range(64)
    ]
    encoded = [encode_pair(template, p) for p in pairs]
    train, held_out = encoded[:48], encoded[48:]
    before = pair_metrics(*score_pairs(model, held_out, template.pad_id, torch.device("cpu")))
    result = train_reward_model(
        model,
        train,
        held_out,
        epochs=6,
        batch_size=8,
        lr=3e-3,
        warmup_steps=2,
        margin=0.0,
        centring=0.0,
        grad_clip=1.0,
        eval_every=6,
        seed=0,
        pad_id=template.pad_id,
        device=torch.device("cpu"),
        log=logging.getLogger("test"),
    )
    after = pair_metrics(*score_pairs(model, held_out, template.pad_id, torch.device("cpu")))
    assert before["accuracy"] < 0.9
    assert after["accuracy"] == 1.0 and after["margin"] > before["margin"]
    assert result.best["accuracy"] == 1.0 and result.steps == 36
