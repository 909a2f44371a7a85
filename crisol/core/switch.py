"""An auto/on/off setting (bf16, compile), as a params file or `--set` gives it.

YAML 1.1, which params files are read with, reads a bare `on` or `off` as a boolean: `--set
pretrain.compile=on` arrived as True and was refused as "not 'auto', 'on' or 'off'". A boolean is
taken as the word it was written as.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator


def _words_for_booleans(value: Any) -> Any:
    if value is True:
        return "on"
    if value is False:
        return "off"
    return value


Switch = Annotated[Literal["auto", "on", "off"], BeforeValidator(_words_for_booleans)]
