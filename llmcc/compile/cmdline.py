"""Pure classification of clang command lines.

Given the arguments of one compiler call, decide whether llmcc optimizes it
(a compile of C or C++ source to object files) or hands it to the real clang
unchanged, and if it optimizes, derive the argument lists for lowering to IR
and for code generation. Nothing here runs a subprocess or touches the file
system except :func:`expand_response_files`, which reads ``@file`` arguments.

The option tables follow clang's driver (``clang/include/clang/Driver/Options.td``)
and the classification style of LLVM's scan-build-py
(``clang/tools/scan-build-py/lib/libscanbuild/compilation.py``).
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass

# --- option tables ---------------------------------------------------------

#: Options whose argument is the next word (when not joined).
SEPARATE_ARG = frozenset({
    "-o", "-x", "-MF", "-MT", "-MQ", "-MJ", "-I", "-D", "-U", "-include",
    "-imacros", "-isystem", "-iquote", "-idirafter", "-iprefix", "-iwithprefix",
    "-iwithprefixbefore", "-isysroot", "--sysroot", "-target", "--target", "-arch",
    "-Xclang", "-mllvm", "-Xlinker", "-Xassembler", "-Xpreprocessor", "-Xanalyzer",
    "-Xopenmp-target", "-z", "-u", "-T", "-L", "-F", "-B", "-dependency-file",
    "-dependency-dot", "-serialize-diagnostics", "-ivfsoverlay", "-include-pch",
    "-cxx-isystem", "-iframework", "-isystem-after", "-resource-dir", "--param",
    "-working-directory", "-gcc-toolchain", "--gcc-toolchain", "-aux-target",
    "-Xarch_host", "-Xarch_device", "-Xcuda-fatbinary", "-Xcuda-ptxas",
    "-install_name", "-exported_symbols_list", "-e",
})

#: Options that matter only to the preprocessor: dropped from code generation.
PREPROCESSOR_SEPARATE = frozenset({
    "-I", "-D", "-U", "-include", "-imacros", "-isystem", "-iquote", "-idirafter",
    "-iprefix", "-iwithprefix", "-iwithprefixbefore", "-cxx-isystem", "-iframework",
    "-isystem-after", "-Xpreprocessor", "-ivfsoverlay",
})
PREPROCESSOR_PREFIX = ("-D", "-U", "-I", "-isystem", "-iquote", "-idirafter",
                       "-imacros", "-Wp,")
PREPROCESSOR_FLAGS = frozenset({
    "-nostdinc", "-nostdinc++", "-nostdlibinc", "-nobuiltininc", "-C", "-CC",
    "-P", "-H", "-trigraphs", "-undef",
})

#: Dependency-file options kept for lowering only. ``-MF``/``-MT``/``-MQ`` take an argument.
DEPENDENCY_FLAGS = frozenset({"-MD", "-MMD", "-MP", "-MG", "-MV"})
DEPENDENCY_SEPARATE = frozenset({"-MF", "-MT", "-MQ"})

#: Exact options that make a call pass through unchanged, with the reason counted in stats.
PASSTHROUGH_EXACT = {
    "-E": "preprocessing", "-M": "dependencies only", "-MM": "dependencies only",
    "-S": "assembly output", "-fsyntax-only": "syntax only",
    "-emit-llvm": "IR output", "-###": "driver dry run", "-v": "verbose driver",
    "--version": "version query", "-dumpversion": "version query",
    "-dumpmachine": "version query", "--help": "help", "-help": "help",
    "-save-temps": "unsupported option", "-gsplit-dwarf": "unsupported option",
    "--coverage": "instrumentation", "-fprofile-arcs": "instrumentation",
    "-ftest-coverage": "instrumentation", "-finstrument-functions": "instrumentation",
    "-finstrument-functions-after-inlining": "instrumentation",
    "-fembed-bitcode": "unsupported option", "-Xclang": "unsupported option",
    "-mllvm": "unsupported option", "--analyze": "static analysis",
    "-fsave-optimization-record": "optimization remarks",
    "-ftime-report": "unsupported option", "-fmodules": "modules",
    "-fno-integrated-as": "unsupported option", "-pg": "instrumentation",
    "-fpseudo-probe-for-profiling": "instrumentation",
    "-fmemory-profile": "instrumentation",
    # Side outputs: clang names them after its own ``-o`` (or writes them from the
    # driver), so llmcc's internal runs would write them for temporary files
    # (clang's ``Clang.cpp``: ``-stack-usage-file``, ``-stats-file``,
    # ``-serialize-diagnostic-file``; ``Driver.cpp``: ``-MJ``).
    "-fstack-usage": "side output", "-serialize-diagnostics": "side output",
    "--serialize-diagnostics": "side output",
    # The recorded command line would be llmcc's internal one, with temporary paths.
    "-frecord-command-line": "records command line",
    "-frecord-gcc-switches": "records command line",
    "-grecord-command-line": "records command line",
    "-grecord-gcc-switches": "records command line",
}

#: Option prefixes that make a call pass through unchanged.
PASSTHROUGH_PREFIX = (
    ("-flto", "LTO"), ("-fsanitize=", "instrumentation"),
    ("-fsanitize-coverage", "instrumentation"), ("-fprofile-", "profile"),
    ("-fcs-profile-", "profile"), ("-fxray", "instrumentation"),
    ("-fembed-bitcode", "unsupported option"), ("-ftime-trace", "unsupported option"),
    ("-save-temps", "unsupported option"), ("-Rpass", "optimization remarks"),
    ("-fsave-optimization-record", "optimization remarks"), ("-print-", "driver query"),
    ("--print-", "driver query"), ("-fmodule", "modules"), ("-fopenmp-targets", "offloading"),
    ("-fveclib", "unsupported option"), ("-working-directory", "unsupported option"),
    ("-fexperimental-sanitize", "instrumentation"), ("-fdebug-pass", "unsupported option"),
    ("-fpass-plugin", "unsupported option"), ("-fplugin", "unsupported option"),
    ("--save-temps", "unsupported option"), ("-gsplit-dwarf=", "unsupported option"),
    ("-foptimization-record-", "optimization remarks"), ("-MJ", "side output"),
    ("-save-stats", "side output"), ("-fproc-stat-report", "side output"),
    ("-fdump-", "side output"),
)

#: GNU-style long spellings and what they alias (``Options.td``: ``Flag<["--"], ...>``,
#: ``Alias<...>``). Spelled canonically before classification, so that e.g.
#: ``--write-dependencies`` gets the ``-MD`` handling and ``--output=`` names the object.
GNU_ALIASES = {
    "--write-dependencies": "-MD", "--write-user-dependencies": "-MMD",
    "--dependencies": "-M", "--user-dependencies": "-MM", "--preprocess": "-E",
    "--assemble": "-S", "--compile": "-c", "--verbose": "-v", "--optimize": "-O",
    "--output": "-o", "--language": "-x",
}
#: Joined GNU-style spellings: ``--output=FILE`` is ``-o FILE`` and so on.
GNU_JOINED_ALIASES = {"--output=": "-o", "--language=": "-x", "--optimize=": "-O"}

#: Source languages llmcc optimizes, as ``-x`` names, by file extension.
SOURCE_EXTENSIONS = {
    ".c": "c", ".i": "cpp-output",
    ".cc": "c++", ".cp": "c++", ".cxx": "c++", ".cpp": "c++", ".CPP": "c++",
    ".c++": "c++", ".C": "c++", ".ii": "c++-cpp-output",
}
SOURCE_LANGUAGES = frozenset({"c", "c++", "cpp-output", "c++-cpp-output"})
#: Languages of already preprocessed sources (clang's ``Types.def``: ``PP_C``, ``PP_CXX``);
#: clang compiles them without running the preprocessor.
PREPROCESSED_LANGUAGES = frozenset({"cpp-output", "c++-cpp-output"})

#: Optimization levels that mean a debug build (passed through under the default policy).
DEBUG_LEVELS = frozenset({"-O0", "-Og"})

#: Optimization policies: which ``-O`` levels llmcc optimizes for size.
#:   ``default``  - everything except an explicit ``-O0``/``-Og`` (no ``-O`` at all is optimized);
#:   ``explicit`` - only ``-Os`` and ``-Oz``; every other call passes through;
#:   ``all``      - every compile to an object, ``-O0`` included.
POLICIES = ("default", "explicit", "all")


@dataclass(frozen=True)
class Unit:
    """One translation unit of a compile call.

    Attributes:
        source: the source path as written on the command line.
        language: the ``-x`` language name, or ``None`` when clang infers it.
        explicit_language: True when ``-x`` was given for this source.
        output: the object path clang would write (``-o`` or ``<stem>.o``).
        preprocessed: True when the source is already preprocessed (``.i``, ``.ii``,
            ``-x cpp-output``, ``-x c++-cpp-output``): clang does not preprocess it
            (``clang -E`` writes nothing for it), so the source file itself is what
            lowering sees.
    """

    source: str
    language: str
    explicit_language: bool
    output: str
    preprocessed: bool = False


@dataclass(frozen=True)
class PassThrough:
    """A call llmcc does not optimize; ``reason`` is counted in stats."""

    reason: str


@dataclass(frozen=True)
class Compile:
    """A compile of C/C++ sources to objects that llmcc optimizes.

    Attributes:
        units: one :class:`Unit` per source file, in command-line order.
        common: flags for both lowering and code generation (no inputs, ``-o``,
            ``-c``, ``-O``, dependency or preprocessor flags).
        preprocessor: preprocessor-only flags, in order (lowering only).
        dependency: dependency-file flags as given (lowering only).
        opt_level: the last ``-O`` option given, or ``None``.
        output_given: True when the user named the object with ``-o``.
    """

    units: tuple[Unit, ...]
    common: tuple[str, ...]
    preprocessor: tuple[str, ...]
    dependency: tuple[str, ...]
    opt_level: str | None
    output_given: bool = False

    def lower_args(self, unit: Unit, ir_path: str) -> list[str]:
        """Arguments (without argv[0]) that lower ``unit`` to textual IR at ``ir_path``.

        The user's flags plus ``-Oz -Xclang -disable-llvm-passes -S -emit-llvm``;
        ``-Xclang -emit-llvm-uselists`` keeps use-list order so the IR optimizes
        exactly as inside one clang process. Dependency files are written with
        the user's object as target, as plain clang would.
        """
        args = list(self.common) + list(self.preprocessor) + self._dependency_args(unit)
        args += ["-Oz", "-Xclang", "-disable-llvm-passes", "-Xclang", "-emit-llvm-uselists",
                 "-S", "-emit-llvm", "-o", ir_path]
        if unit.explicit_language:
            args += ["-x", unit.language]
        args.append(unit.source)
        return args

    def codegen_args(self, input_path: str, object_path: str, *, optimize: bool) -> list[str]:
        """Arguments that compile IR at ``input_path`` to ``object_path``.

        With ``optimize=True`` clang runs its own ``-Oz`` pipeline (the baseline
        candidate, byte-identical to ``clang -Oz`` from source); otherwise only
        code generation runs (``-Xclang -disable-llvm-passes``).
        """
        args = list(self.common) + ["-Oz", "-c", "-x", "ir", input_path, "-o", object_path]
        if not optimize:
            args += ["-Xclang", "-disable-llvm-passes"]
        return args + ["-Wno-unused-command-line-argument"]

    def preprocess_args(self, unit: Unit, out_path: str, dependencies: bool = False) -> list[str]:
        """Arguments that preprocess ``unit`` as lowering would (``-Oz`` macros) into
        ``out_path``: the input of the preprocessed-source key. With ``dependencies``
        the user's dependency file is written too, as lowering would write it."""
        args = list(self.common) + list(self.preprocessor)
        if dependencies:
            args += self._dependency_args(unit)
        args += ["-Oz", "-E", "-o", out_path]
        if unit.explicit_language:
            args += ["-x", unit.language]
        return args + [unit.source]

    def direct_args(self, unit: Unit) -> list[str]:
        """Arguments of plain ``clang -Oz`` for ``unit``: the user's object and dependency
        file, exactly what the ``-Oz`` baseline candidate produces."""
        args = (list(self.common) + list(self.preprocessor) + self._dependency_args(unit)
                + ["-Oz", "-c", "-o", unit.output])
        if unit.explicit_language:
            args += ["-x", unit.language]
        return args + [unit.source]

    def source_args(self, unit: Unit, object_path: str, level: str) -> list[str]:
        """Arguments that compile ``unit`` from source at ``level`` into ``object_path``,
        as plain clang would (no dependency file: lowering writes it)."""
        args = list(self.common) + list(self.preprocessor) + [level, "-c", "-o", object_path]
        if unit.explicit_language:
            args += ["-x", unit.language]
        return args + [unit.source]

    def codegen_identity(self) -> tuple[str, ...]:
        """The flags that decide code generation, for the cache key.

        Leaves out flags that cannot change an object made from this IR: warning
        and diagnostic options, and path prefix maps (their effect is already in
        the IR's file names), so the same code built in another directory with
        ``-ffile-prefix-map`` shares its decisions.
        """
        return tuple(a for a in self.common if not _irrelevant_to_codegen(a))

    def _dependency_args(self, unit: Unit) -> list[str]:
        """Dependency flags for lowering, with explicit ``-MF`` and target.

        Source: clang's ``RenderDependencyOptions``/``getDependencyFileName``:
        ``-MF`` defaults to the ``-o`` path with extension ``.d`` (else the
        input's stem plus ``.d``); the target defaults to the object path,
        quoted for make (``-MQ``).
        """
        dep = list(self.dependency)
        if not any(a in ("-MD", "-MMD") for a in dep):
            return dep
        flags = _split_dependency_names(dep)
        if "-MF" not in flags:
            if self.output_given:
                dep += ["-MF", os.path.splitext(unit.output)[0] + ".d"]
            else:
                dep += ["-MF", _stem(unit.source) + ".d"]
        if "-MT" not in flags and "-MQ" not in flags:
            dep += ["-MQ", unit.output]
        return dep


