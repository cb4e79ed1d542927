"""Judges: the six-dimension rubric (S_q) and the pairwise arena judge, through a served model or a
local one. One home for both the quality reward (``rewards.quality``) and evaluation."""
