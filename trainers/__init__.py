"""Trainers: turn-level credit assignment and the policy update, joined by declared interfaces.

``config`` (TrainConfig, presets) → ``loop.Trainer`` sets up a ``learner.Learner``, a
``backends.RolloutBackend`` (policy + ``sync.WeightSync``) and a ``credit`` method, then per step:
rollout → ``signals`` → credit → ``batch`` → update → checked weight sync → metrics and atomic
``checkpoint``.  ``sft`` is the supervised warm start; ``compare`` trains several credit methods
side by side.  Import the submodules (this package imports nothing heavy on its own).
"""
