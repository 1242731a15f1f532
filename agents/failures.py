"""Why an episode ended early: an infrastructure fault, or the policy's own doing.

The trainer leaves ``Trajectory.failed`` episodes out of the update.  That is right only for
episodes that are not samples of the policy: dropping an episode the policy itself broke (it
filled the context, or wrote something the chat template cannot render back) would bias the
update toward the episodes that did not break.  So the rollout asks :func:`is_infrastructure_error`
about every exception that cuts an episode short:

* infrastructure (``True``, the episode is marked ``failed``): a tool's machinery
  (:class:`tools.calls.ToolInfrastructureError`); a policy engine or server that is unreachable,
  disconnects, times out or answers 5xx (``ConnectionError``, ``TimeoutError``,
  ``httpx.TransportError``, :class:`agents.vllm_policy.VLLMError`); an engine's own fault such as
  CUDA out of memory; a set-up mismatch such as an image for a text-only model
  (:class:`agents.tokens.ImagesNotSupported`).  An exception of a kind not listed below counts as
  infrastructure too: a failed episode is visible (counted, and a step where most episodes fail
  stops the run), while training on episodes cut short by a bug would hide the bug.
* the policy's doing (``False``, the episode ends with the reward it earned and is trained on):
  the context is full (:class:`agents.tokens.ContextExhausted`, also what
  :class:`~agents.vllm_policy.VLLMPolicy` raises when the server refuses a prompt as too long), or
  the chat template cannot render the conversation the policy produced
  (:class:`agents.tokens.TemplateError`, or the template's own ``raise_exception``, a
  ``jinja2`` ``TemplateError``).  :func:`end_reason` names such an end for ``Trajectory.finish_reason``.

Two places are not classified: an env that raises from ``reset`` or ``step`` has a bug (bad
actions are observations, not exceptions), and a first observation that cannot be rendered
(``start_conversation``) was refused before the policy sampled anything; the rollout marks both
failed, since neither episode holds a sample of the policy.
"""

from __future__ import annotations

from agents.tokens import ContextExhausted, TemplateError


def _template_refusal(exc: BaseException) -> bool:
    """A chat template's ``raise_exception``: exactly jinja2's base ``TemplateError`` (its subclasses,
    a syntax error or an undefined variable, are a broken template: a set-up fault)."""
    try:
        from jinja2.exceptions import TemplateError as JinjaTemplateError
    except ImportError:  # no jinja2: no chat templates either
        return False
    return type(exc) is JinjaTemplateError


def is_infrastructure_error(exc: BaseException) -> bool:
    """True when ``exc`` means the episode is not a sample of the policy (see the module docstring)."""
    return not (isinstance(exc, (ContextExhausted, TemplateError)) or _template_refusal(exc))


def end_reason(exc: BaseException) -> str:
    """The ``finish_reason`` of an episode the policy ended by ``exc``: ``length`` (no context left)
    or ``unrenderable`` (the template cannot render the conversation)."""
    return "length" if isinstance(exc, ContextExhausted) else "unrenderable"
