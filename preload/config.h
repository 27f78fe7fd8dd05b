/*
 * The preload's configuration: NSTACK_* environment variables and the host's
 * TCP sysctls turned into a struct nstack_config. Pure parsing, no side
 * effects, so unit tests can drive it with their own environment.
 */
#ifndef NSTACK_PRELOAD_CONFIG_H
#define NSTACK_PRELOAD_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nstack.h"

/* Where make install puts nstack-opener (the Makefile says, from PREFIX). */
#ifndef NSTACK_OPENER_PATH
#define NSTACK_OPENER_PATH "/usr/local/lib/nstack/nstack-opener"
#endif

struct nsp_config {
	struct nstack_config cfg;
	bool have_mac; /* NSTACK_MAC given; otherwise the interface's */
	uint8_t mac[6];
	char pcap_path[PATH_MAX];    /* NSTACK_PCAP; empty = no dump */
	char opener[PATH_MAX];	     /* NSTACK_OPENER; empty = none */
	unsigned int exit_linger_ms; /* NSTACK_EXIT_LINGER: flush at exit for this long */
	bool handover_loopback;	     /* NSTACK_HANDOVER */
	bool gso;		     /* NSTACK_GSO: TCP segmentation by the kernel (default on) */
	bool tx_thread;	   /* NSTACK_TX_THREAD: super-frames sent by a thread of their own */
	bool gro;	   /* NSTACK_GRO: turn the interface's receive offload on (default on) */
	bool ingress_drop; /* NSTACK_INGRESS_DROP: end our frames at ingress (default on) */
	bool stats;	   /* NSTACK_STATS: print the counters at exit */
	int nbypass;	   /* NSTACK_BYPASS: CIDRs always served by the kernel */
	uint32_t bypass_net[16], bypass_mask[16];
	int nbypass6; /* the IPv6 ones among NSTACK_BYPASS */
	struct in6_addr bypass6_net[16];
	unsigned int bypass6_plen[16];
};

/* Looks a variable up (getenv, or a test's table); NULL when unset. */
typedef const char *(*nsp_getenv_fn)(void *ctx, const char *name);

/* Dotted quad to network order; 0 or -EINVAL. */
int nsp_parse_ipv4(const char *s, uint32_t *addr);
/* "a.b.c.d/len"; 0 or -EINVAL. */
int nsp_parse_cidr(const char *s, uint32_t *addr, unsigned int *prefixlen);
/* "aa:bb:cc:dd:ee:ff" (also with '-'); a unicast MAC; 0 or -EINVAL. */
int nsp_parse_mac(const char *s, uint8_t mac[6]);
/* error|warn|info|debug (or 0..3); 0 or -EINVAL. */
int nsp_parse_log(const char *s, enum nstack_log_level *level);

/*
 * Fills t from the sysctl files under procdir ("/proc/sys/net"), keeping
 * t's current value where a file is missing or unreadable.
 */
void nsp_tcp_from_proc(struct tcp_config *t, const char *procdir);
/* Applies NSTACK_TCP_* overrides; 0 or -EINVAL with err naming the variable. */
int nsp_tcp_from_env(struct tcp_config *t, nsp_getenv_fn get, void *ctx, char *err, size_t errlen);

/*
 * The whole configuration: defaults, then procdir (NULL to skip), then the
 * environment. 0 or -EINVAL with a one-line message naming the variable.
 */
int nsp_config_load(struct nsp_config *c, nsp_getenv_fn get, void *ctx, const char *procdir,
		    char *err, size_t errlen);

#endif
