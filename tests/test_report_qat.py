"""The report pairs each QAT variant with the post-training variant of the same bit widths."""

import dataclasses

from conftest import REPO

from compression_audit.core.config import QuantVariant, load_params
from compression_audit.report.collect import Cell, Comparison
from compression_audit.report.report import qat_pairs


def cell_with(*variants):
    return Cell("cifar10", "lenet5", train={}, prune={}, quantize={},
                comparisons={v: Comparison(v, details={}, headline={}) for v in variants})


def test_each_qat_variant_meets_its_post_training_sibling():
    params = load_params(REPO / "params.yaml")
    assert qat_pairs(params, cell_with("seed1", "w8a8", "w4a8", "w8a8_qat", "w4a8_qat")) == [
        ("w8a8", "w8a8_qat"), ("w4a8", "w4a8_qat")]


def test_a_qat_variant_without_a_compared_sibling_is_left_out():
    params = load_params(REPO / "params.yaml")
    assert qat_pairs(params, cell_with("w8a8", "w4a8_qat")) == []  # w4a8 itself is not compared
    assert qat_pairs(params, cell_with("w8a8", "w8a8_qat")) == [("w8a8", "w8a8_qat")]
    # a QAT variant at bit widths no post-training variant has finds no partner
    variants = {**params.quantize.variants, "w4a8": QuantVariant(4, 8, qat_epochs=2)}
    other = dataclasses.replace(params, quantize=dataclasses.replace(params.quantize, variants=variants))
    assert qat_pairs(other, cell_with("w8a8", "w4a8", "w4a8_qat", "w8a8_qat")) == [("w8a8", "w8a8_qat")]
