/*
 * TCP (RFC 9293) state shared between the TCP files: struct tcp_sock, the
 * state enum, the per-skb control block, request socks of the listen path,
 * the congestion-control registry and the lookup tables.
 *
 * Do not include <netinet/tcp.h> or <linux/tcp.h> next to this header:
 * both define their own struct tcphdr. The socket option numbers and
 * struct tcp_info layout below are Linux's ABI, spelled out here.
 */
#ifndef NSTACK_TCP_H
#define NSTACK_TCP_H

#include <bsd/sys/queue.h>
#include <stdbool.h>
#include <stdint.h>

#include "inet.h"
#include "proto/tcp.h"
#include "sock.h"
#include "timer.h"

/* A 32-bit mixer (MurmurHash3's finalizer) for keyed hashes. */
static inline uint32_t tcp_mix32(uint32_t h)
{
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

struct nstack;
struct sk_buff;

/*
 * States in RFC 9293 order with Linux's numbers (sk_state, TCP_INFO,
 * /proc/net/tcp). The tag is not tcp_state: stack.h owns struct tcp_state.
 */
enum tcp_conn_state {
	TCP_ESTABLISHED = 1,
	TCP_SYN_SENT,
	TCP_SYN_RECV,
	TCP_FIN_WAIT1,
	TCP_FIN_WAIT2,
	TCP_TIME_WAIT,
	TCP_CLOSE,
	TCP_CLOSE_WAIT,
	TCP_LAST_ACK,
	TCP_LISTEN,
	TCP_CLOSING,
	TCP_MAX_STATES
};

extern const char *const tcp_state_names[TCP_MAX_STATES];

/* Linux's IPPROTO_TCP socket options. */
#define TCP_NODELAY	       1
#define TCP_MAXSEG	       2
#define TCP_CORK	       3
#define TCP_KEEPIDLE	       4
#define TCP_KEEPINTVL	       5
#define TCP_KEEPCNT	       6
#define TCP_SYNCNT	       7
#define TCP_LINGER2	       8
#define TCP_DEFER_ACCEPT       9
#define TCP_WINDOW_CLAMP       10
#define TCP_INFO	       11
#define TCP_QUICKACK	       12
#define TCP_CONGESTION	       13
#define TCP_USER_TIMEOUT       18
#define TCP_NOTSENT_LOWAT      25
#define TCP_FASTOPEN	       23
#define TCP_CC_INFO	       26
#define TCP_FASTOPEN_CONNECT   30
#define TCP_FASTOPEN_KEY       33
#define TCP_FASTOPEN_NO_COOKIE 34
#define TCP_INQ		       36
#define TCP_CM_INQ	       TCP_INQ /* the control message TCP_INQ asks for */

#define TCP_CA_NAME_MAX 16

/* Congestion-avoidance states, as tcpi_ca_state reports them. */
enum tcp_ca_state { TCP_CA_Open, TCP_CA_Disorder, TCP_CA_CWR, TCP_CA_Recovery, TCP_CA_Loss };

/* tcpi_options bits. */
#define TCPI_OPT_TIMESTAMPS 1
#define TCPI_OPT_SACK	    2
#define TCPI_OPT_WSCALE	    4
#define TCPI_OPT_SYN_DATA   32

/* Linux's struct tcp_info (include/uapi/linux/tcp.h), byte for byte. */
struct tcp_info_linux {
	uint8_t tcpi_state;
	uint8_t tcpi_ca_state;
	uint8_t tcpi_retransmits;
	uint8_t tcpi_probes;
	uint8_t tcpi_backoff;
	uint8_t tcpi_options;
	uint8_t tcpi_snd_wscale : 4, tcpi_rcv_wscale : 4;
	uint8_t tcpi_delivery_rate_app_limited : 1, tcpi_fastopen_client_fail : 2;
	uint32_t tcpi_rto;
	uint32_t tcpi_ato;
	uint32_t tcpi_snd_mss;
	uint32_t tcpi_rcv_mss;
	uint32_t tcpi_unacked;
	uint32_t tcpi_sacked;
	uint32_t tcpi_lost;
	uint32_t tcpi_retrans;
	uint32_t tcpi_fackets;
	uint32_t tcpi_last_data_sent;
	uint32_t tcpi_last_ack_sent;
	uint32_t tcpi_last_data_recv;
	uint32_t tcpi_last_ack_recv;
	uint32_t tcpi_pmtu;
	uint32_t tcpi_rcv_ssthresh;
	uint32_t tcpi_rtt;
	uint32_t tcpi_rttvar;
	uint32_t tcpi_snd_ssthresh;
	uint32_t tcpi_snd_cwnd;
	uint32_t tcpi_advmss;
	uint32_t tcpi_reordering;
	uint32_t tcpi_rcv_rtt;
	uint32_t tcpi_rcv_space;
	uint32_t tcpi_total_retrans;
	uint64_t tcpi_pacing_rate;
	uint64_t tcpi_max_pacing_rate;
	uint64_t tcpi_bytes_acked;
	uint64_t tcpi_bytes_received;
	uint32_t tcpi_segs_out;
	uint32_t tcpi_segs_in;
	uint32_t tcpi_notsent_bytes;
	uint32_t tcpi_min_rtt;
	uint32_t tcpi_data_segs_in;
	uint32_t tcpi_data_segs_out;
	uint64_t tcpi_delivery_rate;
	uint64_t tcpi_busy_time;
	uint64_t tcpi_rwnd_limited;
	uint64_t tcpi_sndbuf_limited;
	uint32_t tcpi_delivered;
	uint32_t tcpi_delivered_ce;
	uint64_t tcpi_bytes_sent;
	uint64_t tcpi_bytes_retrans;
	uint32_t tcpi_dsack_dups;
	uint32_t tcpi_reord_seen;
	uint32_t tcpi_rcv_ooopack;
	uint32_t tcpi_snd_wnd;
	/* Linux 6.x additions (packetdrill asks for the whole structure). */
	uint32_t tcpi_rcv_wnd;
	uint32_t tcpi_rehash;
	uint16_t tcpi_total_rto;
	uint16_t tcpi_total_rto_recoveries;
	uint32_t tcpi_total_rto_time;
	uint32_t tcpi_received_ce;
	uint32_t tcpi_delivered_e1_bytes;
	uint32_t tcpi_delivered_e0_bytes;
	uint32_t tcpi_delivered_ce_bytes;
	uint32_t tcpi_received_e1_bytes;
	uint32_t tcpi_received_e0_bytes;
	uint32_t tcpi_received_ce_bytes;
	uint32_t
	    tcpi_ecn_mode_opts; /* ecn_mode:2, accecn_opt_seen:2, accecn_fail_mode:4, options2:24 */
};

/* Sequence-space comparisons (RFC 9293 3.4), modulo 2^32. */
static inline bool before(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}
#define after(a, b) before((b), (a))
static inline bool between(uint32_t x, uint32_t lo, uint32_t hi)
{
	return hi - lo >= x - lo;
}

/* Constants in Linux's units converted to microseconds. */
#define TCP_DELACK_MIN_US	40000u /* TCP_ATO_MIN / TCP_DELACK_MIN */
#define TCP_DELACK_MAX_US	200000u
#define TCP_TIMEOUT_INIT_US	1000000u
#define TCP_RESOURCE_PROBE_US	500000u
#define TCP_MAX_QUICKACKS	16
#define TCP_MSS_DEFAULT		536
#define TCP_MIN_MSS		88
#define TCP_MAX_WSCALE		14
#define TCP_MAX_WINDOW		65535u
#define TCP_FASTRETRANS_THRESH	3
#define TCP_MAX_SACKS		4
#define TCP_TIMEWAIT_LEN_US(ns) (2 * (ns)->cfg.tcp.msl_us)
#define TCP_PAWS_24DAYS_S	(60 * 60 * 24 * 24)
#define TCP_PAWS_MSL_S		60
#define TCP_PAWS_WINDOW		1
#define TCP_KEEPALIVE_MAX_S	(32767)
#define TCP_MAX_KEEPCNT		127
#define TCP_HEADER_MAX		60 /* largest header we build: 20 + 40 option bytes */
#define TCP_INIT_CWND_MAX	10

/*
 * Send-queue memory in Linux's units (x86_64, 6.x): sk_wmem_queued counts
 * each send skb's truesize, the sk_buff plus its head allocation plus the
 * payload in page frags, and writes, POLLOUT and sndbuf growth all follow
 * from it. The sk_buff is 232 bytes, 256 once cache-aligned
 * (SKB_DATA_ALIGN); skb_shared_info 320 with 17 frags. MAX_TCP_HEADER is
 * L1_CACHE_ALIGN(128 + MAX_HEADER) = 256 when MAX_HEADER is LL_MAX_HEADER 32
 * plus 48 for tunnels (no WLAN or Hyper-V; with them it is 320 and the
 * head below 896). tcp_stream_alloc_skb() asks for a head of MAX_TCP_HEADER
 * bytes: SKB_HEAD_ALIGN(256) = 256 + 320 = 576 bytes, which the small-head
 * cache serves at exactly that size (6.3 on), so truesize starts at
 * SKB_TRUESIZE(256) = 256 + 256 + 320 = 832 before any payload. The lab's
 * kernel (6.18) shows it: SO_MEMINFO's wmem_queued is 833 after a corked
 * one-byte write.
 */
#define TCP_SKB_STRUCT_SIZE   256 /* SKB_DATA_ALIGN(sizeof(struct sk_buff)) */
#define TCP_SKB_SHINFO_SIZE   320 /* SKB_DATA_ALIGN(sizeof(struct skb_shared_info)) */
#define TCP_MAX_TCP_HEADER    256
#define TCP_SKB_HEAD_TRUESIZE (TCP_SKB_STRUCT_SIZE + TCP_MAX_TCP_HEADER + TCP_SKB_SHINFO_SIZE)
/* MSG_ZEROCOPY charges the user pages a send pins (__zerocopy_sg_from_iter). */
#define TCP_ZC_PAGE_SIZE 4096u

/* Option lengths, as they appear in the header. */
#define TCPOLEN_MSS		  4
#define TCPOLEN_WINDOW		  3
#define TCPOLEN_SACK_PERM	  2
#define TCPOLEN_TIMESTAMP	  10
#define TCPOLEN_TSTAMP_ALIGNED	  12
#define TCPOLEN_SACK_BASE	  2
#define TCPOLEN_SACK_PERBLOCK	  8
#define TCPOLEN_FASTOPEN_BASE	  2
#define TCPOLEN_EXP_FASTOPEN_BASE 4
#define TCP_FASTOPEN_COOKIE_MIN	  4
#define TCP_FASTOPEN_COOKIE_MAX	  16
#define TCP_FASTOPEN_COOKIE_SIZE  8 /* what we hand out: a SipHash-2-4 value */
#define MAX_TCP_OPTION_SPACE	  40

/* net.ipv4.tcp_fastopen bits (Linux's TFO_*). */
#define TFO_CLIENT_ENABLE	   0x1
#define TFO_SERVER_ENABLE	   0x2
#define TFO_CLIENT_NO_COOKIE	   0x4
#define TFO_SERVER_COOKIE_NOT_REQD 0x200
#define TFO_SERVER_WO_SOCKOPT1	   0x400

/* A Fast Open cookie, as carried in an option (len -1: no option, 0: a request). */
struct tcp_fastopen_cookie {
	int8_t len;
	bool exp; /* the experimental option (254, magic 0xF989) */
	uint8_t val[TCP_FASTOPEN_COOKIE_MAX];
};

/* Per-skb control block (skb->cb), for segments in and out. */
struct tcp_skb_cb {
	uint32_t seq;	  /* first sequence number */
	uint32_t end_seq; /* seq + SYN + FIN + data length */
	union {
		uint32_t ack_seq; /* input: the acknowledgement field */
		/* output: tp->delivered at the last transmission, for DSACK rounds */
		uint32_t tx_delivered;
	};
	/*
	 * Output: this segment begins a send skb as Linux would hold it, so
	 * its truesize carries TCP_SKB_HEAD_TRUESIZE besides its payload.
	 */
	bool head_charged;
	uint64_t when;	   /* output: time of last transmission (us) */
	uint64_t first_tx; /* output: time of first transmission (us) */
	uint8_t tcp_flags;
	uint8_t sacked;	 /* TCPCB_* scoreboard bits */
	uint8_t retrans; /* how many times it was retransmitted */
	bool eor;	 /* sent with MSG_EOR: later data never joins this segment */
	/* MSG_ZEROCOPY sends zc_lo..zc_lo+zc_len-1 end in this segment: notified when it is acked.
	 */
	uint32_t zc_lo;
	uint16_t zc_len;
	/* SO_TIMESTAMPING: the write's last byte is here; report TCP_TXSTAMP_* with tskey. */
	uint8_t txstamp;
	/*
	 * The send buffer Linux would have built (size_goal bytes, tcp_sendmsg)
	 * is full here: a burst sent as one unit never runs past it, except as
	 * tcp_grow_skb() lets it (tcp_write_xmit).
	 */
	bool tso_end;
	uint32_t tskey;
};

#define TCP_TXSTAMP_SCHED 0x01
#define TCP_TXSTAMP_SND	  0x02
#define TCP_TXSTAMP_ACK	  0x04

#define TCPCB_SACKED_ACKED   0x01 /* covered by a SACK block */
#define TCPCB_SACKED_RETRANS 0x02 /* retransmitted and not yet acked */
#define TCPCB_LOST	     0x04 /* considered lost (RFC 6675 IsLost, RACK) */
#define TCPCB_EVER_RETRANS   0x08
#define TCPCB_RETRANS	     (TCPCB_SACKED_RETRANS | TCPCB_EVER_RETRANS)

#define TCP_SKB_CB(skb) ((struct tcp_skb_cb *)(void *)(skb)->cb)
_Static_assert(sizeof(struct tcp_skb_cb) <= sizeof(((struct sk_buff *)0)->cb), "tcp cb");

/* No later data may join skb's send buffer: it is full, ends a record or the stream. */
static inline bool tcp_skb_ends_buffer(const struct sk_buff *skb)
{
	const struct tcp_skb_cb *cb = TCP_SKB_CB(skb);

	return cb->tso_end || cb->eor || (cb->tcp_flags & (TH_FIN | TH_SYN));
}

struct tcp_sack_block {
	uint32_t start_seq;
	uint32_t end_seq;
};

/* Options parsed from one received segment. */
struct tcp_options_received {
	bool saw_tstamp;
	bool sack_ok;	/* SACK-permitted seen (SYN) */
	bool wscale_ok; /* window scale seen (SYN) */
	uint8_t snd_wscale;
	uint16_t mss_clamp;	       /* the peer's MSS option, 0 if absent */
	struct tcp_fastopen_cookie fo; /* a SYN's or SYN-ACK's Fast Open option */
	uint32_t rcv_tsval;
	uint32_t rcv_tsecr;
	int num_sacks;
	struct tcp_sack_block sacks[TCP_MAX_SACKS];
};

struct tcp_sock;

/*
 * RACK (RFC 8985, Linux's tp->rack): the most recently sent segment known
 * to be delivered, against which older ones are judged lost.
 */
struct tcp_rack {
	uint64_t mstamp;	 /* its (re)transmission time, us; 0: none yet */
	uint32_t rtt_us;	 /* RTT of the last segment that advanced RACK */
	uint32_t end_seq;	 /* its end, to order segments sent in the same us */
	uint32_t last_delivered; /* tp->delivered when reo_wnd_steps last grew */
	uint8_t reo_wnd_steps;	 /* reordering window in quarters of min_rtt */
	uint8_t reo_wnd_persist; /* recoveries the widened window still lasts */
	bool dsack_seen;	 /* a DSACK arrived since the last adjustment */
	bool advanced;		 /* mstamp moved since the last loss scan */
};

/* net.ipv4.tcp_recovery bits (Linux's TCP_RACK_*). */
#define TCP_RACK_LOSS_DETECTION	 0x1
#define TCP_RACK_STATIC_REO_WND	 0x2
#define TCP_RACK_NO_DUPTHRESH	 0x4
#define TCP_RACK_RECOVERY_THRESH 16

/* Congestion control, a registry as in Linux's tcp_cong.c. */
struct tcp_congestion_ops {
	const char *name;
	void (*init)(struct tcp_sock *tp);
	/* The slow-start threshold after a loss. */
	uint32_t (*ssthresh)(struct tcp_sock *tp);
	/* Grows cwnd for acked newly acknowledged segments. */
	void (*cong_avoid)(struct tcp_sock *tp, uint32_t ack, uint32_t acked);
	void (*set_state)(struct tcp_sock *tp, uint8_t new_state);
	/* An RTT sample in microseconds for acked segments. */
	void (*pkts_acked)(struct tcp_sock *tp, uint32_t acked, int64_t rtt_us);
	/* The window to restore when a reduction proves spurious. */
	uint32_t (*undo_cwnd)(struct tcp_sock *tp);
};

#define TCP_CA_PRIV_SIZE 96
#define TCP_CA_MAX	 8

/* A connection request in the SYN queue (Linux's tcp_request_sock). */
struct tcp_request_sock {
	LIST_ENTRY(tcp_request_sock) link;	/* the listener's syn_queue */
	LIST_ENTRY(tcp_request_sock) hash_link; /* tcp_state.rhash */
	struct sock *listener;
	struct timer_list timer; /* SYN-ACK retransmission */
	uint32_t rmt_addr;	 /* network order; IPv6: tcp_v6_fold() of rmt6 */
	uint32_t loc_addr;
	struct in6_addr rmt6; /* v6 */
	struct in6_addr loc6;
	bool v6;	   /* the request came over IPv6 */
	uint16_t rmt_port; /* network order */
	uint16_t loc_port;
	uint32_t rcv_isn;
	uint32_t snt_isn;
	uint32_t ts_recent;
	uint32_t ts_off;
	uint16_t mss; /* the peer's MSS option */
	uint8_t snd_wscale;
	uint8_t rcv_wscale;
	bool wscale_ok;
	bool sack_ok;
	bool tstamp_ok;
	uint8_t num_retrans;
	uint64_t first_sent;
	uint32_t syn_data_len; /* Fast Open: data of the SYN our SYN-ACK acknowledges */
	bool ecn_ok;	       /* the SYN asked for ECN and we agree (RFC 3168 6.1.1) */
};

LIST_HEAD(tcp_request_list, tcp_request_sock);
TAILQ_HEAD(tcp_accept_queue, tcp_sock);

/* tp->nonagle bits */
#define TCP_NAGLE_OFF  1 /* TCP_NODELAY */
#define TCP_NAGLE_CORK 2 /* TCP_CORK */
#define TCP_NAGLE_PUSH 4 /* flush once, even a partial segment */

/* tcp_sock.urg_data: the urgent byte arrived (with it in the low bits), is due, was read by
 * MSG_OOB. */
#define TCP_URG_VALID  0x0100
#define TCP_URG_NOTYET 0x0200
#define TCP_URG_READ   0x0400

struct tcp_sock {
	struct inet_sock inet;

	/* Send sequence space (RFC 9293 3.3.1). */
	uint32_t snd_una;
	uint32_t snd_nxt;
	uint32_t snd_wl1; /* seq of the segment that last updated snd_wnd */
	uint32_t snd_wnd; /* the peer's window, scaled */
	uint32_t max_window;
	uint32_t write_seq; /* end of the data the user queued */
	uint32_t snd_sml;   /* end of the last small segment sent (Minshall) */
	uint32_t iss;
	uint32_t pushed_seq;
	uint32_t tso_open_seq; /* where the send buffer still being filled began */

	/* Receive sequence space. */
	uint32_t rcv_nxt;
	uint32_t rcv_wnd;    /* window we advertised, bytes */
	uint32_t rcv_wup;    /* rcv_nxt when rcv_wnd was advertised */
	uint32_t copied_seq; /* next byte the user reads */
	/*
	 * Urgent data received (RFC 9293 3.8.5, RFC 6093; Linux's tp->urg_*):
	 * urg_seq is the urgent byte's sequence number, urg_data TCP_URG_*
	 * with the byte itself in the low 8 bits once it arrived.
	 */
	uint32_t urg_seq;
	uint16_t urg_data;
	/*
	 * Urgent data sent (send(MSG_OOB), Linux's snd_up): the urgent
	 * pointer goes out, the byte after the last one of that write, until
	 * the peer has acknowledged it.
	 */
	uint32_t snd_up;
	bool urg_mode;
	uint32_t window_clamp;
	uint32_t rcv_ssthresh;
	uint8_t scaling_ratio; /* payload/truesize of full segments, x256 (Linux 6.x) */
	uint32_t irs;

	/* Options. */
	uint16_t mss_cache; /* current sending MSS (data bytes) */
	uint16_t advmss;    /* MSS we advertise */
	uint16_t mss_clamp; /* the peer's MSS option */
	uint16_t user_mss;  /* TCP_MAXSEG */
	uint16_t rcv_mss;   /* estimate of the peer's segment size */
	unsigned int pmtu;  /* path MTU the MSS was computed from */
	uint8_t snd_wscale;
	uint8_t rcv_wscale;
	bool wscale_ok;
	bool sack_ok;
	bool tstamp_ok;
	uint32_t ts_recent;	  /* RFC 7323 TS.Recent */
	uint64_t ts_recent_stamp; /* when ts_recent was stored, us */
	uint32_t tsoffset;
	struct tcp_options_received rx_opt;

	/* SACK blocks we report (RFC 2018), most recent first. */
	struct tcp_sack_block selective_acks[TCP_MAX_SACKS];
	int num_sacks;
	/* A duplicate we received, reported first in the next ACK (D-SACK, RFC 2883). */
	struct tcp_sack_block duplicate_sack;
	bool dsack;
	struct tcp_sack_block opt_sacks[TCP_MAX_SACKS]; /* what the next segment carries */

	/* Congestion control and loss recovery. */
	uint32_t snd_cwnd;
	uint32_t snd_cwnd_cnt;
	uint32_t snd_cwnd_clamp;
	uint32_t snd_ssthresh;
	uint32_t prior_ssthresh;
	uint32_t prior_cwnd;
	uint32_t high_seq;	/* snd_nxt when recovery began (RFC 6582 "recover") */
	uint32_t prr_delivered; /* PRR (RFC 6937): segments delivered in this recovery */
	uint32_t prr_out;	/* segments sent in this recovery */
	uint32_t tlp_high_seq;	/* snd_nxt after a tail loss probe, 0 = none out */
	bool tlp_retrans;	/* that probe was a retransmission */
	uint8_t ca_state;
	uint32_t packets_out;
	uint32_t sacked_out;
	uint32_t lost_out;
	uint32_t retrans_out;
	uint32_t dup_acks; /* duplicate ACKs without SACK (NewReno) */
	uint32_t reordering;
	uint32_t reord_seen; /* reorderings detected (tcpi_reord_seen) */
	uint32_t dsack_dups; /* segments the peer reported twice (tcpi_dsack_dups) */
	struct tcp_rack rack;
	uint64_t undo_marker_time;
	nsref_t ca_ops_ref; /* const struct tcp_congestion_ops *: tcp_ca(tp) */
	_Alignas(8) unsigned char ca_priv[TCP_CA_PRIV_SIZE];

	/* RTT and RTO (RFC 6298), in microseconds, Linux's fixed point. */
	uint32_t srtt_us; /* smoothed RTT << 3 */
	uint32_t mdev_us; /* mean deviation << 2 */
	uint32_t mdev_max_us;
	uint32_t rttvar_us;
	uint32_t rtt_seq;
	uint32_t min_rtt_us;
	/*
	 * Linux's sk_pacing_rate, bytes per second, set as each ACK is processed
	 * (tcp_update_pacing_rate); 0 until then, meaning no limit. It sizes
	 * the bursts tcp_write_xmit() sends as one unit.
	 */
	uint64_t pacing_rate;
	uint32_t rto;	     /* current RTO, us, without backoff */
	uint64_t lsnd_us;    /* when new data last left (Linux's lsndtime) */
	uint8_t retransmits; /* RTO firings since the last forward progress */
	uint8_t backoff;     /* exponent of the RTO backoff */
	uint8_t probes_out;  /* unanswered zero-window or keepalive probes */
	uint32_t total_retrans;
	uint64_t retrans_stamp; /* first transmission of the oldest retransmitted data */
	uint64_t rto_base_us;	/* for the give-up computation */

	/* Delayed ACK (Linux icsk_ack). */
	bool ack_pending;
	bool ack_now;
	bool ack_batch; /* the delack timer is the end-of-batch ACK */
	bool pingpong;	/* interactive: piggyback ACKs, do not quick-ack */
	uint8_t quick;	/* segments still ACKed at once */
	uint32_t ato;
	uint64_t lrcvtime; /* last data received */

	/* User-settable behaviour. */
	uint8_t nonagle;
	uint8_t syn_retries; /* TCP_SYNCNT, 0 = sysctl */
	int keepalive_time_s;
	int keepalive_intvl_s;
	int keepalive_probes;
	int linger2_s;
	uint32_t user_timeout_ms;
	int defer_accept_s;
	bool user_ca; /* TCP_CONGESTION set explicitly */

	/* Timers. */
	struct timer_list retransmit_timer; /* RTO, SYN, zero-window probe */
	struct timer_list delack_timer;
	struct timer_list keepalive_timer; /* keepalive, FIN_WAIT2, TIME_WAIT */
	uint8_t pending;		   /* which use of retransmit_timer */

	/* Queues: sk_write_queue holds everything from snd_una; send_head is the first unsent. */
	struct sk_buff *send_head;
	struct sk_buff_head out_of_order_queue;

	/* Receive buffer auto-tuning (Linux's rcvq_space, rcv_rtt_est). */
	uint32_t rcv_rtt_us; /* receiver's RTT estimate from echoed timestamps, 0 = none */
	uint32_t rcvq_space;
	uint32_t rcvq_seq;
	uint64_t rcvq_time;

	/* Listen path. */
	struct tcp_request_list syn_queue;
	int syn_qlen;
	struct tcp_accept_queue accept_queue;
	TAILQ_ENTRY(tcp_sock) accept_link;
	struct sock *parent;	       /* the listener, while in its accept queue */
	LIST_ENTRY(tcp_sock) all_link; /* every TCP sock of the stack, for teardown */
	bool in_all;
	uint32_t notsent_lowat; /* TCP_NOTSENT_LOWAT, 0 = off */
	bool recvmsg_inq;	/* TCP_INQ: each read reports the bytes left (TCP_CM_INQ) */
	uint8_t ecn_flags;	/* TCP_ECN_* (RFC 3168) */

	/* TCP Fast Open, client side (RFC 7413; tcp_fastopen.c). */
	const struct msghdr *fo_msg; /* the sendmsg whose data may ride on the SYN */
	size_t fo_size, fo_copied;
	bool fo_req;		       /* a Fast Open connect in progress (Linux's fastopen_req) */
	struct tcp_fastopen_cookie fo; /* the option our next SYN carries */
	bool fastopen_connect;	       /* TCP_FASTOPEN_CONNECT */
	bool fastopen_no_cookie;       /* TCP_FASTOPEN_NO_COOKIE */
	bool defer_connect;	       /* connect() returned, the SYN waits for data */
	bool syn_fastopen;	       /* our SYN carried a Fast Open option */
	bool syn_fastopen_exp;
	bool syn_data;	     /* our SYN carried data */
	bool syn_data_acked; /* ... and the SYN-ACK covered it */
	/* Server side. */
	int fo_max_qlen;     /* TCP_FASTOPEN on a listener: Fast Open children allowed at once */
	bool fastopen_child; /* accepted from a Fast Open SYN, in SYN-RECEIVED until acked */
	bool fo_key_set;     /* TCP_FASTOPEN_KEY on a listener */
	uint64_t fo_key[2];
	bool nospace; /* Linux's SOCK_NOSPACE: someone found the socket not writable */

	/* RFC 5961 challenge ACK rate limit. */
	uint64_t last_oow_ack_time;

	/* Statistics for TCP_INFO. */
	uint64_t bytes_acked;
	uint64_t bytes_received;
	uint64_t bytes_sent;
	uint64_t bytes_retrans;
	uint32_t segs_in, segs_out, data_segs_in, data_segs_out;
	uint32_t rcv_ooopack;
	uint64_t last_data_sent, last_data_recv, last_ack_recv;
	/*
	 * Linux's chronographs (tcp_chrono_*): time spent with data to send,
	 * split by what held it back, for tcpi_busy_time, tcpi_rwnd_limited
	 * and tcpi_sndbuf_limited. chrono_type is a TCP_CHRONO_* value; the
	 * running one counts from chrono_start; chrono_stat[t - 1] sums type t.
	 */
	uint8_t chrono_type;
	/*
	 * Linux's cwnd validation (tcp_cwnd_validate): whether the window was
	 * the limit, or the most packets out, since snd_nxt was cwnd_usage_seq.
	 */
	bool is_cwnd_limited;
	uint32_t max_packets_out;
	uint32_t cwnd_usage_seq;
	uint64_t chrono_start;
	uint64_t chrono_stat[3];
	uint32_t delivered;
};

#define ICSK_TIME_RETRANS     1
#define ICSK_TIME_PROBE0      2
#define ICSK_TIME_SYN	      3
#define ICSK_TIME_LOSS_PROBE  4
#define ICSK_TIME_REO_TIMEOUT 5 /* RACK's reordering timer */

static inline struct tcp_sock *tcp_sk(const struct sock *sk)
{
	return (struct tcp_sock *)sk;
}

/* The socket's congestion control algorithm. */
static inline const struct tcp_congestion_ops *tcp_ca(const struct tcp_sock *tp)
{
	return ns_unref(tp->ca_ops_ref);
}

static inline struct sock *tp_sk(struct tcp_sock *tp)
{
	return &tp->inet.sk;
}

/*
 * Stack-wide TCP state: lookup tables, registry, secrets, limits.
 * The connection hash has a bucket per TCP_EHASH_ARENA_BYTES of arena
 * (a power of two within the bounds), as Linux sizes its established hash
 * by memory (262 144 buckets on a 24 GiB machine): a server closing first
 * keeps tcp_max_tw_buckets TIME_WAIT sockets in it, and with 16 384
 * buckets for 131 072 of them each lookup walked a chain of eight
 * scattered sockets (tcp_v4_lookup_established 1 % of an nginx run).
 */
#define TCP_EHASH_ARENA_BYTES 8192
#define TCP_EHASH_MIN	      1024
#define TCP_EHASH_MAX	      262144
#define TCP_BHASH_SIZE	      1024
#define TCP_LHASH_SIZE	      64

LIST_HEAD(tcp_sock_list, sock);

/* What Linux's tcp_metrics keeps for Fast Open, per destination (tcp_fastopen.c). */
struct tcp_fastopen_metrics {
	uint32_t daddr; /* 0: free */
	uint16_t mss;	/* the server's MSS option */
	uint8_t try_exp;
	struct tcp_fastopen_cookie cookie;
	uint64_t used; /* for replacement, oldest first */
};

#define TCP_FASTOPEN_CACHE 32

struct tcp_state {
	struct tcp_sock_list *ehash; /* sk_node: connections; ehash_mask + 1 buckets */
	struct tcp_sock_list lhash[TCP_LHASH_SIZE]; /* sk_node: listeners */
	struct tcp_sock_list bhash[TCP_BHASH_SIZE]; /* sk_bind_node: bound ports */
	/*
	 * Requests in SYN queues by their connection's 4-tuple, as Linux keeps
	 * them in its established hash: a segment for a listener is matched
	 * in O(1), where walking a full queue of a SYN flood (thousands)
	 * for every segment was three quarters of the stack thread's time.
	 */
	struct tcp_request_list *rhash; /* as many buckets */
	unsigned int ehash_mask;
	nsref_t cong[TCP_CA_MAX]; /* const struct tcp_congestion_ops * */
	LIST_HEAD(, tcp_sock) all;
	nsref_t default_ca; /* const struct tcp_congestion_ops * */
	uint32_t hash_secret;
	uint32_t cookie_secret[4];
	uint32_t open_secret[2];  /* active opens: TS offset, ISN (drawn at the first) */
	uint64_t challenge_stamp; /* second of the current challenge-ACK budget */
	unsigned int challenge_count;
	unsigned int orphans;
	unsigned int tw_count; /* connections in TIME_WAIT (tcp_max_tw_buckets) */
	long live_socks;
	bool exiting;
	/* The segment tcp_v4_rcv is handling was queued by TCP (no copy): do not free it. */
	bool rx_stolen;
	/* Clock of the segment being handled (its receive time), 0 outside input. */
	uint64_t rx_now;
	struct tcp_fastopen_metrics fo_cache[TCP_FASTOPEN_CACHE];
	uint64_t fo_key[2]; /* the server's cookie key when no sysctl key is set */
	bool fo_key_drawn;
};

/*
 * The stack clock for TCP: the current segment's receive time while input
 * runs (one clock read per frame instead of one per use), else the clock.
 */
uint64_t tcp_now(const struct sock *sk);

/* ECN state bits (Linux's TCP_ECN_*). */
#define TCP_ECN_OK	   0x01 /* negotiated */
#define TCP_ECN_QUEUE_CWR  0x02 /* our next new data segment carries CWR */
#define TCP_ECN_DEMAND_CWR 0x04 /* we saw CE: ECE on everything until the peer's CWR */

/* IP ECN field values (RFC 3168 5). */
#define INET_ECN_MASK  3
#define INET_ECN_ECT_0 2
#define INET_ECN_CE    3

/* tcp_fastopen.c */
void tcp_fastopen_cache_get(struct sock *sk, uint16_t *mss, struct tcp_fastopen_cookie *cookie);
void tcp_fastopen_cache_set(struct sock *sk, uint16_t mss, const struct tcp_fastopen_cookie *cookie,
			    uint8_t try_exp);
bool tcp_fastopen_cookie_check(struct sock *sk, uint16_t *mss, struct tcp_fastopen_cookie *cookie);
bool tcp_fastopen_defer_connect(struct sock *sk);
/* The cookie a client at saddr gets from us at daddr (SipHash-2-4 of the two, 8 bytes). */
void tcp_fastopen_cookie_gen(struct sock *lsk, uint32_t saddr, uint32_t daddr,
			     struct tcp_fastopen_cookie *foc);
/* Room for one more Fast Open child on listener sk (tcp_fastopen_queue_check). */
bool tcp_fastopen_queue_check(struct sock *sk);
/* The SYN-ACK of a Fast Open connect: caches its cookie; true when it resent SYN data not covered.
 */
bool tcp_rcv_fastopen_synack(struct sock *sk, const struct tcp_options_received *o);
/* tcp_output.c: our SYN, with data when a cookie allows (Linux's tcp_send_syn_data). */
int tcp_send_syn_data(struct sock *sk, struct sk_buff *syn);

/* TCP_NOTSENT_LOWAT, else net.ipv4.tcp_notsent_lowat (UINT32_MAX: no limit). */
uint32_t tcp_notsent_lowat(const struct tcp_sock *tp);

/* tcp.c */
extern const struct proto tcp_prot;
void tcp_set_state(struct sock *sk, int state);
void tcp_done(struct sock *sk);
int tcp_init_sock(struct sock *sk);
void tcp_init_transfer(struct sock *sk);
int tcp_disconnect(struct sock *sk, int flags);
void tcp_rcv_space_adjust(struct sock *sk);
void tcp_sndbuf_expand(struct sock *sk);
uint32_t tcp_inq(const struct sock *sk);
bool tcp_stream_memory_free(const struct sock *sk);
bool tcp_stream_is_writeable(const struct sock *sk);
void tcp_check_space(struct sock *sk);
void tcp_get_info(struct sock *sk, struct tcp_info_linux *info);
int tcp_init(struct nstack *ns);
void tcp_exit(struct nstack *ns);

/* af_inet_stream.c */
unsigned int tcp_poll(struct socket *sock);
int inet_stream_connect(struct socket *sock, const struct sockaddr *addr, socklen_t len, int flags);
int __inet_stream_connect(struct socket *sock, const struct sockaddr *addr, socklen_t len,
			  int flags, bool is_sendmsg);
int inet_listen(struct socket *sock, int backlog);
int inet_accept(struct socket *sock, struct socket *newsock, int flags);
ssize_t inet_stream_sendmsg(struct socket *sock, const struct msghdr *msg, int flags);
ssize_t inet_stream_recvmsg(struct socket *sock, struct msghdr *msg, int flags);

/*
 * The addresses of a segment, either family: for a received one saddr is
 * the peer's, for one we send it is ours. For IPv6, saddr/daddr hold
 * tcp_v6_fold() of the addresses (hashes, cookies) and saddr6/daddr6 the
 * addresses themselves.
 */
struct tcp_addrs {
	bool v6;
	uint8_t dsfield; /* received: the TOS / traffic class byte */
	uint32_t saddr, daddr;
	struct in6_addr saddr6, daddr6;
};

/* A keyed 32-bit digest of an IPv6 address, for hashes and cookies. */
uint32_t tcp_v6_fold(const struct nstack *ns, const struct in6_addr *a);
/* The addresses of received segment skb (network header set). */
void tcp_skb_addrs(const struct sk_buff *skb, struct tcp_addrs *a);
/* The TOS / traffic class byte of received segment skb. */
uint8_t tcp_skb_dsfield(const struct sk_buff *skb);
/* The addresses sk sends from and to. */
void tcp_sk_addrs(const struct sock *sk, struct tcp_addrs *a);
/* The addresses a SYN-ACK for req goes from and to. */
void tcp_req_addrs(const struct tcp_request_sock *req, struct tcp_addrs *a);
/* The IP header bytes in front of a segment of sk. */
static inline unsigned int tcp_net_hdr_len(const struct sock *sk)
{
	return sk->sk_ipv6 ? 40u : 20u;
}

/* tcp_ipv4.c */
int tcp_v4_rcv(struct sk_buff *skb);
/* The common part of tcp_v4_rcv and tcp_v6_rcv: checks, demuxes, hands on. */
int tcp_rcv(struct sk_buff *skb, const struct tcp_addrs *a);
void tcp_v4_err(struct sk_buff *skb, int type, int code, uint32_t info);
int tcp_v4_connect(struct sock *sk, const struct sockaddr *addr, socklen_t len);
int tcp_v4_get_port(struct sock *sk, uint16_t snum);
void tcp_put_port(struct sock *sk);
void tcp_inherit_port(struct sock *child, uint16_t port);
int tcp_v4_hash(struct sock *sk);
void tcp_v4_unhash(struct sock *sk);
void tcp_ehash_insert(struct sock *sk);
/* The RST answering segment skb, either family (tcp_v4_send_reset, tcp_v6_send_reset). */
void tcp_send_reset_reply(struct nstack *ns, const struct sk_buff *skb);
/* An ACK outside a full socket from a->saddr to a->daddr (tcp_v4_send_ack). */
void tcp_send_ack_reply(struct nstack *ns, const struct tcp_addrs *a, uint16_t sport,
			uint16_t dport, uint32_t seq, uint32_t ack, uint32_t win, uint32_t tsval,
			uint32_t tsecr, bool ts, uint8_t flags);
struct sock *tcp_v4_lookup_established(struct nstack *ns, uint32_t saddr, uint16_t sport,
				       uint32_t daddr, uint16_t dport);
/* The connection or listener a segment with addresses a belongs to (established first). */
struct sock *tcp_lookup_established(struct nstack *ns, const struct tcp_addrs *a, uint16_t sport,
				    uint16_t dport);
struct sock *tcp_lookup_listener(struct nstack *ns, const struct tcp_addrs *a, uint16_t dport);
/* The connection an ICMP error quoting our segment th is for (tcp_ipv4.c). */
struct sock *tcp_err_lookup(struct nstack *ns, const struct tcp_addrs *a, const struct tcphdr *th,
			    bool req_abort);
uint32_t tcp_v4_init_seq(struct nstack *ns);
/* Active open, the parts both families share once addresses are chosen. */
int tcp_connect_finish(struct sock *sk, unsigned int mtu, uint32_t isn_saddr, uint32_t isn_daddr);
bool tcp_sk_bound(const struct sock *sk);
void tcp_err_report(struct sock *sk, int err);
void tcp_simple_retransmit(struct sock *sk);

/* tcp_ipv6.c */
int tcp_v6_connect(struct sock *sk, const struct sockaddr *addr, socklen_t len);
int tcp_v6_init(struct nstack *ns);
void tcp_v6_exit(struct nstack *ns);
uint32_t tcp_ts_now(const struct nstack *ns); /* timestamp clock, ms */

/* tcp_input.c */
int tcp_rcv_state_process(struct sock *sk, struct sk_buff *skb);
void tcp_parse_options(const struct sk_buff *skb, const struct tcphdr *th,
		       struct tcp_options_received *opt, bool syn);
void tcp_rtt_estimator(struct sock *sk, int64_t mrtt_us);
void tcp_set_rto(struct sock *sk);
void tcp_init_cwnd_state(struct sock *sk);
void tcp_finish_connect(struct sock *sk, struct sk_buff *skb);
void tcp_fin_received(struct sock *sk);
void tcp_enter_loss(struct sock *sk);
void tcp_enter_recovery(struct sock *sk);
void tcp_cwnd_reduction(struct sock *sk, uint32_t newly_acked_sacked, bool newly_lost,
			bool una_advanced);
void tcp_reset(struct sock *sk);
bool tcp_challenge_ack_allowed(struct sock *sk);

/* tcp_output.c */
#define OPTION_MSS	 0x01
#define OPTION_SACK_PERM 0x02
#define OPTION_TS	 0x04
#define OPTION_WSCALE	 0x08
#define OPTION_SACK	 0x10
#define OPTION_FAST_OPEN 0x20

/* Options of one outgoing segment, written in Linux's order. */
struct tcp_out_options {
	uint16_t options; /* OPTION_* */
	uint16_t mss;
	uint8_t ws;
	uint32_t tsval;
	uint32_t tsecr;
	int num_sacks;
	const struct tcp_sack_block *sacks;
	const struct tcp_fastopen_cookie *fo;
	uint16_t urg_ptr; /* not an option: the header's urgent pointer, sent with TH_URG */
};

struct ip_tx_params;
unsigned int tcp_options_size(const struct tcp_out_options *o);
/*
 * Pushes a TCP header with options in front of skb->data (the payload),
 * computes the checksum and hands the segment to IP. Consumes skb.
 */
int tcp_transmit_raw(struct nstack *ns, struct sk_buff *skb, const struct tcp_addrs *a,
		     uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags,
		     uint16_t window, const struct tcp_out_options *o,
		     const struct ip_tx_params *p);
void tcp_connect_init(struct sock *sk);
int tcp_connect(struct sock *sk);
void tcp_send_ack(struct sock *sk);
void tcp_send_delayed_ack(struct sock *sk);
void tcp_send_fin(struct sock *sk);
void tcp_send_active_reset(struct sock *sk);
int tcp_send_synack(struct sock *sk, struct tcp_request_sock *req, bool cookie,
		    const struct tcp_fastopen_cookie *foc);
unsigned int tcp_synack_window(struct sock *sk, struct tcp_request_sock *req, uint32_t *rcv_wnd);
void tcp_send_synack_again(struct sock *sk);
void tcp_push(struct sock *sk, int nonagle);
bool tcp_write_xmit(struct sock *sk, int nonagle);
/* The tail loss probe's new data: never held back for an ACK (Linux's push_one). */
bool tcp_write_xmit_probe(struct sock *sk);
/* Bytes one send buffer holds before the next begins (Linux's tcp_xmit_size_goal). */
unsigned int tcp_size_goal(const struct sock *sk, unsigned int mss);
void tcp_update_pacing_rate(struct sock *sk);
/* Chronograph types, least interesting first (Linux's enum tcp_chrono). */
enum tcp_chrono {
	TCP_CHRONO_UNSPEC,
	TCP_CHRONO_BUSY,	   /* data in flight or waiting to be sent */
	TCP_CHRONO_RWND_LIMITED,   /* held back by the peer's window */
	TCP_CHRONO_SNDBUF_LIMITED, /* the writer waits for send buffer room */
};
void tcp_chrono_start(struct sock *sk, enum tcp_chrono type);
/* cwnd may grow: the window limited sending, or slow start has not yet doubled the most out. */
bool tcp_is_cwnd_limited(const struct tcp_sock *tp);
void tcp_chrono_stop(struct sock *sk, enum tcp_chrono type);
int tcp_retransmit_skb(struct sock *sk, struct sk_buff *skb);
void tcp_xmit_retransmit_queue(struct sock *sk);
void tcp_send_probe0(struct sock *sk);
int tcp_write_wakeup(struct sock *sk);
void tcp_send_window_update(struct sock *sk);
/* The MSS for a path MTU with a net header of nhlen bytes (tcp_net_hdr_len). */
uint16_t tcp_mss_for_mtu(unsigned int mtu, unsigned int nhlen);
unsigned int tcp_current_mss(struct sock *sk);
void tcp_sync_mss(struct sock *sk, unsigned int pmtu);
uint32_t tcp_select_window(struct sock *sk);
uint32_t tcp_space(const struct sock *sk);
/* Linux's TCP_RMEM_TO_WIN_SCALE and TCP_DEFAULT_SCALING_RATIO (half). */
#define TCP_RMEM_TO_WIN_SCALE	  8
#define TCP_DEFAULT_SCALING_RATIO (1u << (TCP_RMEM_TO_WIN_SCALE - 1))
int tcp_win_from_space(const struct sock *sk, int space);
int tcp_space_from_win(const struct sock *sk, int win);
/* tcp_rmem.c: receive memory bounds (truesize, tcp_mem, collapse, pruning). */
void tcp_measure_scaling_ratio(struct sock *sk, const struct sk_buff *skb);
int tcp_try_rmem_schedule(struct sock *sk, const struct sk_buff *skb, unsigned int size);
void tcp_select_initial_window(struct nstack *ns, int space, uint32_t mss, uint32_t *rcv_wnd,
			       uint32_t *clamp, bool wscale_ok, uint8_t *rcv_wscale);
struct sk_buff *tcp_stream_alloc_skb(struct sock *sk, unsigned int size);
int tcp_fragment(struct sock *sk, struct sk_buff *skb, unsigned int len);
void tcp_queue_skb(struct sock *sk, struct sk_buff *skb);
void tcp_free_skb(struct sock *sk, struct sk_buff *skb);
void tcp_skb_charge_head(struct sock *sk, struct sk_buff *skb);
void tcp_skb_pass_head(struct sock *sk, struct sk_buff *skb);
void tcp_skb_charge(struct sock *sk, struct sk_buff *skb, int bytes);
struct sk_buff *tcp_skb_head_of(struct sock *sk, struct sk_buff *skb);
unsigned int tcp_packets_in_flight(const struct tcp_sock *tp);
void tcp_check_probe_timer(struct sock *sk);

/* tcp_recovery.c: RACK loss detection (RFC 8985) and loss marking. */
bool tcp_is_rack(const struct sock *sk);
void tcp_mark_skb_lost(struct sock *sk, struct sk_buff *skb);
void tcp_rack_advance(struct sock *sk, uint8_t sacked, uint32_t end_seq, uint64_t xmit_time);
bool tcp_rack_mark_lost(struct sock *sk);
int64_t tcp_rack_skb_timeout(struct sock *sk, const struct sk_buff *skb, uint32_t reo_wnd);
void tcp_rack_reo_timeout(struct sock *sk);
void tcp_rack_update_reo_wnd(struct sock *sk, uint32_t prior_delivered);
void tcp_rack_init(struct tcp_sock *tp);

/* tcp_timer.c */
void tcp_init_xmit_timers(struct sock *sk);
void tcp_clear_xmit_timers(struct sock *sk);
void tcp_reset_xmit_timer(struct sock *sk, int what, uint64_t when_us);
void tcp_clear_retrans_timer(struct sock *sk);
void tcp_rearm_rto(struct sock *sk);
void tcp_reset_keepalive_timer(struct sock *sk, uint64_t delay_us);
bool tcp_schedule_loss_probe(struct sock *sk);
void tcp_set_keepalive(struct sock *sk, bool on);
uint64_t tcp_rto_backed_off(const struct sock *sk);
int tcp_keepalive_time_s(const struct tcp_sock *tp);

/* tcp_cong.c */
int tcp_register_congestion_control(struct nstack *ns, const struct tcp_congestion_ops *ca);
const struct tcp_congestion_ops *tcp_ca_find(struct nstack *ns, const char *name);
int tcp_set_congestion_control(struct sock *sk, const char *name);
void tcp_init_congestion_control(struct sock *sk);
void tcp_cong_avoid_ai(struct tcp_sock *tp, uint32_t w, uint32_t acked);
uint32_t tcp_slow_start(struct tcp_sock *tp, uint32_t acked);
uint32_t tcp_reno_ssthresh(struct tcp_sock *tp);
int tcp_cong_init(struct nstack *ns);
void tcp_cong_exit(struct nstack *ns);

/* tcp_minisocks.c */
int tcp_v4_conn_request(struct sock *sk, struct sk_buff *skb);
struct sock *tcp_check_req(struct sock *sk, struct sk_buff *skb, struct tcp_request_sock *req);
struct tcp_request_sock *tcp_find_req(struct sock *lsk, const struct tcp_addrs *a, uint16_t rport);
/* The bucket of a connection (ports in network order) in ehash and rhash. */
unsigned int tcp_ehashfn(const struct nstack *ns, uint32_t laddr, uint16_t lport, uint32_t faddr,
			 uint16_t fport);
struct sock *tcp_cookie_check(struct sock *sk, struct sk_buff *skb);
void tcp_reqsk_free(struct tcp_request_sock *req);
void tcp_listen_purge(struct sock *sk);
void tcp_time_wait(struct sock *sk, int state, uint64_t timeo_us);
int tcp_timewait_state_process(struct sock *sk, struct sk_buff *skb);
bool tcp_twsk_unique(struct sock *sk, struct sock *tw);
uint32_t tcp_cookie_make(struct nstack *ns, uint32_t saddr, uint32_t daddr, uint16_t sport,
			 uint16_t dport, uint32_t sseq, uint16_t mss, uint16_t *mss_out);

#define TCP_STATE_MASK(s) (1u << (s))
#define TCPF_ESTABLISHED  TCP_STATE_MASK(TCP_ESTABLISHED)
#define TCPF_SYN_SENT	  TCP_STATE_MASK(TCP_SYN_SENT)
#define TCPF_SYN_RECV	  TCP_STATE_MASK(TCP_SYN_RECV)
#define TCPF_FIN_WAIT1	  TCP_STATE_MASK(TCP_FIN_WAIT1)
#define TCPF_FIN_WAIT2	  TCP_STATE_MASK(TCP_FIN_WAIT2)
#define TCPF_TIME_WAIT	  TCP_STATE_MASK(TCP_TIME_WAIT)
#define TCPF_CLOSE	  TCP_STATE_MASK(TCP_CLOSE)
#define TCPF_CLOSE_WAIT	  TCP_STATE_MASK(TCP_CLOSE_WAIT)
#define TCPF_LAST_ACK	  TCP_STATE_MASK(TCP_LAST_ACK)
#define TCPF_LISTEN	  TCP_STATE_MASK(TCP_LISTEN)
#define TCPF_CLOSING	  TCP_STATE_MASK(TCP_CLOSING)

#endif
