"""benchmarks/bench_common.py: speed_rounds rotates the contenders' order from round to round."""

from __future__ import annotations


class Figures:
    def __init__(self, name: str):
        self.name = name

    def summary(self) -> dict[str, str]:
        return {"name": self.name}

    def speed_line(self) -> str:
        return self.name


def test_speed_rounds_rotate_the_order(load_benchmark):
    bench_common = load_benchmark("bench_common")
    calls: list[str] = []

    def run_one(name: str) -> Figures:
        calls.append(name)
        return Figures(name)

    rounds = bench_common.speed_rounds(3, ("a", "b", "c"), run_one)
    assert calls == ["a", "b", "c", "b", "c", "a", "c", "a", "b"]
    assert [list(r) for r in rounds] == [["a", "b", "c"]] * 3  # each round keyed in the contenders' order
    assert rounds[1]["c"] == {"name": "c"}
