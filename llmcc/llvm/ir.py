"""Reading facts from textual LLVM IR (no LLVM library needed).

Used to normalize IR for cache keys and to give ``opt`` the target-machine
settings clang's code generator would use, which live in module flags.
"""

from __future__ import annotations

import re

_MODULE_ID_RE = re.compile(r"^(; ModuleID = .*|source_filename = .*)$", re.M)
_MODULE_FLAG_RE = re.compile(r'^!\d+ = !\{i32 \d+, !"([^"]+)", i(?:32|64) (-?\d+)\}$', re.M)

#: ``llvm::CodeModel::Model`` values (llvm/Support/CodeGen.h) -> ``opt --code-model``.
CODE_MODELS = {0: "tiny", 1: "small", 2: "kernel", 3: "medium", 4: "large"}


def normalize_ir(ir_text: str) -> str:
    """IR text with its file-name lines (``; ModuleID``, ``source_filename``) removed.

    The name of the file does not change which pipeline is smallest; dropping it
    lets the same code built in another directory hit the cache.
    """
    return _MODULE_ID_RE.sub("", ir_text)


_DEBUG_LINE_RE = re.compile(
    r"^(?:\s*#dbg_\w+\(.*|\s*(?:tail )?call void @llvm\.dbg\.\w+\(.*|"
    r"declare void @llvm\.dbg\.\w+\(.*|!\d+ = (?:distinct )?!DI.*|!llvm\.dbg\.cu = .*)\n",
    re.M)
_DEBUG_ATTACHMENT_RE = re.compile(r",? !dbg !\d+")


def strip_debug_records(ir_text: str) -> str:
    """IR text without what ``-g`` adds: debug records (``#dbg_declare``, LLVM 19's
    textual form, and the older ``llvm.dbg.*`` intrinsic calls), ``!dbg``
    attachments and ``DI*`` metadata nodes. IR lowered without ``-g`` comes back
    unchanged.

    Debug info must not change generated code (clang's ``-Oz`` objects have the
    same ``.text`` with and without ``-g``), so a ranker is shown this text: the
    same source ranks the same with and without ``-g``.
    """
    if "!dbg" not in ir_text and "#dbg_" not in ir_text and "llvm.dbg." not in ir_text:
        return ir_text
    return _DEBUG_ATTACHMENT_RE.sub("", _DEBUG_LINE_RE.sub("", ir_text))


def module_flags(ir_text: str) -> dict[str, int]:
    """Integer module flags of the IR, e.g. ``{"PIC Level": 2, "Code Model": 3}``."""
    return {m.group(1): int(m.group(2)) for m in _MODULE_FLAG_RE.finditer(ir_text)}


def opt_target_args(ir_text: str) -> list[str]:
    """``opt`` options that reproduce clang's target machine for this IR.

    clang builds its ``TargetMachine`` with the relocation and code model of the
    compile; ``opt`` defaults to a static relocation model, under which
    SimplifyCFG builds switch lookup tables of pointers that clang (PIE/PIC by
    default on Debian) does not, so ``opt``'s output would differ from
    ``clang -Oz``. The models are recorded as the ``PIC Level`` and
    ``Code Model`` module flags (clang ``CodeGenModule::Release``).
    """
    flags = module_flags(ir_text)
    args = []
    if "PIC Level" in flags:
        args.append("--relocation-model=pic")
    if flags.get("Code Model") in CODE_MODELS:
        args.append(f"--code-model={CODE_MODELS[flags['Code Model']]}")
    return args
