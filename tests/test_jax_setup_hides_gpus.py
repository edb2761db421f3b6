"""trainer._other_backend_setup keeps TensorFlow off the GPUs (it would take nearly all of
a GPU's memory beside JAX's pool). No GPU is needed: TensorFlow's call is recorded. Runs in
the suite's TensorFlow process (the setup's JAX branch is skipped there); seconds."""
import pytest

tf = pytest.importorskip("tensorflow")


def test_another_backends_setup_hides_the_gpus_from_tensorflow(monkeypatch):
    from lponet_tf.training import trainer

    calls = []
    monkeypatch.setattr(tf.config, "set_visible_devices",
                        lambda devices, kind=None: calls.append((list(devices), kind)))
    trainer._other_backend_setup({"distribute": "none", "batch_size": 4})
    assert calls == [([], "GPU")]


def test_tensorflow_already_started_is_not_an_error(monkeypatch):
    from lponet_tf.training import trainer

    def started(devices, kind=None):
        raise RuntimeError("Visible devices cannot be modified after being initialized")

    monkeypatch.setattr(tf.config, "set_visible_devices", started)
    trainer._other_backend_setup({"distribute": "none", "batch_size": 4})  # no error
