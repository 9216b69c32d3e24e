#include <stdio.h>
#include <string.h>
#include "demo.h"

int main(void) {
    const char *msg = "The quick brown fox jumps over the lazy dog";
    int v[] = {5, 3, 9, 1, 7};
    long before = weighted_sum(v, 5);
    sort_ints(v, 5);
    printf("%08x %s %ld %ld\n", crc32((const unsigned char *)msg, strlen(msg)), kind(12),
           before, rank_score(v, 5));
    return 0;
}