_PATH_MAPS = ("-ffile-prefix-map=", "-fdebug-prefix-map=", "-fmacro-prefix-map=",
              "-fcoverage-prefix-map=", "-fdiagnostics-", "-fcolor-diagnostics",
              "-fno-color-diagnostics", "-fno-diagnostics-", "-ferror-limit", "-fmessage-length",
              "-frandom-seed")  # accepted for GCC compatibility, ignored by clang


def _irrelevant_to_codegen(arg: str) -> bool:
    if arg.startswith("-W") and not arg.startswith(("-Wa,", "-Wl,", "-Wp,")):
        return True
    return arg.startswith(_PATH_MAPS)


def _split_dependency_names(dep: list[str]) -> set[str]:
    names = set()
    for a in dep:
        for opt in DEPENDENCY_SEPARATE:
            if a.startswith(opt):
                names.add(opt)
    return names


def _stem(path: str) -> str:
    return os.path.splitext(os.path.basename(path))[0]


def tokenize_gnu_command_line(text: str) -> list[str]:
    """Split response-file text into arguments as clang does.

    Source: ``llvm/lib/Support/CommandLine.cpp``, ``cl::TokenizeGNUCommandLine``:
    words are separated by unquoted space, tab, CR or LF; a backslash escapes the
    next character outside quotes and inside both ``"..."`` and ``'...'`` (unlike a
    POSIX shell, ``"out\\.o"`` is ``out.o``); a backslash at the very end is
    literal; quoted and unquoted pieces join into one word; an unterminated quote
    runs to the end of the text. No expansion and no comments.

    Raises:
        ValueError: a word is empty (``""`` or ``''`` alone). LLVM up to 22 drops it,
            later versions keep it (llvm-project pull request 187566), so which
            command line clang sees depends on its version.
    """
    words: list[str] = []
    token: list[str] = []
    in_token = False
    i, end = 0, len(text)
    while i < end:
        c = text[i]
        if not in_token:
            if c in _GNU_WHITESPACE:
                i += 1
                continue
            in_token = True
        if c == "\\" and i + 1 < end:
            token.append(text[i + 1])
            i += 2
        elif c in "\"'":
            i += 1
            while i < end and text[i] != c:
                if text[i] == "\\" and i + 1 < end:
                    i += 1
                token.append(text[i])
                i += 1
            i += 1  # the closing quote (or past the end)
        elif c in _GNU_WHITESPACE:
            words.append("".join(token))
            token, in_token = [], False
            i += 1
        else:
            token.append(c)
            i += 1
    if in_token:
        words.append("".join(token))
    if "" in words:
        raise ValueError("empty argument in a response file")
    return words


