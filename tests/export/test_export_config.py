"""`xling export onnx` settings: defaults in one place, bad values named."""

import pytest

from xling.config import load_config
from xling.errors import ConfigError
from xling.export.config import INT8_MIN_COSINE, OnnxExportConfig


def test_options_not_given_keep_the_defaults():
    config = load_config(OnnxExportConfig, None, [], section="export_onnx", int8=None, int8_min_cosine=None)
    assert config.int8 is False and config.int8_min_cosine == INT8_MIN_COSINE


@pytest.mark.parametrize("override", ["int8_min_cosine=1.5", "int8_min_cosine=0", "int8_outlier_channels=-1"])
def test_a_bad_value_names_its_field(override):
    with pytest.raises(ConfigError, match=override.split("=")[0]):
        load_config(OnnxExportConfig, None, [override])
