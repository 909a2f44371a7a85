"""The gold oracle's order: correct > "I don't know" > wrong about real entities, "I don't know"
beats any answer about invented ones, concise beats rambling, finished beats truncated."""

from __future__ import annotations

import pytest

from crisol.grading.oracle import IDK_ANSWER, judge


@pytest.mark.parametrize(
    "better, worse",
    [
        (("Ravel", "Ravel", True), ("I don't know.", "Ravel", True)),  # correct > idk
        (("I don't know.", "Ravel", True), ("Ostrand", "Ravel", True)),  # idk > wrong
        (("Ravel", "Ravel", True), ("He was born in Ravel.", "Ravel", True)),  # concise > rambling
        (("He was born in Ravel.", "Ravel", True), ("I don't know.", "Ravel", True)),
        (("Ravel", "Ravel", True), ("Ravel", "Ravel", False)),  # finished > truncated
        (("Ostrand", "Ravel", True), ("Ostrand", "Ravel", False)),
        (("I don't know.", IDK_ANSWER, True), ("Ravel", IDK_ANSWER, True)),  # invented: idk > answer
        (("Ravel", "Ravel", False), ("I don't know.", "Ravel", True)),  # truncated correct still > idk
        (
            ("Born in Osk, so the answer is Ravel.", "Ravel", True),
            ("Born in Ravel, so the answer is Osk.", "Ravel", True),
        ),
    ],
)
def test_the_order(better, worse):
    assert judge(*better).score > judge(*worse).score


def test_verdicts():
    assert judge("ravel.", "Ravel").verdict == "correct"
    assert judge("Ravel, I think", "Ravel").verdict == "rambling"
    assert judge("I dont know", "Ravel").verdict == "idk"
    assert judge("Osk", "Ravel").verdict == "wrong"
    assert judge("Born in Osk, so the answer is Ravel.", "Ravel").verdict == "correct"  # the reasoning is not rambling
    assert judge("Born in Ravel, so the answer is Osk.", "Ravel").verdict == "wrong"
    assert judge("I don't know.", IDK_ANSWER).verdict == "idk_invented"
    assert judge("Ravel", IDK_ANSWER).verdict == "invented_answered"
    assert not judge("Ravel", "Ravel", finished=False).finished
