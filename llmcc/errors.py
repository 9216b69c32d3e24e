"""Error types. Every error llmcc raises derives from :class:`LlmccError`.

Subclasses also inherit the builtin exception that fits, so callers may
catch either. Only :mod:`llmcc.cli` turns them into messages and exit codes.
"""


class LlmccError(Exception):
    """Base class of all llmcc errors."""


class ToolchainError(LlmccError, OSError):
    """The real clang or a matching ``opt`` cannot be found or run."""


class PipelineError(LlmccError, ValueError):
    """A pass pipeline text does not parse or names a pass outside the allowlist."""


class CacheError(LlmccError, OSError):
    """The cache directory cannot be used."""


class ConfigError(LlmccError, ValueError):
    """A configuration value or file is invalid."""


class CandidateError(LlmccError, RuntimeError):
    """A candidate pipeline failed (``opt`` or codegen crashed, timed out or failed)."""
