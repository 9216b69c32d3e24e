"""Fixtures for end-to-end tests that compile real C through the installed ``llmcc``."""

import shutil
import textwrap

import pytest

LLMCC = shutil.which("llmcc")
LLMCCXX = shutil.which("llmcc++")

#: A small but real C translation unit: a table-driven CRC, a sort and a switch.
SAMPLE_C = textwrap.dedent("""\
    #include <stdio.h>
    #include <stdlib.h>
    #include <string.h>
    #include "sample.h"

    static unsigned table[256];

    static void make_table(void) {
        for (unsigned n = 0; n < 256; n++) {
            unsigned c = n;
            for (int k = 0; k < 8; k++)
                c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
            table[n] = c;
        }
    }

    unsigned crc32(const unsigned char *buf, size_t len) {
        unsigned c = 0xffffffffu;
        if (!table[1]) make_table();
        for (size_t i = 0; i < len; i++)
            c = table[(c ^ buf[i]) & 0xff] ^ (c >> 8);
        return c ^ 0xffffffffu;
    }

    static int cmp(const void *a, const void *b) {
        return *(const int *)a - *(const int *)b;
    }

    const char *kind(int x) {
        switch (x % 7) {
        case 0: return "zero"; case 1: return "one"; case 2: return "two";
        case 3: return "three"; case 4: return "four"; case 5: return "five";
        default: return "six";
        }
    }

    int sorted_sum(int *v, int n) {
        qsort(v, n, sizeof *v, cmp);
        int s = 0;
        for (int i = 0; i < n; i++) s += v[i] * (i + 1);
        return s;
    }
""")

SAMPLE_H = "unsigned crc32(const unsigned char *buf, unsigned long len);\nconst char *kind(int x);\nint sorted_sum(int *v, int n);\n"

MAIN_C = textwrap.dedent("""\
    #include <stdio.h>
    #include <string.h>
    #include "sample.h"
    int main(void) {
        const char *msg = "The quick brown fox jumps over the lazy dog";
        int v[] = {5, 3, 9, 1, 7};
        printf("%08x %s %d\\n", crc32((const unsigned char *)msg, strlen(msg)), kind(12),
               sorted_sum(v, 5));
        return 0;
    }
""")

#: Output of the program built from SAMPLE_C and MAIN_C (CRC-32 of the pangram is 414fa339).
EXPECTED_OUTPUT = b"414fa339 five 95\n"


@pytest.fixture
def llmcc():
    """Path of the installed ``llmcc``."""
    if LLMCC is None:
        pytest.fail("llmcc is not installed (pip install -e .)")
    return LLMCC


@pytest.fixture
def sample_dir(tmp_path):
    """A directory with sample.c, sample.h and main.c."""
    d = tmp_path / "src"
    d.mkdir()
    (d / "sample.c").write_text(SAMPLE_C)
    (d / "sample.h").write_text(SAMPLE_H)
    (d / "main.c").write_text(MAIN_C)
    return d
