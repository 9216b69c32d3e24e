"""Configuration: environment > config file > defaults (ccache's precedence).

The config file is TOML (``llmcc.toml``): ``LLMCC_CONFIG`` names it, else
``<platformdirs user_config_dir>/llmcc/llmcc.toml``. Each key ``name`` may be
overridden by the environment variable ``LLMCC_<NAME>`` (upper case).

Keys (type, default):
    cache_dir   (str, platformdirs' user cache dir for "llmcc")  where decisions and stats live
    max_entries (int, 200000)  cache entries kept; the oldest are evicted beyond it
    max_objects (int, 20000)   stored objects kept for warm rebuilds (compressed); the least
                               recently used are evicted beyond it
    candidates  (int, 4)       k: ranked pipelines tried besides ``-Oz`` (see README, "Choosing k")
    ranker      (str, "model")  which ranker proposes pipelines: ``model`` or ``static``
    policy      (str, "default") which ``-O`` levels are optimized (see ``llmcc.compile.cmdline.POLICIES``)
    timeout     (float, 120)   seconds allowed to all of llmcc's own tools for one TU (lowering,
                               every candidate's ``opt`` and codegen); a tool still running
                               then is killed with its children and the TU gets ``-Oz``
    disable     (bool, false)  pass every call to the real clang
    readonly    (bool, false)  use the cache but never write it
    debug       (bool, false)  explain decisions on stderr
    record      (str, "")      directory where the unoptimized IR of each TU is recorded
    force_pipeline (str, "")   compile every TU with this pipeline, larger or not, bypassing
                               the cache (differential testing); it must pass the allowlist
    pinned      (str, "")      a pinned cache file: decisions come only from it; no ranker,
                               no model, nothing written anywhere; a miss compiles with -Oz
    pinned_strict (bool, false) with ``pinned``: a TU without a decision is an error
    cache_url   (str, "")      a shared decision store, ``redis://[:password@]host:port/db``
                               (``rediss://`` for TLS): a local miss asks it, new decisions
                               are published; never fails or stalls a build
    rank_server (float, 120)   seconds the shared ranking server (one process per build that
                               holds the model, started by the first compile that needs a
                               ranking) waits for a request before it exits; 0: every
                               compile that misses loads the model itself
    compile_server (float, 300) seconds the compile server (one process per installation and
                               user with the compile path imported, which forks for each
                               compiler call instead of starting Python again; started by the
                               first call that finds none) waits for a call before it exits;
                               0: every call runs in a process of its own. Never used in
                               pinned mode. ``LLMCC_COMPILE_SERVER=0`` also stops calls from
                               using a server that is running
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
    max_objects: int = 20000
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
    cache_url: str = ""
    rank_server: float = 120.0
    compile_server: float = 300.0


def config_path(env: dict[str, str]) -> str:
    """Path of the config file (it need not exist)."""
    if env.get("LLMCC_CONFIG"):
        return env["LLMCC_CONFIG"]
    import platformdirs
    return os.path.join(platformdirs.user_config_dir("llmcc"), "llmcc.toml")


#: Values ``policy`` may take (``llmcc.compile.cmdline.POLICIES`` implements them).
POLICY_NAMES = ("default", "explicit", "all")
#: Values ``ranker`` may take (``llmcc.rank.rankers.RANKERS`` implements them).
RANKER_NAMES = ("model", "static")
#: Inclusive bounds of numeric settings: a value outside them is an error.
#: ``timeout`` is per llmcc call, in seconds: 0, inf, nan or a value no
#: subprocess timer accepts would make every compile fall back.
BOUNDS = {"max_entries": (1, 1 << 40), "max_objects": (0, 1 << 40), "candidates": (0, 256), "timeout": (0.1, 86400.0),
          "rank_server": (0.0, 86400.0), "compile_server": (0.0, 86400.0)}
#: Closed sets of string settings.
CHOICES = {"policy": POLICY_NAMES, "ranker": RANKER_NAMES}


def _coerce(name: str, typ: type, value, origin: str):
    """``value`` as the setting ``name`` of type ``typ``.

    Raises:
        ConfigError: a one-line message naming the setting (``origin``: the
            environment variable or the config file) and what was expected.
    """
    if typ is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ConfigError(f"{origin}: invalid value {value!r} for {name} (expected a boolean)")
    if typ in (int, float):
        lo, hi = BOUNDS.get(name, (0, float("inf")))
        try:
            if isinstance(value, bool):
                raise ValueError
            result = typ(str(value).strip()) if isinstance(value, str) else typ(value)
            if typ is int and isinstance(value, float) and not value.is_integer():
                raise ValueError
            if not (lo <= result <= hi):  # also rejects nan
                raise ValueError
            return result
        except (TypeError, ValueError, OverflowError):
            raise ConfigError(f"{origin}: invalid value {value!r} for {name} (expected "
                              f"{'an integer' if typ is int else 'a number'} from {lo:g} "
                              f"to {hi:g})") from None
    if not isinstance(value, str):
        raise ConfigError(f"{origin}: invalid value {value!r} for {name} (expected a string)")
    if name in CHOICES and value not in CHOICES[name]:
        raise ConfigError(f"{origin}: invalid value {value!r} for {name} (expected one of "
                          f"{', '.join(CHOICES[name])})")
    return value


def load_report(env: dict[str, str]) -> tuple[Config, list[str]]:
    """Effective configuration from ``env``, the config file and defaults, and
    the problems met on the way.

    A bad setting falls back alone: an invalid ``LLMCC_TIMEOUT`` leaves every
    other setting (``pinned``, ``pinned_strict``, ``cache_dir``, ...) as given.
    An invalid environment value falls back to the file's value, then to the
    default; an unreadable file contributes nothing.

    Returns:
        (config, problems): one line per problem, each naming the setting.
    """
    path = config_path(env)
    problems: list[str] = []
    values: dict = {}
    try:
        with open(path, "rb") as f:
            values = tomllib.load(f)
    except FileNotFoundError:
        pass
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError, RecursionError) as e:
        problems.append(f"{path}: {e}")
    known = {f.name: f for f in fields(Config)}
    for name in sorted(set(values) - set(known)):
        problems.append(f"{path}: unknown key {name!r}")
    out = {}
    for name, f in known.items():
        typ = type(f.default)
        env_name = "LLMCC_" + name.upper()
        for origin, source in ((env_name, env), (path, values)):
            key = env_name if source is env else name
            if key not in source:
                continue
            try:
                out[name] = _coerce(name, typ, source[key], origin)
                break
            except ConfigError as e:
                problems.append(str(e))
    if not out.get("cache_dir"):
        import platformdirs
        out["cache_dir"] = platformdirs.user_cache_dir("llmcc")
    return Config(**out), problems


def load(env: dict[str, str]) -> Config:
    """Effective configuration from ``env``, the config file and defaults.

    Raises:
        ConfigError: the first problem :func:`load_report` found (llmcc's own
            commands refuse a bad setting; a compile warns and goes on).
    """
    cfg, problems = load_report(env)
    if problems:
        raise ConfigError(problems[0])
    return cfg
