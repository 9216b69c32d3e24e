"""A generated multi-file C project with a Makefile, for parallel-build tests."""

import textwrap

N_FILES = 12


def write_project(root):
    """Write ``N_FILES`` modules, a main and a Makefile under ``root``; return the
    expected program output (bytes)."""
    root.mkdir(parents=True, exist_ok=True)
    calls = []
    expected = 0
    for i in range(N_FILES):
        (root / f"m{i}.c").write_text(textwrap.dedent(f"""\
            static int helper_{i}(int x) {{ return x * {i + 3} + (x >> {i % 5}); }}
            int table_{i}[16] = {{ {", ".join(str((i * 7 + j) % 13) for j in range(16))} }};
            int f_{i}(int n) {{
                int s = 0;
                for (int j = 0; j < n; j++) {{
                    switch ((j + {i}) % 4) {{
                    case 0: s += helper_{i}(table_{i}[j % 16]); break;
                    case 1: s -= table_{i}[(j * 3) % 16]; break;
                    case 2: s ^= j; break;
                    default: s += 1;
                    }}
                }}
                return s;
            }}
            """))
        calls.append(f"f_{i}(100)")
        table = [(i * 7 + j) % 13 for j in range(16)]
        s = 0
        for j in range(100):
            c = (j + i) % 4
            if c == 0:
                x = table[j % 16]
                s += x * (i + 3) + (x >> (i % 5))
            elif c == 1:
                s -= table[(j * 3) % 16]
            elif c == 2:
                s ^= j
            else:
                s += 1
        expected += s
    decls = "".join(f"int f_{i}(int);\n" for i in range(N_FILES))
    (root / "main.c").write_text(
        "#include <stdio.h>\n" + decls +
        f"int main(void) {{ printf(\"%d\\n\", {' + '.join(calls)}); return 0; }}\n")
    objs = " ".join(f"m{i}.o" for i in range(N_FILES)) + " main.o"
    (root / "Makefile").write_text(
        "CFLAGS ?= -O2\n"
        f"prog: {objs}\n\t$(CC) $(CFLAGS) -o $@ $^\n"
        "%.o: %.c\n\t$(CC) $(CFLAGS) -MMD -c $< -o $@\n"
        "clean:\n\trm -f *.o *.d prog\n"
        "-include *.d\n")
    return f"{expected}\n".encode()


def objects(root, pattern="*.o"):
    """File name -> bytes of the build outputs matching ``pattern`` under ``root``."""
    return {p.name: p.read_bytes() for p in sorted(root.glob(pattern))}
