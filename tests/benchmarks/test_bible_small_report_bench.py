"""benchmarks/bible_small_report.py: the variants' averages side by side cover the same languages."""

from __future__ import annotations

import math


def test_averages_leave_a_language_out_of_every_variant_when_one_lacks_its_figure(load_benchmark):
    bench = load_benchmark("bible_small_report")
    rows = [
        {"ppl_mlm": 10.0, "ppl_tlm": 20.0, "retrieval_mlm": 50.0, "retrieval_tlm": 70.0, "chance": 1.0},
        {"ppl_mlm": 1000.0, "ppl_tlm": math.nan, "retrieval_mlm": 10.0, "retrieval_tlm": 30.0, "chance": 1.0},
    ]
    means = bench.averages(rows, ["mlm", "tlm"])
    # the second language has no TLM perplexity: out of both perplexity means, in both retrieval means
    assert (means["ppl_mlm"], means["ppl_tlm"], means["ppl_languages"]) == (10.0, 20.0, 1)
    assert (means["retrieval_mlm"], means["retrieval_tlm"], means["retrieval_languages"]) == (30.0, 50.0, 2)
