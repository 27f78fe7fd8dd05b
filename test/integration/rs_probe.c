/*
 * The resolver calls python does not make, under nstack (case_resolve.sh):
 *   rs_probe ADDR   res_query/res_search/res_send for www.lab.test's A
 *                   record (the answer must hold ADDR), gethostbyname_r,
 *                   gethostbyname2_r, gethostbyaddr_r, getnameinfo with
 *                   NI_NAMEREQD for an address without a name (EAI_NONAME).
 */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <resolv.h>
#include <stdio.h>
#include <string.h>

#define CHECK(c, ...)                                                                              \
	do {                                                                                       \
		if (!(c)) {                                                                        \
			fprintf(stderr, "rs_probe: " __VA_ARGS__);                                 \
			fprintf(stderr, " (h_errno %d)\n", h_errno);                               \
			return 1;                                                                  \
		}                                                                                  \
	} while (0)

/* Whether the DNS answer of n bytes has an A record with addr. */
static int has_a(const unsigned char *ans, int n, struct in_addr addr)
{
	ns_msg m;
	ns_rr rr;

	if (ns_initparse(ans, n, &m) < 0)
		return 0;
	for (int i = 0; i < ns_msg_count(m, ns_s_an); i++)
		if (ns_parserr(&m, ns_s_an, i, &rr) == 0 && ns_rr_type(rr) == ns_t_a &&
		    ns_rr_rdlen(rr) == 4 && !memcmp(ns_rr_rdata(rr), &addr, 4))
			return 1;
	return 0;
}

int main(int argc, char **argv)
{
	unsigned char ans[4096], q[512];
	struct hostent he, *r;
	struct in_addr addr, none;
	struct sockaddr_in sa = {.sin_family = AF_INET};
	char buf[2048], host[256];
	int n, herr;

	if (argc != 2 || inet_pton(AF_INET, argv[1], &addr) != 1)
		return 2;
	n = res_query("www.lab.test", ns_c_in, ns_t_a, ans, sizeof(ans));
	CHECK(n > 0 && has_a(ans, n, addr), "res_query: %d", n);
	n = res_search("www", ns_c_in, ns_t_a, ans, sizeof(ans));
	CHECK(n > 0 && has_a(ans, n, addr), "res_search with the search domain: %d", n);
	n = res_mkquery(ns_o_query, "alias.lab.test", ns_c_in, ns_t_a, NULL, 0, NULL, q, sizeof(q));
	CHECK(n > 0, "res_mkquery");
	n = res_send(q, n, ans, sizeof(ans));
	CHECK(n > 0 && has_a(ans, n, addr), "res_send: %d", n);
	n = res_query("nope.lab.test", ns_c_in, ns_t_a, ans, sizeof(ans));
	CHECK(n < 0 && h_errno == HOST_NOT_FOUND, "res_query of an unknown name: %d", n);
	CHECK(gethostbyname_r("www.lab.test", &he, buf, sizeof(buf), &r, &herr) == 0 && r &&
		  r->h_addrtype == AF_INET && !memcmp(r->h_addr_list[0], &addr, 4),
	      "gethostbyname_r");
	CHECK(gethostbyname2_r("alias.lab.test", AF_INET, &he, buf, sizeof(buf), &r, &herr) == 0 &&
		  r && !strcmp(r->h_name, "www.lab.test"),
	      "gethostbyname2_r: canonical name");
	CHECK(gethostbyname_r("nope.lab.test", &he, buf, sizeof(buf), &r, &herr) == 0 && !r &&
		  herr == HOST_NOT_FOUND,
	      "gethostbyname_r of an unknown name");
	CHECK(gethostbyaddr_r(&addr, 4, AF_INET, &he, buf, sizeof(buf), &r, &herr) == 0 && r &&
		  strstr(r->h_name, ".lab.test"),
	      "gethostbyaddr_r");
	inet_pton(AF_INET, "198.18.0.99", &none);
	sa.sin_addr = none;
	CHECK(getnameinfo((struct sockaddr *)&sa, sizeof(sa), host, sizeof(host), NULL, 0,
			  NI_NAMEREQD) == EAI_NONAME,
	      "getnameinfo NI_NAMEREQD without a name");
	CHECK(getnameinfo((struct sockaddr *)&sa, sizeof(sa), host, sizeof(host), NULL, 0, 0) ==
		      0 &&
		  !strcmp(host, "198.18.0.99"),
	      "getnameinfo falls back to the number");
	printf("rs_probe: ok\n");
	return 0;
}
