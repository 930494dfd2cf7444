"""Evaluations of the field's benchmarks (tatoeba, mining, bli, ...), each returning the one Result."""

from xling.evaluation.result import Result

__all__ = ["Result"]
