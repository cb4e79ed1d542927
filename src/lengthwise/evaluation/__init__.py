"""Measuring long-form writing: LongBench-Write scores, judges, arena, audit, reports."""
