"""``python -m lponet_tf.export ...``: the ``lponet export`` command."""
import sys

from lponet_tf.export.cli import main

sys.exit(main())
