"""StepSortedSampler: the same optimizer steps as a random order, sorted by length inside each step."""

from lengthwise.training.batching import StepSortedSampler


def test_each_step_holds_the_random_draw_sorted_longest_first():
    lengths = [5, 50, 7, 90, 3, 40, 60, 8, 30, 20]
    sampler = StepSortedSampler(lengths, step_size=4, seed=3)
    order = list(sampler)
    assert sorted(order) == list(range(10))  # every index once per epoch
    steps = [order[i:i + 4] for i in range(0, 10, 4)]
    for step in steps:
        assert [lengths[i] for i in step] == sorted((lengths[i] for i in step), reverse=True)
    # the steps are random draws, not a global sort: the longest answers are not all in the first step
    assert steps[0] != sorted(range(10), key=lambda i: -lengths[i])[:4]


def test_epochs_differ_and_are_reproducible_for_a_resume():
    lengths = list(range(40))
    sampler = StepSortedSampler(lengths, step_size=8, seed=0)
    first, second = list(sampler), list(sampler)
    assert first != second  # a new order each pass over the data
    resumed = StepSortedSampler(lengths, step_size=8, seed=0)
    resumed.set_epoch(1)
    assert list(resumed) == second
