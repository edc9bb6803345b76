"""read_config: the config the tools run with formats its text once."""
import copy

import pytest
from mmengine.config import Config
from yapf.yapflib import yapf_api

from rmt_mm.fileio import config_file
from rmt_mm.fileio.config_file import FormattedOnceConfig, read_config


@pytest.fixture
def counted_formatting(monkeypatch):
    """Counts yapf's runs (the formatting itself is unchanged)."""
    calls = []
    format_code = yapf_api.FormatCode

    def counted(*args, **kwargs):
        calls.append(1)
        return format_code(*args, **kwargs)

    monkeypatch.setattr('mmengine.config.config.FormatCode', counted)
    monkeypatch.setattr(config_file, '_FORMATTED', type(
        config_file._FORMATTED)())
    return calls


def test_text_is_configs_and_formatted_once(tmp_path, counted_formatting):
    path = tmp_path / 'cfg.py'
    path.write_text("model = dict(type='X', layers=[1, 2, 3], name='a b')\n"
                    'work_dir = "w"\n')
    cfg = read_config(str(path))
    assert isinstance(cfg, FormattedOnceConfig)
    expected = Config.fromfile(str(path)).pretty_text
    calls_for_expected = len(counted_formatting)
    # What the Runner does with it: a deep copy, then the text for the
    # log, the dump, the visualizer and each checkpoint.
    runner_cfg = copy.deepcopy(cfg)
    assert type(runner_cfg) is FormattedOnceConfig
    texts = [runner_cfg.pretty_text for _ in range(5)] + [cfg.pretty_text]
    assert texts == [expected] * 6
    assert len(counted_formatting) - calls_for_expected == 1
    # A changed config gets its own text.
    runner_cfg.merge_from_dict({'model.layers': [4]})
    plain = Config.fromfile(str(path))
    plain.merge_from_dict({'model.layers': [4]})
    calls = len(counted_formatting)
    assert runner_cfg.pretty_text == plain.pretty_text != expected
    assert len(counted_formatting) - calls == 2  # plain's and the new one
    assert cfg.pretty_text == expected  # the original is unchanged


def test_unformatted_configs_stay_unformatted(counted_formatting):
    plain = Config(dict(a=dict(b=1)), format_python_code=False)
    cfg = FormattedOnceConfig.of(plain)
    assert cfg.pretty_text == plain.pretty_text
    assert cfg.pretty_text == plain.pretty_text  # and the flag kept
    assert counted_formatting == []