_GNU_WHITESPACE = " \t\r\n"


def _read_response_file(path: str) -> str:
    """The text of a response file as ``ExpansionContext::expandResponseFile`` reads it:
    UTF-16 with a byte order mark is converted, a UTF-8 byte order mark is skipped,
    other bytes are kept as they are (``os.fsdecode``, so they reach clang unchanged)."""
    with open(path, "rb") as f:
        data = f.read()
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")  # UnicodeDecodeError is a ValueError
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    return os.fsdecode(data)


def expand_response_files(args: list[str]) -> list[str]:
    """Expand ``@file`` arguments as clang does, recursively.

    Source: ``llvm/lib/Support/CommandLine.cpp``, ``ExpansionContext::expandResponseFiles``
    as clang's driver calls it (``clang/tools/driver/driver.cpp``): contents split by
    :func:`tokenize_gnu_command_line`; an ``@file`` found inside a response file is
    expanded in turn, relative to the current directory (not to the including
    file); an ``@file`` that does not exist, or cannot be read, is kept as written
    (clang then reports it). Only the arguments clang sees change: a call that
    passes through still runs with the caller's own, unexpanded arguments.

    Raises:
        RecursionError: a response file includes itself, directly or not (clang
            rejects this), or nesting is deeper than 64 files.
        ValueError: Windows quoting was asked for (``--rsp-quoting=windows``,
            ``--driver-mode=cl``), a response file holds an empty argument, is no
            regular file (a pipe must be left for clang to read), or is malformed
            UTF-16.
    """
    if any(a.startswith("@") and len(a) > 1 for a in args) and _windows_quoting(args):
        raise ValueError("response files with Windows quoting are not supported")
    return _expand(args, [])


