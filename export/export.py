#!/usr/bin/env python
"""Export an LPONet to TFLite / ONNX with a parity report (same code as ``lponet export``).

    python export/export.py --preset lponet_lite --quantize int8 \\
        --data /data/300w --output out/lponet_lite_int8.tflite

See ``docs/export.md`` and ``python export/export.py --help``.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from lponet_tf.export.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
