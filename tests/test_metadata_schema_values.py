"""_check_schema's refusal of values that are not a schema number (a damaged or hand-edited
record). The suite tries only a newer version. Pure Python, no model, no shared data."""
import json

import pytest

from lponet_tf import metadata as md


@pytest.mark.parametrize("version", [-1, True, 1.0, "1", None])
def test_a_schema_version_that_is_not_a_whole_number_is_refused(version):
    values = json.loads(md.ModelMetadata(input_size=64, num_landmarks=68, pose="6d").to_json())
    values["schema_version"] = version
    with pytest.raises(md.MetadataError, match="schema_version must be a whole number") as err:
        md.ModelMetadata.from_dict(values)
    assert not isinstance(err.value, md.NewerMetadataError)  # damaged, not "upgrade"


def test_the_current_and_older_schemas_are_read():
    values = json.loads(md.ModelMetadata(input_size=64, num_landmarks=68, pose="6d").to_json())
    for version in (0, md.SCHEMA_VERSION):
        assert md.ModelMetadata.from_dict(dict(values, schema_version=version)).schema_version == version


def test_the_next_schema_is_refused_as_newer():
    values = json.loads(md.ModelMetadata(input_size=64, num_landmarks=68, pose="6d").to_json())
    with pytest.raises(md.NewerMetadataError, match=f"metadata schema {md.SCHEMA_VERSION + 1};"):
        md.ModelMetadata.from_dict(dict(values, schema_version=md.SCHEMA_VERSION + 1))