def _windows_quoting(args: list[str]) -> bool:
    """True when clang would split response files with ``cl::TokenizeWindowsCommandLine``
    (``clang/tools/driver/driver.cpp``: ``--rsp-quoting=``, else ``clang-cl`` mode)."""
    quoting = [a for a in args if a in ("--rsp-quoting=posix", "--rsp-quoting=windows")]
    if quoting:
        return quoting[-1] == "--rsp-quoting=windows"
    modes = [a for a in args if a.startswith("--driver-mode=")]
    return bool(modes) and modes[-1] == "--driver-mode=cl"


def _expand(args: list[str], stack: list[tuple[int, int]]) -> list[str]:
    out: list[str] = []
    for a in args:
        if not (a.startswith("@") and len(a) > 1):
            out.append(a)
            continue
        try:
            st = os.stat(a[1:])
        except OSError:
            out.append(a)
            continue
        if not stat.S_ISREG(st.st_mode):
            # a pipe (``@/dev/stdin``, ``@<(...)``) can be read only once: by clang
            raise ValueError(f"response file {a[1:]!r} is not a regular file")
        identity = (st.st_dev, st.st_ino)
        if identity in stack:
            raise RecursionError(f"recursive expansion of response file {a[1:]!r}")
        if len(stack) >= 64:
            raise RecursionError("response files nested too deeply")
        try:
            text = _read_response_file(a[1:])
        except OSError:
            out.append(a)
            continue
        out += _expand(tokenize_gnu_command_line(text), stack + [identity])
    return out


