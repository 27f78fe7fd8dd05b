/* Unit tests for the Internet checksum (RFC 1071). */
#include <arpa/inet.h>
#include <check.h>
#include <stdint.h>
#include <string.h>

#include "check_main.h"
#include "checksum.h"

/* Straightforward RFC 1071 reference: big-endian 16-bit words, end-around carry. */
static uint16_t ref_csum(const uint8_t *p, size_t len)
{
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* The checksum as it reads on the wire (network order), for comparisons. */
static uint16_t wire_csum(const void *p, size_t len)
{
	return ntohs(csum_fold(csum_partial(p, len, 0)));
}

START_TEST(test_rfc1071_example_gives_known_checksum)
{
	/* RFC 1071 section 3: the words 0001 f203 f4f5 f6f7 sum to ddf2. */
	static const uint8_t b[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};

	ck_assert_uint_eq(wire_csum(b, sizeof(b)), (uint16_t)~0xddf2);
}
END_TEST

START_TEST(test_ipv4_header_vector_checksums_and_verifies)
{
	/* A classic capture: 192.168.0.1 -> 192.168.0.199, UDP, checksum b861. */
	uint8_t h[20] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
			 0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
	uint16_t c = ip_fast_csum(h, 5);

	ck_assert_uint_eq(ntohs(c), 0xb861);
	memcpy(&h[10], &c, 2);
	ck_assert_uint_eq(h[10], 0xb8);
	ck_assert_uint_eq(h[11], 0x61);
	ck_assert_uint_eq(ip_fast_csum(h, 5), 0);
	h[15] ^= 1; /* any flipped bit is detected */
	ck_assert_uint_ne(ip_fast_csum(h, 5), 0);
}
END_TEST

START_TEST(test_odd_length_pads_last_byte_with_zero)
{
	static const uint8_t one[] = {0x01};
	static const uint8_t three[] = {0x12, 0x34, 0x56};
	static const uint8_t five[] = {0xff, 0xff, 0xff, 0xff, 0x01};

	ck_assert_uint_eq(wire_csum(one, 1), 0xfeff);
	ck_assert_uint_eq(wire_csum(three, 3), (uint16_t) ~(0x1234 + 0x5600));
	/* 0xffff + 0xffff + 0x0100 = 0x2_00fe -> 0x0100 after carries. */
	ck_assert_uint_eq(wire_csum(five, 5), (uint16_t)~0x0100);
}
END_TEST

START_TEST(test_empty_buffer_returns_initial_sum)
{
	ck_assert_uint_eq(csum_partial("", 0, 0), 0);
	ck_assert_uint_eq(csum_partial("", 0, 0x1234), 0x1234);
	ck_assert_uint_eq(wire_csum("", 0), 0xffff);
}
END_TEST

START_TEST(test_all_ones_fold_to_zero_checksum)
{
	uint8_t b[1000];

	memset(b, 0xff, sizeof(b));
	ck_assert_uint_eq(wire_csum(b, sizeof(b)), 0);
	/* Large carries: 32 KiB of 0xff words still folds right. */
	static uint8_t big[32768];
	memset(big, 0xff, sizeof(big));
	ck_assert_uint_eq(wire_csum(big, sizeof(big)), ref_csum(big, sizeof(big)));
}
END_TEST

START_TEST(test_random_buffers_match_reference_at_any_alignment)
{
	static uint8_t buf[1024 + 8];
	uint32_t x = 0xdeadbeef;

	for (size_t i = 0; i < sizeof(buf); i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		buf[i] = (uint8_t)x;
	}
	for (size_t off = 0; off < 4; off++)
		for (size_t len = 0; len <= 1024; len += (len < 70 ? 1 : 37))
			ck_assert_msg(wire_csum(buf + off, len) == ref_csum(buf + off, len),
				      "off %zu len %zu", off, len);
}
END_TEST

START_TEST(test_sum_continues_across_even_split)
{
	static const uint8_t b[] = "The quick brown fox jumps over the lazy dog!";
	size_t len = sizeof(b) - 1;

	for (size_t split = 0; split <= len; split += 2) {
		uint32_t s = csum_partial(b, split, 0);

		s = csum_partial(b + split, len - split, s);
		ck_assert_uint_eq(csum_fold(s), csum_fold(csum_partial(b, len, 0)));
	}
}
END_TEST

START_TEST(test_udp_pseudo_header_checksum_verifies)
{
	/* 198.18.0.1:1234 -> 198.18.0.2:7, payload "hello" (odd). */
	uint8_t u[13] = {0x04, 0xd2, 0x00, 0x07, 0x00, 0x0d, 0x00, 0x00, 'h', 'e', 'l', 'l', 'o'};
	uint32_t s = htonl(0xc6120001), d = htonl(0xc6120002);
	uint16_t c = csum_tcpudp_magic(s, d, sizeof(u), 17, csum_partial(u, sizeof(u), 0));
	uint8_t pseudo[12 + 13];

	memcpy(&u[6], &c, 2);
	/* Verifying: the sum over pseudo header and segment is all ones. */
	ck_assert_uint_eq(csum_tcpudp_magic(s, d, sizeof(u), 17, csum_partial(u, sizeof(u), 0)), 0);
	/* And it agrees with the reference over an explicit pseudo header. */
	memcpy(pseudo, &s, 4);
	memcpy(pseudo + 4, &d, 4);
	pseudo[8] = 0;
	pseudo[9] = 17;
	pseudo[10] = 0;
	pseudo[11] = sizeof(u);
	memcpy(pseudo + 12, u, sizeof(u));
	ck_assert_uint_eq(ref_csum(pseudo, sizeof(pseudo)), 0);
}
END_TEST

static Suite *checksum_suite(void)
{
	Suite *s = suite_create("checksum");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_rfc1071_example_gives_known_checksum);
	tcase_add_test(tc, test_ipv4_header_vector_checksums_and_verifies);
	tcase_add_test(tc, test_odd_length_pads_last_byte_with_zero);
	tcase_add_test(tc, test_empty_buffer_returns_initial_sum);
	tcase_add_test(tc, test_all_ones_fold_to_zero_checksum);
	tcase_add_test(tc, test_random_buffers_match_reference_at_any_alignment);
	tcase_add_test(tc, test_sum_continues_across_even_split);
	tcase_add_test(tc, test_udp_pseudo_header_checksum_verifies);
	suite_add_tcase(s, tc);
	return s;
}

NSTACK_SUITE(checksum_suite)
