#include <stdlib.h>
#include "demo.h"

static int cmp(const void *a, const void *b) {
    return *(const int *)a - *(const int *)b;
}

void sort_ints(int *v, int n) {
    qsort(v, n, sizeof *v, cmp);
}

/* Two scores that happen to compile to the same code. clang -Oz keeps both;
   LLVM's function merging (one of llmcc's candidates) makes one a thunk. */
long weighted_sum(const int *v, int n) {
    long s = 0;
    for (int i = 0; i < n; i++)
        s += (long)v[i] * (i + 1);
    return s;
}

long rank_score(const int *v, int n) {
    long s = 0;
    for (int i = 0; i < n; i++)
        s += (long)v[i] * (i + 1);
    return s;
}
