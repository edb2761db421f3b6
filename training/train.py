#!/usr/bin/env python
"""Train LPONet: ``python training/train.py --config stage1``.

The same code as ``lponet train`` (lponet_tf/training/cli.py).
"""
import sys

from lponet_tf.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