def _canonical_spelling(arg: str) -> list[str] | None:
    """The canonical spelling of a GNU-style long option (``GNU_ALIASES``), or None."""
    if arg in GNU_ALIASES:
        return [GNU_ALIASES[arg]]
    if arg.startswith("--"):
        for spelling, canonical in GNU_JOINED_ALIASES.items():
            if arg.startswith(spelling):
                value = arg[len(spelling):]
                return [canonical + value] if canonical == "-O" else [canonical, value]
    return None


def _preprocessor_dependency_option(arg: str, nxt: str | None) -> bool:
    """True for ``-M`` options handed to the preprocessor (``-Wp,-MD,FILE``,
    ``-Xpreprocessor -MD``).

    clang's driver rewrites ``-Wp,-MD,FILE``/``-Wp,-MMD,FILE`` into ``-MD -MF FILE``
    (``Driver::TranslateInputArgs``) and forwards other ``-Wp,``/``-Xpreprocessor``
    values to cc1; the dependency target is then the ``-o`` of the internal run.
    """
    if arg.startswith("-Wp,"):
        return any(v.startswith("-M") for v in arg[4:].split(","))
    return arg == "-Xpreprocessor" and nxt is not None and nxt.startswith("-M")


def _is_optimized_level(level: str | None, policy: str) -> bool:
    if policy == "all":
        return True
    if policy == "explicit":
        return level in ("-Os", "-Oz")
    return level not in DEBUG_LEVELS


