#include "demo.h"

static unsigned table[256];

static void make_table(void) {
    for (unsigned n = 0; n < 256; n++) {
        unsigned c = n;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
        table[n] = c;
    }
}

unsigned crc32(const unsigned char *buf, unsigned long len) {
    unsigned c = 0xffffffffu;
    if (!table[1])
        make_table();
    for (unsigned long i = 0; i < len; i++)
        c = table[(c ^ buf[i]) & 0xff] ^ (c >> 8);
    return c ^ 0xffffffffu;
}
