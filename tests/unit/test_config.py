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


@pytest.mark.parametrize("name,value", [
    ("TIMEOUT", "inf"), ("TIMEOUT", "nan"), ("TIMEOUT", "1e10"), ("TIMEOUT", "0"),
    ("POLICY", "fast"), ("RANKER", "oracle"), ("CANDIDATES", "1.5"), ("MAX_ENTRIES", "0"),
])
def test_a_bad_setting_is_named_and_falls_back_alone(tmp_path, name, value):
    from llmcc.config import load_report
    env = {"LLMCC_CONFIG": str(tmp_path / "none.toml"), f"LLMCC_{name}": value,
           "LLMCC_PINNED": "/p.pin", "LLMCC_PINNED_STRICT": "1", "LLMCC_CACHE_DIR": "/c"}
    cfg, problems = load_report(env)
    assert len(problems) == 1 and f"LLMCC_{name}" in problems[0] and "\n" not in problems[0]
    assert getattr(cfg, name.lower()) == getattr(Config, name.lower())
    assert (cfg.pinned, cfg.pinned_strict, cfg.cache_dir) == ("/p.pin", True, "/c")
    with pytest.raises(ConfigError):
        load(env)


def test_policy_and_ranker_names_match_their_implementations():
    from llmcc.compile.cmdline import POLICIES
    from llmcc.config import POLICY_NAMES, RANKER_NAMES
    from llmcc.rank.rankers import RANKERS
    assert tuple(POLICIES) == POLICY_NAMES and set(RANKERS) == set(RANKER_NAMES)


def test_a_bad_environment_value_falls_back_to_the_file(tmp_path):
    from llmcc.config import load_report
    f = tmp_path / "llmcc.toml"
    f.write_text("timeout = 30\n")
    cfg, problems = load_report({"LLMCC_CONFIG": str(f), "LLMCC_TIMEOUT": "inf"})
    assert cfg.timeout == 30 and len(problems) == 1
