#ifndef DEMO_H
#define DEMO_H

unsigned crc32(const unsigned char *buf, unsigned long len);
const char *kind(int x);
void sort_ints(int *v, int n);
long weighted_sum(const int *v, int n);
long rank_score(const int *v, int n);

#endif