#: Sources of build-system probes: autoconf's ``conftest*.c``, zlib's configure
#: (``ztest<pid>.c``, also in the many projects that vendor zlib), CMake's
#: ``try_compile`` projects, Meson's compiler checks. Their objects only answer a
#: configure question and are never shipped, so they are compiled by clang alone.
_PROBE_NAMES = re.compile(r"^(conftest[0-9]*|ztest[0-9]+)\.(c|cc|cpp|cxx|C|m)$")
_PROBE_DIRS = ("/CMakeFiles/CMakeTmp", "/CMakeFiles/CMakeScratch/", "/CMakeFiles/CheckTypeSize",
               "/CMakeFiles/CMakeScratch", "/meson-private/tmp")


def is_build_probe(source: str, cwd: str = "") -> bool:
    """True if ``source`` (compiled in ``cwd``) is a configure, CMake or Meson probe."""
    if _PROBE_NAMES.match(os.path.basename(source)):
        return True
    return any(d in p for p in (source, cwd) for d in _PROBE_DIRS)


def classify(args: list[str], *, policy: str = "default") -> Compile | PassThrough:
    """Classify one compiler call (arguments without argv[0], ``@file`` already expanded).

    Returns:
        :class:`Compile` when llmcc should optimize it, else :class:`PassThrough`
        with the reason (e.g. ``"link"``, ``"preprocessing"``, ``"stdin input"``).
    """
    if policy not in POLICIES:
        raise ValueError(f"unknown optimization policy {policy!r}; expected one of {POLICIES}")
    common: list[str] = []
    preprocessor: list[str] = []
    dependency: list[str] = []
    sources: list[tuple[str, str, bool]] = []
    language: str | None = None
    output: str | None = None
    compile_only = False
    opt_level: str | None = None
    fast_math = False
    unsupported = ""
    args = list(args)
    i = 0
    n = len(args)
    while i < n:
        canonical = _canonical_spelling(args[i])
        if canonical is not None:  # only where an option stands, not in an option's argument
            args[i:i + 1] = canonical
            n = len(args)
        a = args[i]
        nxt = args[i + 1] if i + 1 < n else None
        if a in PASSTHROUGH_EXACT:
            return PassThrough(PASSTHROUGH_EXACT[a])
        for prefix, reason in PASSTHROUGH_PREFIX:
            if a.startswith(prefix):
                return PassThrough(reason)
        if _preprocessor_dependency_option(a, nxt):
            return PassThrough("side output")
        if a == "-c":
            compile_only = True
        elif a == "-o" or (a.startswith("-o") and len(a) > 2 and not a.startswith("-objc")):
            if a == "-o":
                if nxt is None:
                    return PassThrough("malformed command line")
                output = nxt
                i += 1
            else:
                output = a[2:]
        elif a.startswith("-O"):
            opt_level = "-O1" if a == "-O" else a
            if a == "-Ofast":
                fast_math = True
        elif a == "-x":
            if nxt is None:
                return PassThrough("malformed command line")
            language = None if nxt == "none" else nxt
            i += 1
        elif a.startswith("-x") and len(a) > 2:
            language = None if a[2:] == "none" else a[2:]
        elif a in DEPENDENCY_FLAGS:
            dependency.append(a)
        elif a in DEPENDENCY_SEPARATE:
            if nxt is None:
                return PassThrough("malformed command line")
            dependency += [a, nxt]
            i += 1
        elif a[:3] in DEPENDENCY_SEPARATE:
            dependency.append(a)
        elif a in PREPROCESSOR_SEPARATE:
            if nxt is None:
                return PassThrough("malformed command line")
            preprocessor += [a, nxt]
            i += 1
        elif a.startswith(PREPROCESSOR_PREFIX) or a in PREPROCESSOR_FLAGS:
            preprocessor.append(a)
        elif a in SEPARATE_ARG:
            if nxt is None:
                return PassThrough("malformed command line")
            common += [a, nxt]
            i += 1
        elif a == "-":
            return PassThrough("stdin input")
        elif a.startswith("-"):
            common.append(a)
        else:
            lang = language if language is not None else SOURCE_EXTENSIONS.get(
                os.path.splitext(a)[1])
            if lang is None or lang not in SOURCE_LANGUAGES:
                unsupported = unsupported or ("unsupported input" if language is None
                                              else "unsupported language")
            else:
                sources.append((a, lang, language is not None))
        i += 1

    if not compile_only:
        return PassThrough("link")
    if unsupported:
        return PassThrough(unsupported)
    if not sources:
        return PassThrough("no source input")
    if output == "-":
        return PassThrough("output to stdout")
    if output is not None and output.startswith("/dev/"):
        return PassThrough("output to a device")  # /dev/null probes (configure), /dev/stdout
    if output is not None and len(sources) > 1:
        return PassThrough("-o with several sources")
    cwd = os.getcwd()
    if all(is_build_probe(os.path.join(cwd, src), cwd) for src, _, _ in sources):
        return PassThrough("build-system probe")
    if not _is_optimized_level(opt_level, policy):
        return PassThrough("debug build" if opt_level in DEBUG_LEVELS else "optimization policy")
    if fast_math:
        common.append("-ffast-math")
    units = tuple(
        Unit(source=s, language=lang, explicit_language=explicit,
             output=output if output is not None else _stem(s) + ".o",
             preprocessed=lang in PREPROCESSED_LANGUAGES)
        for s, lang, explicit in sources)
    return Compile(units=units, common=tuple(common), preprocessor=tuple(preprocessor),
                   dependency=tuple(dependency), opt_level=opt_level,
                   output_given=output is not None)
