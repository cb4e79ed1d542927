"""Adapters for other RL frameworks (verl)."""
