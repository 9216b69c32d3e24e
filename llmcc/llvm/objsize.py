"""Object size: ``.text + .data`` in Berkeley ``size`` terms.

Source: llvm-size's Berkeley format (``ELFObjectFile::isBerkeleyText`` and
``isBerkeleyData`` in LLVM 19): a section counts as *text* when it is
allocated and executable or read-only, as *data* when it is allocated,
writable and has contents (not ``SHT_NOBITS``); ``.bss`` is excluded. This is
the metric of the LLM Compiler paper (Cummins et al., 2024, section 3.1).
"""

from __future__ import annotations

from dataclasses import dataclass

from elftools.common.exceptions import ELFError
from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile

from llmcc.errors import LlmccError


class ObjectFormatError(LlmccError, ValueError):
    """The file is not a readable ELF object."""


@dataclass(frozen=True)
class ObjectSize:
    """Berkeley sizes of one object file, in bytes."""

    text: int
    data: int
    bss: int

    @property
    def total(self) -> int:
        """``.text + .data`` in bytes: the size llmcc minimizes."""
        return self.text + self.data


def object_size(path: str) -> ObjectSize:
    """Berkeley ``text``, ``data`` and ``bss`` of the ELF object at ``path``.

    Raises:
        ObjectFormatError: not an ELF file.
        OSError: the file cannot be read.
    """
    text = data = bss = 0
    with open(path, "rb") as f:
        try:
            elf = ELFFile(f)
            for sec in elf.iter_sections():
                flags = sec["sh_flags"]
                if not flags & SH_FLAGS.SHF_ALLOC:
                    continue
                size = sec["sh_size"]
                if flags & SH_FLAGS.SHF_EXECINSTR or not flags & SH_FLAGS.SHF_WRITE:
                    text += size
                elif sec["sh_type"] != "SHT_NOBITS":
                    data += size
                else:
                    bss += size
        except ELFError as e:
            raise ObjectFormatError(f"{path}: {e}") from e
    return ObjectSize(text=text, data=data, bss=bss)


def strong_definitions(path: str) -> frozenset[str]:
    """Names of the symbols the ELF object at ``path`` defines with global
    (strong) binding: what other objects may link against.

    A size pipeline may drop or merge internal and ``linkonce``/weak definitions,
    never a strong global one; the driver refuses a winner whose set differs
    from the ``-Oz`` object's (a sanity check, not a proof of correctness).

    Raises:
        ObjectFormatError: not an ELF file.
        OSError: the file cannot be read.
    """
    out = set()
    with open(path, "rb") as f:
        try:
            elf = ELFFile(f)
            symtab = elf.get_section_by_name(".symtab")
            for sym in symtab.iter_symbols() if symtab is not None else ():
                if sym["st_info"]["bind"] == "STB_GLOBAL" and sym["st_shndx"] != "SHN_UNDEF":
                    out.add(sym.name)
        except ELFError as e:
            raise ObjectFormatError(f"{path}: {e}") from e
    return frozenset(out)
