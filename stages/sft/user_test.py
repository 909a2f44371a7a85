"""Did SFT help on held-out instructions: the mean cross-entropy per assistant token (and its
perplexity) on the user's test rows, for the model SFT started from and for the model it kept.

Free-text answers have no exact match to grade; the loss on the held-out gold answers is what the
step was selected by (on validation) and what says whether SFT generalised (on test).
"""

from __future__ import annotations

import math
from typing import Any

from stages.sft.batches import Sequence


def held_out_user_figures(
    sequences: list[Sequence], base_loss: float | None, sft_loss: float | None
) -> dict[str, Any] | None:
    """Assistant-token loss and perplexity on the user's held-out (test) rows, base vs SFT; None without any."""
    if not sequences or base_loss is None or sft_loss is None:
        return None

    def figures(loss: float) -> dict[str, float]:
        return {"loss": round(loss, 5), "perplexity": round(math.exp(loss), 3)}

    return {
        "n": len(sequences),
        "assistant_tokens": sum(s.trained_tokens for s in sequences),
        "base": figures(base_loss),
        "sft": figures(sft_loss),
        "loss_change": round(sft_loss - base_loss, 5),
    }
