/* Linux's TCP defaults, used when the host's /proc/sys cannot be read. */
#include <stdint.h>
#include <string.h>

#include "tcp_config.h"

/* Fills c with the defaults of a stock Linux 6.x kernel. */
void tcp_config_defaults(struct tcp_config *c)
{
	memset(c, 0, sizeof(*c));
	c->rmem[0] = 4096;
	c->rmem[1] = 131072;
	c->rmem[2] = 6291456;
	c->wmem[0] = 4096;
	c->wmem[1] = 16384;
	c->wmem[2] = 4194304;
	/*
	 * Linux sizes tcp_mem from RAM (a sixteenth of it as the pressure
	 * point, udp_mem from an eighth); the stack's RAM is its arena, 256 MiB
	 * by default: pressure at 64 MiB, max at 96 MiB for TCP; UDP twice.
	 */
	c->mem[0] = 12288;
	c->mem[1] = 16384;
	c->mem[2] = 24576;
	c->udp_mem[0] = 24576;
	c->udp_mem[1] = 32768;
	c->udp_mem[2] = 49152;
	c->sack = true;
	c->timestamps = true;
	c->window_scaling = true;
	c->syncookies = 1;
	strcpy(c->congestion_control, "cubic");
	c->syn_retries = 6;
	c->synack_retries = 5;
	c->retries1 = 3;
	c->retries2 = 15;
	c->orphan_retries = 0;
	c->fin_timeout_s = 60;
	c->keepalive_time_s = 7200;
	c->keepalive_intvl_s = 75;
	c->keepalive_probes = 9;
	c->max_syn_backlog = 4096;
	c->max_tw_buckets = 131072;
	c->somaxconn = 4096;
	c->msl_us = 30ull * 1000 * 1000;
	c->rto_min_us = 200ull * 1000;
	c->rto_max_us = 120ull * 1000 * 1000;
	c->rto_init_us = 1000ull * 1000;
	c->initial_cwnd = 10;
	c->tw_reuse = 2;
	c->challenge_ack_limit = 1000;
	c->fastopen = 1;
	c->ecn = 2;
	c->notsent_lowat = UINT32_MAX;
	c->min_tso_segs = 2;
	c->tso_rtt_log = 9;
	c->tso_win_divisor = 3;
	c->pacing_ss_ratio = 200;
	c->pacing_ca_ratio = 120;
	c->recovery = 1;
	c->max_reordering = 300;
}
