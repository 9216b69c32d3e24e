/* Sample translation unit for scripts/gen_pass_vocabulary.py.
 *
 * Every candidate pass is run on the unoptimized IR of this file and the
 * result is compiled to an object, so the file exercises the constructs that
 * size-oriented passes look at: loops (nested, counted, with early exits),
 * direct, indirect and recursive calls, internal and external globals,
 * constant tables, a dense switch, structs, memcpy/memset idioms and
 * variadic calls.
 *
 * Built with -DVOCAB_SAMPLE_HARNESS the file instead yields a small main()
 * that calls the sample and prints its results, so the script can check
 * that a transformed object still computes the same output.  The code is
 * free of undefined behaviour for the inputs the harness uses.
 */
#include <stddef.h>

struct point {
    int x;
    int y;
};

extern int counter;
extern unsigned matrix[16][16];
int external_hook(int value);
int sum_varargs(int count, ...);
const char *name_of(unsigned i);
int driver(int argc, int *values);

#ifndef VOCAB_SAMPLE_HARNESS

#include <stdarg.h>
#include <string.h>

int counter;
static int hidden_state = 7;
const char *const greetings[] = {"zero", "one", "two", "three"};
static const int weights[8] = {3, 1, 4, 1, 5, 9, 2, 6};
unsigned matrix[16][16];

static int square(int v) { return v * v; }

static int cube(int v) { return square(v) * v; }

int apply(int (*fn)(int), int v) { return fn(v) + hidden_state; }

int classify(int op, int a, int b)
{
    switch (op) {
    case 0: return a + b;
    case 1: return a - b;
    case 2: return a * b;
    case 3: return b ? a / b : 0;
    case 4: return a & b;
    case 5: return a | b;
    case 6: return a ^ b;
    case 7: return a << (b & 7);
    default: return -1;
    }
}

const char *name_of(unsigned i) { return i < 4 ? greetings[i] : "many"; }

int weighted_sum(const int *values, int n)
{
    int total = 0;
    for (int i = 0; i < n; i++)
        total += values[i] * weights[i & 7];
    return total;
}

void transpose_add(int n)
{
    for (int i = 0; i < n && i < 16; i++)
        for (int j = 0; j < n && j < 16; j++)
            matrix[j][i] += matrix[i][j] + (unsigned)(i * j);
}

int find_first(const int *values, int n, int key)
{
    for (int i = 0; i < n; i++) {
        if (values[i] == key)
            return i;
        counter++;
    }
    return -1;
}

void copy_points(struct point *dst, const struct point *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = src[i];
    memset(dst + n, 0, sizeof *dst);
}

unsigned fib(unsigned n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

int sum_varargs(int count, ...)
{
    va_list ap;
    int total = 0;
    va_start(ap, count);
    while (count-- > 0)
        total += va_arg(ap, int);
    va_end(ap);
    return total;
}

int driver(int argc, int *values)
{
    struct point a[4] = {{1, 2}, {3, 4}, {5, 6}, {7, 8}};
    struct point b[5];
    int acc = 0;

    copy_points(b, a, 4);
    transpose_add(argc);
    for (int op = 0; op < 8; op++)
        acc += classify(op, values[op & 3], argc);
    acc += weighted_sum(values, argc);
    acc += find_first(values, argc, 42);
    acc += apply(square, argc) + apply(cube, argc);
    acc += (int)fib((unsigned)argc & 15u);
    acc += sum_varargs(3, acc, argc, b[1].y);
    acc += (int)strlen(name_of((unsigned)argc));
    if (acc > 1000)
        acc = external_hook(acc);
    counter += acc;
    return acc;
}

#else /* VOCAB_SAMPLE_HARNESS */

#include <stdio.h>

int external_hook(int value) { return value / 3 + 1; }

int main(void)
{
    int values[16] = {5, -3, 42, 8, 13, 0, 21, 42, -7, 1, 2, 3, 99, 4, 6, 11};
    unsigned checksum = 0;

    for (int n = 0; n < 16; n++)
        printf("driver(%d) = %d\n", n, driver(n, values));
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 16; j++)
            checksum = checksum * 31u + matrix[i][j];
    printf("counter = %d\nchecksum = %u\n", counter, checksum);
    printf("names = %s %s %s\n", name_of(0), name_of(3), name_of(9));
    printf("varargs = %d\n", sum_varargs(4, 1, 2, 3, 4));
    return 0;
}

#endif /* VOCAB_SAMPLE_HARNESS */
