"""auto/on/off settings as YAML 1.1 reads them: a bare on/off is a boolean there, and means the word."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from crisol.core.params import apply_override
from stages.pretrain.params import PretrainParams
from stages.sft.params import SftParams


@pytest.mark.parametrize(("typed", "meant"), [("on", "on"), ("off", "off"), ("auto", "auto"), ("'on'", "on")])
def test_set_on_and_off_mean_the_words(typed, meant):
    tree = {"pretrain": {"compile": "auto", "bf16": "auto"}}
    apply_override(tree, f"pretrain.compile={typed}")  # YAML 1.1: on -> True, off -> False
    assert PretrainParams(**tree["pretrain"]).compile == meant
    assert SftParams(bf16=tree["pretrain"]["compile"]).bf16 == meant


def test_other_values_are_still_refused():
    with pytest.raises(ValidationError, match="'auto', 'on' or 'off'"):
        PretrainParams(compile="maybe")
    with pytest.raises(ValidationError):
        PretrainParams(bf16=1)
