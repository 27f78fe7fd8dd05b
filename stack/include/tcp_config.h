/*
 * TCP tunables, one field per Linux sysctl (net.ipv4.tcp_*), filled from the
 * host's /proc/sys by the embedder and overridable by NSTACK_TCP_* variables.
 */
#ifndef NSTACK_TCP_CONFIG_H
#define NSTACK_TCP_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

struct tcp_config {
	int rmem[3]; /* tcp_rmem: min default max */
	int wmem[3]; /* tcp_wmem */
	/*
	 * tcp_mem and udp_mem: min, pressure, max, in pages of 4096 bytes,
	 * over the receive memory (truesize) of all TCP (UDP) sockets of the
	 * stack. Below min nothing is refused; above pressure TCP stops growing
	 * windows and buffers; above max new data is dropped (Linux's
	 * __sk_mem_raise_allocated). Each mark is held to 3/16, 1/4, 3/8 of
	 * the stack's arena, its RAM.
	 */
	int mem[3];
	int udp_mem[3];
	bool sack;
	bool timestamps;
	bool window_scaling;
	int syncookies; /* 0 off, 1 on overflow, 2 always */
	char congestion_control[16];
	int syn_retries;
	int synack_retries;
	int retries1;
	int retries2;
	int orphan_retries;
	int fin_timeout_s;
	int keepalive_time_s;
	int keepalive_intvl_s;
	int keepalive_probes;
	int max_syn_backlog;
	int max_tw_buckets; /* tcp_max_tw_buckets: TIME_WAIT sockets held at most */
	int somaxconn;
	uint64_t msl_us;	 /* TIME_WAIT lasts 2 * msl_us (Linux: 60 s in all) */
	uint64_t rto_min_us;	 /* 200 ms */
	uint64_t rto_max_us;	 /* 120 s */
	uint64_t rto_init_us;	 /* 1 s (RFC 6298) */
	int initial_cwnd;	 /* 10 segments (RFC 6928) */
	int tw_reuse;		 /* tcp_tw_reuse */
	int challenge_ack_limit; /* tcp_challenge_ack_limit per second */
	bool no_metrics_save;
	int fastopen;		/* tcp_fastopen: TFO_* bits (default 1: client) */
	int ecn;		/* tcp_ecn: 0 off, 1 ask and accept, 2 accept (default) */
	uint32_t notsent_lowat; /* tcp_notsent_lowat: UINT32_MAX (Linux's default) = off */
	int min_tso_segs;	/* tcp_min_tso_segs: a burst unit holds at least this (2) */
	int tso_rtt_log;	/* tcp_tso_rtt_log: short RTTs earn bigger units (9) */
	int tso_win_divisor;	/* tcp_tso_win_divisor: a unit waits for 1/this of the window (3) */
	int pacing_ss_ratio;	/* tcp_pacing_ss_ratio: pacing rate in slow start, % (200) */
	int pacing_ca_ratio;	/* tcp_pacing_ca_ratio: pacing rate otherwise, % (120) */
	int recovery;		/* tcp_recovery: TCP_RACK_* bits (1: RACK on) */
	int max_reordering;	/* tcp_max_reordering: the most tp->reordering grows to (300) */
	uint64_t fastopen_key[2]; /* tcp_fastopen_key: SipHash key of our cookies */
	bool fastopen_key_set;	  /* false: a random key, drawn at first use */
};

/* Linux's defaults, for when /proc/sys is not readable. */
void tcp_config_defaults(struct tcp_config *c);

#endif
