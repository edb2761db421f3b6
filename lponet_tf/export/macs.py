"""Multiply-accumulate count of an LPONet, read from its Keras graph.

Convolutions and dense layers are counted exactly (``output pixels x kernel area x
input channels x output channels / groups``); batch norms fold into the convolutions in
every export, and element-wise layers (adds, ReLUs, resizes, pooling, softmax,
Gram-Schmidt) are listed as ``other`` element counts, not MACs: they are memory-bound.

Example:
    >>> count_macs(build_lponet(channels=128, input_size=128))["total"]  # doctest: +SKIP
"""
from __future__ import annotations

from typing import Dict


def _shape(tensor_shape) -> tuple:
    return tuple(int(d) for d in tensor_shape[1:])


def count_macs(model) -> Dict[str, int]:
    """MACs of one forward pass at batch 1.

    Args:
        model: a Keras LPONet (any Keras functional model with Conv2D / Dense layers).

    Returns:
        ``{"conv": ..., "dense": ..., "total": ..., "other_elements": ...}``.
    """
    conv = dense = other = 0
    for layer in model.layers:
        kind = type(layer).__name__
        if kind in ("Conv2D", "DepthwiseConv2D"):
            h, w, cout = _shape(layer.output.shape)
            cin = int(layer.input.shape[-1])
            kh, kw = layer.kernel_size
            if kind == "DepthwiseConv2D":  # one kernel per output channel
                conv += h * w * kh * kw * cout
            else:
                conv += h * w * kh * kw * cin * cout // getattr(layer, "groups", 1)
        elif kind == "Dense":
            dense += int(layer.input.shape[-1]) * int(layer.units)
        elif kind != "InputLayer":
            outputs = layer.output if isinstance(layer.output, (list, tuple)) else [layer.output]
            for t in outputs:
                n = 1
                for d in _shape(t.shape):
                    n *= d
                other += n
    return {"conv": conv, "dense": dense, "total": conv + dense, "other_elements": other}
