"""The one chat template: conversations to token ids and loss masks, generation prompts, stop
tokens, and the same template as Jinja for transformers. A library package (not a stage): SFT
training, sampling, RLHF and evaluation all render conversations through it.
"""

from __future__ import annotations

from crisol.chat.hf_template import add_chat_template
from crisol.chat.template import ROLES, ChatTemplate, ChatTokens, Rendered, TemplateError, jinja_template

__all__ = ["ROLES", "ChatTemplate", "ChatTokens", "Rendered", "TemplateError", "add_chat_template", "jinja_template"]
