"""Configuration: environment > config file > defaults (ccache's precedence).

The config file is TOML (``llmcc.toml``): ``LLMCC_CONFIG`` names it, else
``<platformdirs user_config_dir>/llmcc/llmcc.toml``. Each key ``name`` may be
overridden by the environment variable ``LLMCC_<NAME>`` (upper case).

Keys (type, default):
    cache_dir   (str, platformdirs' user cache dir for "llmcc")  where decisions and stats live
    max_entries (int, 200000)  cache entries kept; the oldest are evicted beyond it
    candidates  (int, 4)       k: ranked pipelines tried besides ``-Oz`` (see README, "Choosing k")
    ranker      (str, "model")  which ranker proposes pipelines: ``model`` or ``static``
    policy      (str, "default") which ``-O`` levels are optimized (see ``llmcc.compile.cmdline.POLICIES``)
    timeout     (float, 120)   seconds allowed to each candidate's ``opt`` and codegen
    disable     (bool, false)  pass every call to the real clang
    readonly    (bool, false)  use the cache but never write it
    debug       (bool, false)  explain decisions on stderr
    record      (str, "")      directory where the unoptimized IR of each TU is recorded
    force_pipeline (str, "")   compile every TU with this pipeline, larger or not, bypassing
                               the cache (differential testing); it must pass the allowlist
    pinned      (str, "")      a pinned cache file: decisions come only from it; no ranker,
                               no model, nothing written anywhere; a miss compiles with -Oz
    pinned_strict (bool, false) with ``pinned``: a TU without a decision is an error
    prefix      (str, "")      command put in front of the real clang for calls llmcc hands
                               over whole (pass-through, fallback, direct -Oz rebuilds), e.g.
                               ``ccache`` or ``distcc`` (ccache's ``prefix_command``)
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields

from llmcc.errors import ConfigError

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


@dataclass(frozen=True)
class Config:
    """Effective settings for one llmcc call (see the module docstring)."""

    cache_dir: str = ""
    max_entries: int = 200000
    candidates: int = 4
    ranker: str = "model"
    policy: str = "default"
    timeout: float = 120.0
    disable: bool = False
    readonly: bool = False
    debug: bool = False
    record: str = ""
    force_pipeline: str = ""
    pinned: str = ""
    pinned_strict: bool = False
    prefix: str = ""


def config_path(env: dict[str, str]) -> str:
    """Path of the config file (it need not exist)."""
    if env.get("LLMCC_CONFIG"):
        return env["LLMCC_CONFIG"]
    import platformdirs
    return os.path.join(platformdirs.user_config_dir("llmcc"), "llmcc.toml")


def _coerce(name: str, typ: type, value, origin: str):
    if typ is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    else:
        try:
            result = typ(value)
            if typ in (int, float) and result < 0:
                raise ValueError
            return result
        except (TypeError, ValueError):
            pass
    raise ConfigError(f"{origin}: invalid value {value!r} for {name} (expected {typ.__name__})")


def load(env: dict[str, str]) -> Config:
    """Effective configuration from ``env``, the config file and defaults.

    Raises:
        ConfigError: an unreadable or invalid file, or an invalid value.
    """
    path = config_path(env)
    values: dict = {}
    try:
        with open(path, "rb") as f:
            values = tomllib.load(f)
    except FileNotFoundError:
        pass
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"{path}: {e}") from e
    known = {f.name: f for f in fields(Config)}
    unknown = set(values) - set(known)
    if unknown:
        raise ConfigError(f"{path}: unknown keys {sorted(unknown)}")
    out = {}
    for name, f in known.items():
        typ = type(f.default)
        env_name = "LLMCC_" + name.upper()
        if env_name in env:
            out[name] = _coerce(name, typ, env[env_name], env_name)
        elif name in values:
            out[name] = _coerce(name, typ, values[name], path)
    if not out.get("cache_dir"):
        import platformdirs
        out["cache_dir"] = platformdirs.user_cache_dir("llmcc")
    return Config(**out)
