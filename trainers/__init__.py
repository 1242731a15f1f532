"""Trainers: credit assignment (outcome, information gain, progress, GiGPO) and policy updates.

Empty for now: trainers consume ``agents.Trajectory`` records and arrive after token-exact
rollouts exist.
"""
