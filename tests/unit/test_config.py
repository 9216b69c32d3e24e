"""Configuration precedence: environment > config file > defaults."""

import pytest

from llmcc.config import Config, load
from llmcc.errors import ConfigError


def test_defaults_without_file(tmp_path):
    cfg = load({"LLMCC_CONFIG": str(tmp_path / "none.toml")})
    assert cfg.candidates == Config.candidates and cfg.ranker == "model"
    assert cfg.cache_dir  # platformdirs' user cache dir


def test_file_overrides_defaults_and_env_overrides_file(tmp_path):
    f = tmp_path / "llmcc.toml"
    f.write_text('candidates = 5\nranker = "static"\ndebug = true\ncache_dir = "/x"\n')
    cfg = load({"LLMCC_CONFIG": str(f)})
    assert (cfg.candidates, cfg.debug, cfg.cache_dir) == (5, True, "/x")
    cfg = load({"LLMCC_CONFIG": str(f), "LLMCC_CANDIDATES": "1", "LLMCC_DEBUG": "0",
                "LLMCC_CACHE_DIR": "/y"})
    assert (cfg.candidates, cfg.debug, cfg.cache_dir) == (1, False, "/y")


@pytest.mark.parametrize("env", [
    {"LLMCC_CANDIDATES": "many"}, {"LLMCC_CANDIDATES": "-1"}, {"LLMCC_DEBUG": "maybe"},
    {"LLMCC_TIMEOUT": "soon"},
])
def test_invalid_env_values_are_errors(tmp_path, env):
    with pytest.raises(ConfigError):
        load(dict(env, LLMCC_CONFIG=str(tmp_path / "none.toml")))


@pytest.mark.parametrize("text", ["candidates = [", "colour = 'blue'\n"])
def test_invalid_file_is_an_error(tmp_path, text):
    f = tmp_path / "llmcc.toml"
    f.write_text(text)
    with pytest.raises(ConfigError):
        load({"LLMCC_CONFIG": str(f)})
