/*
 * The Internet checksum (RFC 1071).
 *
 * Sums are kept in the byte order the words have in memory, as Linux does:
 * the one's complement sum is byte-order independent (RFC 1071 section
 * 2(B)), so loading 16-bit words natively and storing the folded result
 * natively yields the right bytes on the wire on any host.
 */
#include <string.h>

#include "checksum.h"

/*
 * Adds the 16-bit words of buf to sum (one's complement, carries kept in a
 * wide accumulator and folded back to 32 bits). An odd trailing byte is
 * padded with a zero byte after it, as RFC 1071 prescribes.
 */
uint32_t csum_partial(const void *buf, size_t len, uint32_t sum)
{
	const unsigned char *p = buf;
	uint64_t acc = sum, a1 = 0, a2 = 0, a3 = 0;

	/*
	 * Four bytes at a time: a 32-bit word is two 16-bit words and
	 * 2^16 == 1 modulo 2^16 - 1, so the folded sum is the same. A 64-bit
	 * accumulator cannot overflow for any buffer below 2^32 words. The
	 * main loop keeps four independent sums so the additions overlap.
	 */
	while (len >= 16) {
		uint32_t w[4];

		memcpy(w, p, 16);
		acc += w[0];
		a1 += w[1];
		a2 += w[2];
		a3 += w[3];
		p += 16;
		len -= 16;
	}
	/* Each part is below 2^62 here, so the sum of four cannot wrap. */
	acc += a1 + a2 + a3;
	while (len >= 4) {
		uint32_t w;

		memcpy(&w, p, 4);
		acc += w;
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		uint16_t w;

		memcpy(&w, p, 2);
		acc += w;
		p += 2;
		len -= 2;
	}
	if (len) {
		/* The last byte is the first byte of a word whose second
		 * byte is zero. */
		unsigned char pad[2] = {p[0], 0};
		uint16_t w;

		memcpy(&w, pad, 2);
		acc += w;
	}
	while (acc >> 32)
		acc = (acc & 0xffffffffu) + (acc >> 32);
	return (uint32_t)acc;
}
