/*
 * TCP: the user side (Linux's net/ipv4/tcp.c). Socket setup, the state
 * setter every transition goes through, send and receive, close with
 * SO_LINGER, shutdown, ioctl, IPPROTO_TCP options and TCP_INFO.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/net_tstamp.h>
#include <linux/sockios.h>

#include "ip.h"
#include "netdevice.h"
#include "stack.h"
#include "tcp.h"

const char *const tcp_state_names[TCP_MAX_STATES] = {
    [0] = "UNKNOWN",
    [TCP_ESTABLISHED] = "ESTABLISHED",
    [TCP_SYN_SENT] = "SYN_SENT",
    [TCP_SYN_RECV] = "SYN_RECV",
    [TCP_FIN_WAIT1] = "FIN_WAIT1",
    [TCP_FIN_WAIT2] = "FIN_WAIT2",
    [TCP_TIME_WAIT] = "TIME_WAIT",
    [TCP_CLOSE] = "CLOSE",
    [TCP_CLOSE_WAIT] = "CLOSE_WAIT",
    [TCP_LAST_ACK] = "LAST_ACK",
    [TCP_LISTEN] = "LISTEN",
    [TCP_CLOSING] = "CLOSING",
};

_Static_assert(TCP_ESTABLISHED == SK_ST_ESTABLISHED && TCP_CLOSE == SK_ST_CLOSE &&
		   TCP_LISTEN == SK_ST_LISTEN && TCP_SYN_SENT == SK_ST_SYN_SENT,
	       "sock.h state numbers");

#define TCP_FIN_TIMEOUT_MAX_S 120
#define MAX_TCP_SYNCNT	      127

/*
 * The one place sk_state changes: traces old -> new, keeps the tables and
 * counters right, and wakes everyone waiting on the socket.
 */
void tcp_set_state(struct sock *sk, int state)
{
	int old = sk->sk_state;

	if (old == state)
		return;
	ns_dbg(sk->ns, "tcp %p: %s -> %s", (void *)sk,
	       tcp_state_names[old < TCP_MAX_STATES ? old : 0], tcp_state_names[state]);
	if (old == TCP_TIME_WAIT)
		sk->ns->tcp->tw_count--;
	else if (state == TCP_TIME_WAIT)
		sk->ns->tcp->tw_count++;
	if (state == TCP_CLOSE) {
		if (old == TCP_SYN_SENT || old == TCP_SYN_RECV)
			NS_INC_STATS(sk->ns, TcpAttemptFails);
		sk->sk_state = (uint8_t)state;
		tcp_v4_unhash(sk);
		if (!sk->sk_userlocks_bindport && !tcp_sk(sk)->parent && old != TCP_LISTEN)
			tcp_put_port(sk);
	}
	sk->sk_state = (uint8_t)state;
	SK_CB(sk, sk_state_change)(sk);
}

/* The connection is over: no timers, no queues to send, unhashed (tcp_done). */
void tcp_done(struct sock *sk)
{
	struct tcp_sock *tp = tcp_sk(sk);
	struct sk_buff *skb;

	sock_hold(sk);
	tcp_set_state(sk, TCP_CLOSE);
	tcp_clear_xmit_timers(sk);
	while ((skb = skb_dequeue(&sk->sk_write_queue)))
		tcp_free_skb(sk, skb);
	sk->sk_wmem_queued = 0;
	tp->send_head = NULL;
	tp->packets_out = tp->sacked_out = tp->lost_out = tp->retrans_out = 0;
	skb_queue_purge(&tp->out_of_order_queue);
	sk->sk_shutdown = SHUTDOWN_MASK;
	if (!sock_flag(sk, SOCK_DEAD))
		SK_CB(sk, sk_state_change)(sk);
	sock_put(sk);
}

/* Per-connection defaults (tcp_init_sock). */
/*
 * TCP's sk_write_space (Linux's sk_stream_write_space): writers wake when
 * the stream is writeable by TCP's own measure, the one tcp_check_space()
 * and tcp_poll() use. sock_def_write_space() asks the datagram question
 * (sk_wmem_alloc, which still counts segments held for transmission), so
 * after tcp_check_space() had cleared nospace it could swallow the only
 * wake-up of a refill: a writer in epoll_wait() for EPOLLOUT slept for
 * good with the connection idle (apache's event MPM stalled mid-file).
 */
static void tcp_write_space(struct sock *sk)
{
	if (tcp_stream_is_writeable(sk))
		sock_def_wakeup(sk);
}

int tcp_init_sock(struct sock *sk)
{
	struct tcp_sock *tp = tcp_sk(sk);
	struct nstack *ns = sk->ns;
	const struct tcp_config *c = &ns->cfg.tcp;

	skb_queue_head_init(&tp->out_of_order_queue);
	sk->sk_write_space = ns_ref(tcp_write_space);
	LIST_INSERT_HEAD(&ns->tcp->all, tp, all_link);
	tp->in_all = true;
	ns->tcp_mem.sockets++;
	tp->scaling_ratio = TCP_DEFAULT_SCALING_RATIO;
	LIST_INIT(&tp->syn_queue);
	TAILQ_INIT(&tp->accept_queue);
	tcp_init_xmit_timers(sk);
	tp->rto = (uint32_t)c->rto_init_us;
	tp->mdev_us = (uint32_t)c->rto_init_us;
	tp->fo.len = -1; /* no Fast Open option unless a Fast Open connect asks */
	tp->snd_cwnd = (uint32_t)(c->initial_cwnd > 0 ? c->initial_cwnd : 10);
	tp->snd_ssthresh = 0x7fffffffu;
	tp->snd_cwnd_clamp = ~0u;
	tp->mss_cache = TCP_MSS_DEFAULT;
	tp->reordering = TCP_FASTRETRANS_THRESH;
	tcp_rack_init(tp);
	tp->ca_ops_ref = ns->tcp->default_ca;
	tp->pmtu = ns_dev(ns) ? ns_dev(ns)->mtu : 1500;
	sk->sk_state = TCP_CLOSE;
	sk->sk_sndbuf = c->wmem[1];
	sk->sk_rcvbuf = c->rmem[1];
	return 0;
}

/* Buffers and congestion state of a new connection (tcp_init_transfer). */
void tcp_init_transfer(struct sock *sk)
{
	struct tcp_sock *tp = tcp_sk(sk);
	const struct tcp_config *c = &sk->ns->cfg.tcp;

	tcp_init_cwnd_state(sk);
	tcp_sndbuf_expand(sk);
	if (!sk->sk_userlocks_rcv) {
		uint32_t max = (uint32_t)(c->rmem[2] - (c->rmem[2] >> 1));

		if (tp->window_clamp < max && tp->wscale_ok)
			tp->window_clamp = max;
	}
	tp->rcvq_space = tp->rcv_wnd ? tp->rcv_wnd : 10 * tp->advmss;
	tp->rcvq_seq = tp->copied_seq;
	tp->rcvq_time = ns_now(sk->ns);
	tp->lrcvtime = ns_now(sk->ns);
	tp->last_ack_recv = ns_now(sk->ns);
	/* Linux counts tcpi_last_data_{recv,sent} from the handshake until data flows. */
	tp->last_data_recv = ns_now(sk->ns);
	tp->last_data_sent = ns_now(sk->ns);
	if (sock_flag(sk, SOCK_KEEPOPEN))
		tcp_reset_keepalive_timer(sk, (uint64_t)tcp_keepalive_time_s(tp) * 1000000u);
}

/*
 * Send buffer auto-growth: room for twice the congestion window in
 * truesize (tcp_sndbuf_expand).
 */
void tcp_sndbuf_expand(struct sock *sk)
{
	struct tcp_sock *tp = tcp_sk(sk);
	int max = sk->ns->cfg.tcp.wmem[2];
	uint32_t nr = tp->snd_cwnd > TCP_INIT_CWND_MAX ? tp->snd_cwnd : TCP_INIT_CWND_MAX;
	uint32_t mss = tp->mss_clamp > tp->mss_cache ? tp->mss_clamp : tp->mss_cache;
	uint64_t per_mss = 1, want;

	if (sk->sk_userlocks_snd)
		return;
	if (nr < tp->reordering + 1)
		nr = tp->reordering + 1;
	/*
	 * Each segment costs its own skb at worst, without GSO, its head
	 * kmalloc'ed with payload and headers in a power-of-two slab.
	 */
	while (per_mss < mss + TCP_MAX_TCP_HEADER + TCP_SKB_SHINFO_SIZE)
		per_mss <<= 1;
	per_mss += TCP_SKB_STRUCT_SIZE;
	want = 2ull * nr * per_mss;
	if (want > (uint64_t)max)
		want = (uint64_t)max;
	if ((int)want > sk->sk_sndbuf) {
		sk->sk_sndbuf = (int)want;
		tcp_check_space(sk);
	}
}

/* POLLOUT for a stream: a third of the buffer free (sk_stream_is_writeable). */
bool tcp_stream_is_writeable(const struct sock *sk)
{
	int wspace = sk->sk_sndbuf - sk->sk_wmem_queued;

	return wspace >= sk->sk_wmem_queued / 2 && wspace > 0 && tcp_stream_memory_free(sk);
}

/*
 * Wakes writers once space is back, but only if someone found none
 * (Linux's SOCK_NOSPACE and tcp_check_space): one wake-up per refill, not
 * one per ACK.
 */
void tcp_check_space(struct sock *sk)
{
	struct tcp_sock *tp = tcp_sk(sk);

	if (tp->nospace && sk->sk_socket && tcp_stream_is_writeable(sk)) {
		tp->nospace = false;
		SK_CB(sk, sk_write_space)(sk);
		tcp_chrono_stop(sk, TCP_CHRONO_SNDBUF_LIMITED);
	}
}

/* Receive buffer auto-tuning, once per RTT (tcp_rcv_space_adjust, DRS). */
void tcp_rcv_space_adjust(struct sock *sk)
{
	struct tcp_sock *tp = tcp_sk(sk);
	const struct tcp_config *c = &sk->ns->cfg.tcp;
	uint64_t now = ns_now(sk->ns);
	uint64_t rtt = tp->rcv_rtt_us ? tp->rcv_rtt_us : tp->srtt_us >> 3;
	uint32_t copied;

	if (rtt < 1000)
		rtt = 1000;
	if (now - tp->rcvq_time < rtt)
		return;
	copied = tp->copied_seq - tp->rcvq_seq;
	if (copied > tp->rcvq_space) {
		tp->rcvq_space = copied;
		/* Under memory pressure the buffer stops growing. */
		if (!sk->sk_userlocks_rcv && !sk_under_memory_pressure(sk)) {
			uint64_t rcvwin = 2ull * copied + 16ull * tp->advmss;
			uint64_t rcvbuf;

			if (rcvwin > INT32_MAX)
				rcvwin = INT32_MAX;
			/* The buffer, in truesize, that holds that window. */
			rcvbuf = (uint64_t)tcp_space_from_win(sk, (int)rcvwin);
			if (rcvbuf > (uint64_t)c->rmem[2])
				rcvbuf = (uint64_t)c->rmem[2];
			if ((int)rcvbuf > sk->sk_rcvbuf) {
				uint32_t clamp;

				sk->sk_rcvbuf = (int)rcvbuf;
				clamp = (uint32_t)tcp_win_from_space(sk, (int)rcvbuf);
				if (tp->window_clamp < clamp)
					tp->window_clamp = clamp;
			}
		}
	}
	tp->rcvq_seq = tp->copied_seq;
	tp->rcvq_time = now;
}

/* Bytes the user can read now (FIONREAD). */
uint32_t tcp_inq(const struct sock *sk)
{
	const struct tcp_sock *tp = tcp_sk(sk);
	uint32_t n = tp->rcv_nxt - tp->copied_seq;

	if (n && sock_flag(sk, SOCK_DONE))
		n--; /* the FIN takes a sequence number but is no data */
	return n;
}

/* RFC 9293 3.10.4: the state after CLOSE/SHUTDOWN; true when a FIN is due. */
static bool tcp_close_state(struct sock *sk)
{
	static const uint8_t next[TCP_MAX_STATES] = {
	    [TCP_ESTABLISHED] = TCP_FIN_WAIT1, [TCP_SYN_SENT] = TCP_CLOSE,
	    [TCP_SYN_RECV] = TCP_FIN_WAIT1,    [TCP_FIN_WAIT1] = TCP_FIN_WAIT1,
	    [TCP_FIN_WAIT2] = TCP_FIN_WAIT2,   [TCP_TIME_WAIT] = TCP_CLOSE,
	    [TCP_CLOSE] = TCP_CLOSE,	       [TCP_CLOSE_WAIT] = TCP_LAST_ACK,
	    [TCP_LAST_ACK] = TCP_LAST_ACK,     [TCP_LISTEN] = TCP_CLOSE,
	    [TCP_CLOSING] = TCP_CLOSING,
	};
	int ns_ = next[sk->sk_state];
	bool fin = (sk->sk_state == TCP_ESTABLISHED || sk->sk_state == TCP_SYN_RECV ||
		    sk->sk_state == TCP_CLOSE_WAIT);

	if (ns_ == TCP_CLOSE)
		tcp_done(sk);
	else
		tcp_set_state(sk, ns_);
	return fin;
}

/* proto->shutdown: SHUT_WR sends our FIN (how is the RCV/SEND_SHUTDOWN mask). */
static void tcp_shutdown(struct sock *sk, int how)
{
	if (!(how & SEND_SHUTDOWN))
		return;
	if ((1u << sk->sk_state) &
	    (TCPF_ESTABLISHED | TCPF_SYN_SENT | TCPF_SYN_RECV | TCPF_CLOSE_WAIT)) {
		if (tcp_close_state(sk))
			tcp_send_fin(sk);
	}
}

static bool tcp_need_reset(int state)
{
	return (1u << state) & (TCPF_ESTABLISHED | TCPF_CLOSE_WAIT | TCPF_FIN_WAIT1 |
				TCPF_FIN_WAIT2 | TCPF_SYN_RECV);
}

/* connect(AF_UNSPEC) and zero linger: abort and return to CLOSE (tcp_disconnect). */
int tcp_disconnect(struct sock *sk, int flags)
{
	struct tcp_sock *tp = tcp_sk(sk);
	int old = sk->sk_state;

	(void)flags;
	if (old == TCP_LISTEN) {
		tcp_listen_purge(sk);
	} else if (tcp_need_reset(old)) {
		tcp_send_active_reset(sk);
		sk->sk_err = ECONNRESET;
	} else if (old == TCP_SYN_SENT) {
		sk->sk_err = ECONNRESET;
	}
	if (old != TCP_CLOSE)
		tcp_done(sk);
	skb_queue_purge(&tp->out_of_order_queue);
	skb_queue_purge(&sk->sk_receive_queue);
	tp->scaling_ratio = TCP_DEFAULT_SCALING_RATIO;
	sk->sk_shutdown = 0;
	sock_reset_flag(sk, SOCK_DONE);
	sk->sk_dport = 0;
	sk->sk_daddr = 0;
	if (!sk->sk_userlocks_bindaddr) {
		sk->sk_rcv_saddr = 0;
		inet_sk(sk)->inet_saddr = 0;
	}
	tp->write_seq = 0;
	tp->srtt_us = 0;
	tp->pacing_rate = 0;
	tp->chrono_type = TCP_CHRONO_UNSPEC;
	memset(tp->chrono_stat, 0, sizeof(tp->chrono_stat));
	tp->mdev_us = (uint32_t)sk->ns->cfg.tcp.rto_init_us;
	tp->rto = (uint32_t)sk->ns->cfg.tcp.rto_init_us;
	tp->backoff = 0;
	tp->retransmits = 0;
	tp->ato = 0;
	tp->quick = 0;
	tp->num_sacks = 0;
	tp->tstamp_ok = tp->sack_ok = tp->wscale_ok = false;
	tp->snd_wscale = tp->rcv_wscale = 0;
	tp->ts_recent = 0;
	tp->ts_recent_stamp = 0;
	tcp_rack_init(tp);
	if (sk->sk_socket)
		sk->sk_socket->state = SS_UNCONNECTED;
	SK_CB(sk, sk_error_report)(sk);
	return 0;
}

/* Waits, up to the linger time, for our FIN to be acknowledged (sk_stream_wait_close). */
static void tcp_wait_close(struct sock *sk, int64_t timeout)
{
	while (timeout > 0 &&
	       ((1u << sk->sk_state) & (TCPF_FIN_WAIT1 | TCPF_CLOSING | TCPF_LAST_ACK))) {
		if (sk_wait(sk, &timeout))
			break;
	}
}

/* proto->close: the application closed the socket (tcp_close). */
static void tcp_close(struct sock *sk, int64_t timeout)
{
	struct tcp_sock *tp = tcp_sk(sk);
	uint32_t unread = 0;
	struct sk_buff *skb;

	sock_hold(sk);
	sk->sk_shutdown = SHUTDOWN_MASK;
	if (sk->sk_state == TCP_LISTEN) {
		tcp_set_state(sk, TCP_CLOSE);
		tcp_listen_purge(sk);
		goto adjudge;
	}
	while ((skb = skb_dequeue(&sk->sk_receive_queue))) {
		unread += skb->len;
		kfree_skb(skb);
	}
	unread = tcp_inq(sk) ? unread : 0;
	if (sk->sk_state == TCP_CLOSE) {
		/* Nothing to tell the peer. */
	} else if (unread) {
		/* RFC 2525 2.17: unread data means the peer must learn we lost it. */
		NS_INC_STATS(sk->ns, TcpExtTCPAbortOnClose);
		tcp_send_active_reset(sk);
		tcp_done(sk);
	} else if (sock_flag(sk, SOCK_LINGER) && sk->sk_lingertime == 0) {
		NS_INC_STATS(sk->ns, TcpExtTCPAbortOnLinger);
		tcp_disconnect(sk, 0);
	} else if (tcp_close_state(sk)) {
		tcp_send_fin(sk);
	}
	if (timeout > 0)
		tcp_wait_close(sk, timeout);

adjudge:
	sock_orphan(sk);
	if (sk->sk_state == TCP_FIN_WAIT2) {
		if (tp->linger2_s < 0) {
			tcp_send_active_reset(sk);
			tcp_done(sk);
		} else {
			int tmo = tp->linger2_s ? tp->linger2_s : sk->ns->cfg.tcp.fin_timeout_s;

			tcp_reset_keepalive_timer(sk, (uint64_t)tmo * 1000000u);
		}
	}
	if (sk->sk_state == TCP_CLOSE)
		tcp_clear_xmit_timers(sk);
	sock_put(sk); /* ours */
	sock_put(sk); /* the application's */
}

/* proto->destroy: the last reference is gone (tcp_v4_destroy_sock). */
static void tcp_v4_destroy_sock(struct sock *sk)
{
	struct tcp_sock *tp = tcp_sk(sk);
	struct sk_buff *skb;

	tcp_clear_xmit_timers(sk);
	while ((skb = skb_dequeue(&sk->sk_write_queue)))
		kfree_skb(skb);
	skb_queue_purge(&tp->out_of_order_queue);
	skb_queue_purge(&sk->sk_receive_queue);
	if (sk->sk_state == TCP_LISTEN)
		tcp_listen_purge(sk);
	tcp_put_port(sk);
	if (tp->in_all) {
		LIST_REMOVE(tp, all_link);
		tp->in_all = false;
		sk->ns->tcp_mem.sockets--;
	}
}

/* The reader went past the urgent byte: urgent mode is over (Linux's tcp_recvmsg). */
static void tcp_urg_passed(struct tcp_sock *tp)
{
	if (tp->urg_data && after(tp->copied_seq, tp->urg_seq))
		tp->urg_data = 0;
}

/* Copies len bytes to the user's iovecs at offset off. */
static int tcp_copy_to_msg(struct msghdr *msg, size_t off, const void *from, size_t len)
{
	return memcpy_to_msg(msg, off, from, len);
}

/*
 * recv(MSG_OOB) (Linux's tcp_recv_urg): the urgent byte kept aside, once;
 * EINVAL when there is none to read or it is read inline (SO_OOBINLINE),
 * EAGAIN while it is announced but not here yet.
 */
static ssize_t tcp_recv_urg(struct sock *sk, struct msghdr *msg, size_t len, int flags)
{
	struct tcp_sock *tp = tcp_sk(sk);

	if (sock_flag(sk, SOCK_URGINLINE) || !tp->urg_data || tp->urg_data == TCP_URG_READ)
		return -EINVAL;
	if (sk->sk_state == TCP_CLOSE && !sock_flag(sk, SOCK_DONE))
		return -ENOTCONN;
	if (tp->urg_data & TCP_URG_VALID) {
		char c = (char)tp->urg_data;

		if (!(flags & MSG_PEEK))
			tp->urg_data = TCP_URG_READ;
		msg->msg_flags |= MSG_OOB;
		if (!len) {
			msg->msg_flags |= MSG_TRUNC;
			return 0;
		}
		if (!(flags & MSG_TRUNC) && tcp_copy_to_msg(msg, 0, &c, 1))
			return -EFAULT;
		return 1;
	}
	if (sk->sk_state == TCP_CLOSE || (sk->sk_shutdown & RCV_SHUTDOWN))
		return 0;
	return -EAGAIN;
}

/*
 * proto->recvmsg (tcp_recvmsg): in-order bytes, MSG_PEEK/WAITALL/DONTWAIT.
 * A read stops before the urgent byte when it got something already, and
 * steps over it unless SO_OOBINLINE (Linux's urg_hole).
 */
static ssize_t tcp_recvmsg(struct sock *sk, struct msghdr *msg, size_t len, int flags)
{
	struct tcp_sock *tp = tcp_sk(sk);
	bool peek = flags & MSG_PEEK;
	int64_t timeo = sock_rcvtimeo(sk, flags & MSG_DONTWAIT);
	uint32_t peek_seq = tp->copied_seq, *seq = peek ? &peek_seq : &tp->copied_seq;
	size_t target, copied = 0;
	int err = 0;

	if (flags & MSG_ERRQUEUE)
		return ip_recv_error(sk, msg, len);
	if (flags & MSG_OOB)
		return tcp_recv_urg(sk, msg, len, flags);
	if (sk->sk_state == TCP_LISTEN)
		return -ENOTCONN;
	target = (flags & MSG_WAITALL) ? len : (size_t)(sk->sk_rcvlowat > 0 ? sk->sk_rcvlowat : 1);
	if (target > len)
		target = len;
	if (len == 0)
		return 0;

	while (copied < len) {
		struct sk_buff *skb, *tmp;
		bool progress = false;

		skb_queue_walk_safe(&sk->sk_receive_queue, skb, tmp)
		{
			uint32_t off = *seq - TCP_SKB_CB(skb)->seq;
			size_t used;

			if (off >= skb->len) {
				if (!peek && before(TCP_SKB_CB(skb)->seq + skb->len - 1, *seq)) {
					skb_unlink(&sk->sk_receive_queue, skb);
					kfree_skb(skb);
				}
				continue;
			}
			/* At the urgent mark: a read that has data ends there. */
			if (tp->urg_data && tp->urg_seq == *seq && copied)
				goto out;
			used = skb->len - off;
			if (used > len - copied)
				used = len - copied;
			if (tp->urg_data) {
				uint32_t urg_off = tp->urg_seq - *seq;

				if (urg_off < used) {
					if (urg_off) {
						used = urg_off;
					} else if (!sock_flag(sk, SOCK_URGINLINE)) {
						/* The urgent byte is MSG_OOB's, not the stream's.
						 */
						(*seq)++;
						off++;
						used--;
						progress = true;
						tcp_urg_passed(tp);
						if (!used) {
							if (!peek && off == skb->len) {
								skb_unlink(&sk->sk_receive_queue,
									   skb);
								kfree_skb(skb);
							}
							continue;
						}
					}
				}
			}
			if (!(flags & MSG_TRUNC) &&
			    tcp_copy_to_msg(msg, copied, skb->data + off, used)) {
				if (!copied)
					return -EFAULT;
				goto out;
			}
			*seq += (uint32_t)used;
			copied += used;
			progress = true;
			tcp_urg_passed(tp);
			if (!peek && off + used == skb->len) {
				skb_unlink(&sk->sk_receive_queue, skb);
				kfree_skb(skb);
			}
			if (copied >= len)
				break;
		}
		if (copied >= len)
			break;
		if (copied >= target && !progress)
			break;
		if (copied >= target)
			continue;
		/* Nothing (more) to read: decide whether to wait. */
		if (sock_flag(sk, SOCK_DONE))
			break;
		if (sk->sk_err) {
			err = sock_error(sk);
			break;
		}
		if (sk->sk_shutdown & RCV_SHUTDOWN)
			break;
		if (sk->sk_state == TCP_CLOSE) {
			err = -ENOTCONN;
			break;
		}
		if (!timeo) {
			err = -EAGAIN;
			break;
		}
		if (!peek && copied) {
			tcp_rcv_space_adjust(sk);
			tcp_send_window_update(sk);
		}
		err = sk_wait(sk, &timeo);
		if (err)
			break;
	}
out:
	if (!peek && copied) {
		tcp_rcv_space_adjust(sk);
		tcp_send_window_update(sk);
	}
	if (tp->recvmsg_inq && (copied || !err)) {
		/* Linux's tcp_inq_hint(): after a FIN, non-zero so the reader reads on to EOF. */
		int inq = (int)(tp->rcv_nxt - tp->copied_seq);

		if (inq == 0 && sock_flag(sk, SOCK_DONE))
			inq = 1;
		put_cmsg(msg, IPPROTO_TCP, TCP_CM_INQ, sizeof(inq), &inq);
	}
	if (copied)
		return (ssize_t)copied;
	return err;
}

uint32_t tcp_notsent_lowat(const struct tcp_sock *tp)
{
	return tp->notsent_lowat ? tp->notsent_lowat : tp->inet.sk.ns->cfg.tcp.notsent_lowat;
}

/* Room to queue more (sk_stream_memory_free with tcp_stream_memory_free). */
bool tcp_stream_memory_free(const struct sock *sk)
{
	const struct tcp_sock *tp = tcp_sk(sk);

	uint32_t lowat = tcp_notsent_lowat(tp);

	if (sk->sk_wmem_queued >= sk->sk_sndbuf)
		return false;
	return lowat == UINT32_MAX || tp->write_seq - tp->snd_nxt < lowat;
}

/* Waits until the connection is usable for sending (sk_stream_wait_connect). */
static int tcp_wait_connect(struct sock *sk, int64_t *timeo)
{
	for (;;) {
		if (sk->sk_err)
			return sock_error(sk);
		if (!((1u << sk->sk_state) & (TCPF_SYN_SENT | TCPF_SYN_RECV)))
			return -EPIPE;
		if (!*timeo)
			return -EAGAIN;
		int rc = sk_wait(sk, timeo);

		/* -EAGAIN when the timeout ran out, -EINTR for a signal (signal(7)). */
		if (rc)
			return rc;
		if ((1u << sk->sk_state) & (TCPF_ESTABLISHED | TCPF_CLOSE_WAIT))
			return 0;
	}
}

/*
 * sendto()/sendmsg() with MSG_FASTOPEN, or the first write after a
 * deferred connect (Linux's tcp_sendmsg_fastopen): connects with as much
 * of the data in the SYN as the cookie and the MSS allow; *copied says how
 * much. -EINPROGRESS while the handshake runs (non-blocking).
 */
static int tcp_sendmsg_fastopen(struct sock *sk, const struct msghdr *msg, size_t len, int flags,
				size_t *copied)
{
	struct tcp_sock *tp = tcp_sk(sk);
	const struct sockaddr *uaddr = msg->msg_name;
	socklen_t alen = uaddr ? msg->msg_namelen : 0;
	struct sockaddr_in sin;
	int err;

	if (!(sk->ns->cfg.tcp.fastopen & TFO_CLIENT_ENABLE) ||
	    (uaddr && alen >= sizeof(sa_family_t) && uaddr->sa_family == AF_UNSPEC))
		return -EOPNOTSUPP;
	if (tp->fo_req)
		return -EALREADY; /* another Fast Open is in progress */
	if (!sk->sk_socket)
		return -EPIPE;
	if (uaddr && sk->sk_family == AF_INET6 && !tp->defer_connect) {
		err = inet6_addr_to_v4(sk, uaddr, alen, &sin);
		if (err)
			return err;
		uaddr = (const struct sockaddr *)&sin;
		alen = sizeof(sin);
	}
	tp->fo_req = true;
	tp->fo_msg = msg;
	tp->fo_size = len;
	tp->fo_copied = 0;
	if (tp->defer_connect) {
		err = tcp_connect(sk);
		if (err) {
			tcp_set_state(sk, TCP_CLOSE);
			sk->sk_dport = 0;
		} else {
			NS_INC_STATS(sk->ns, TcpActiveOpens);
		}
	}
	err = __inet_stream_connect(sk->sk_socket, uaddr, alen,
				    (flags & MSG_DONTWAIT) ? O_NONBLOCK : 0, true);
	*copied = tp->fo_copied;
	tp->fo_req = false;
	tp->fo_msg = NULL;
	tp->defer_connect = false;
	return err;
}

/* SO_TIMESTAMPING: the write's last byte is the last of skb (Linux's tcp_tx_timestamp). */
static void tcp_tx_timestamp(struct sock *sk, struct sk_buff *skb)
{
	uint32_t f = sk->sk_tsflags;
	struct tcp_skb_cb *cb = TCP_SKB_CB(skb);
	uint8_t t = 0;

	if (f & SOF_TIMESTAMPING_TX_SCHED)
		t |= TCP_TXSTAMP_SCHED;
	if (f & SOF_TIMESTAMPING_TX_SOFTWARE)
		t |= TCP_TXSTAMP_SND;
	if (f & SOF_TIMESTAMPING_TX_ACK)
		t |= TCP_TXSTAMP_ACK;
	if (!t || !skb->len)
		return;
	cb->txstamp = t;
	cb->tskey = cb->seq + skb->len - 1;
}

/*
 * Where the last send buffer of the write queue begins: where it was begun,
 * or the first unsent byte if part of it went out already.
 */
static uint32_t tcp_buffer_start(const struct tcp_sock *tp)
{
	uint32_t start = tp->tso_open_seq;

	if (tp->send_head && after(TCP_SKB_CB(tp->send_head)->seq, start))
		start = TCP_SKB_CB(tp->send_head)->seq;
	return start;
}

/* Half a window queued since the last PSH: push now (Linux's forced_push). */
static bool tcp_forced_push(const struct tcp_sock *tp)
{
	return after(tp->write_seq, tp->pushed_seq + (tp->max_window >> 1));
}

/* The unsent tail ends what the user pushed (tcp_mark_push). */
static void tcp_mark_push(struct sock *sk)
{
	struct tcp_sock *tp = tcp_sk(sk);
	struct sk_buff *tail = skb_peek_tail(&sk->sk_write_queue);

	if (!tail || !tp->send_head)
		return;
	TCP_SKB_CB(tail)->tcp_flags |= TH_PSH;
	tp->pushed_seq = tp->write_seq;
}

/*
 * The unsent tail's send buffer may still grow: not closed by a record or
 * FIN, and short of size_goal (a full one that was partly sent is short
 * again, as Linux's tail skb is after tso_fragment()).
 */
static bool tcp_tail_buffer_open(const struct sock *sk, unsigned int goal)
{
	const struct tcp_sock *tp = tcp_sk(sk);
	const struct sk_buff *tail = skb_peek_tail(&sk->sk_write_queue);

	return tail && tp->send_head && !TCP_SKB_CB(tail)->eor &&
	       !(TCP_SKB_CB(tail)->tcp_flags & (TH_FIN | TH_SYN)) &&
	       tp->write_seq - tcp_buffer_start(tp) < goal;
}

/*
 * Linux fills a send buffer to size_goal before it sends any of it (the
 * part already sent, if any, no longer counts); full, it goes out pushed
 * if half a window went by without a PSH (forced_push), else at once only
 * if nothing waits before it (tcp_push_one). tail ends the buffer.
 */
static void tcp_push_full_buffer(struct sock *sk, struct sk_buff *tail, unsigned int goal)
{
	struct tcp_sock *tp = tcp_sk(sk);
	uint32_t start = tcp_buffer_start(tp);

	if (tp->write_seq - start < goal)
		return;
	TCP_SKB_CB(tail)->tso_end = true;
	if (tcp_forced_push(tp)) {
		tcp_mark_push(sk);
		tcp_push(sk, tp->nonagle | TCP_NAGLE_PUSH);
	} else if (tp->send_head && TCP_SKB_CB(tp->send_head)->seq == start) {
		tcp_push(sk, tp->nonagle);
	}
}

/*
 * What Linux charges the send queue for len bytes at off in msg sent with
 * MSG_ZEROCOPY: the user pages it pins, each iovec's run rounded out to
 * whole pages (__zerocopy_sg_from_iter). *cont is where the run charged
 * before ended in the same send skb, whose last page is paid for already;
 * 0 when a new send skb begins.
 */
static unsigned int tcp_zerocopy_pages(const struct msghdr *msg, size_t off, size_t len,
				       uintptr_t *cont)
{
	const uintptr_t mask = TCP_ZC_PAGE_SIZE - 1;
	unsigned int charge = 0;

	for (size_t i = 0; i < (size_t)msg->msg_iovlen && len; i++) {
		size_t n = msg->msg_iov[i].iov_len;
		uintptr_t a, lo, hi;

		if (off >= n) {
			off -= n;
			continue;
		}
		a = (uintptr_t)msg->msg_iov[i].iov_base + off;
		n -= off;
		if (n > len)
			n = len;
		/* Linux pins each iovec apart, so a page two of them share counts twice. */
		lo = off && a == *cont ? (a + mask) & ~mask : a & ~mask;
		hi = (a + n + mask) & ~mask;
		if (hi > lo)
			charge += (unsigned int)(hi - lo);
		*cont = a + n;
		len -= n;
		off = 0;
	}
	return charge;
}

/*
 * skb, charged its len new bytes, took them with MSG_ZEROCOPY: what their
 * pages cost over the bytes goes to the send skb's first segment, where
 * Linux keeps it until the whole skb is acked. Over a write's run of one
 * skb the pages never cost less than the bytes, so a segment that pins no
 * new page gives back only what earlier ones of the run put there.
 */
static void tcp_charge_zerocopy(struct sock *sk, struct sk_buff *skb, unsigned int pages,
				unsigned int len)
{
	struct sk_buff *head = tcp_skb_head_of(sk, skb);
	int over = (int)pages - (int)len,
	    held = (int)(head->truesize - head->len) -
		   (TCP_SKB_CB(head)->head_charged ? TCP_SKB_HEAD_TRUESIZE : 0);

	if (over < -held)
		over = -held;
	tcp_skb_charge(sk, head, over);
}

/*
 * proto->sendmsg (tcp_sendmsg): copy into MSS-sized segments, grouped into
 * the send buffers Linux would build (tso_end), and push.
 */
static ssize_t tcp_sendmsg(struct sock *sk, const struct msghdr *msg, size_t len, int flags)
{
	struct tcp_sock *tp = tcp_sk(sk);
	int64_t timeo = sock_sndtimeo(sk, flags & MSG_DONTWAIT);
	bool zc = (flags & MSG_ZEROCOPY) && len && sock_flag(sk, SOCK_ZEROCOPY);
	struct sk_buff *zc_skb = NULL;
	uintptr_t zc_cont = 0;
	size_t copied = 0;
	int err = 0;

	/* MSG_FASTOPEN means nothing once the connection is under way (Linux's scripts). */
	if (((flags & MSG_FASTOPEN) && ((1u << sk->sk_state) & (TCPF_CLOSE | TCPF_SYN_SENT))) ||
	    tp->defer_connect) {
		err = tcp_sendmsg_fastopen(sk, msg, len, flags, &copied);
		if (err == -EINPROGRESS && copied > 0)
			return (ssize_t)copied;
		if (err)
			return err;
	}

	/* A Fast Open child may send before the client's ACK (Linux's tcp_passive_fastopen). */
	if (!((1u << sk->sk_state) & (TCPF_ESTABLISHED | TCPF_CLOSE_WAIT)) &&
	    !(sk->sk_state == TCP_SYN_RECV && tp->fastopen_child)) {
		err = tcp_wait_connect(sk, &timeo);
		if (err)
			return err;
	}
	if (zc) {
		/*
		 * Linux's msg_zerocopy_realloc(): a send that lands in the same
		 * unsent segment as the previous zerocopy send extends its
		 * notification range; any other segment with a range is closed.
		 */
		zc_skb = tp->send_head ? skb_peek_tail(&sk->sk_write_queue) : NULL;
		if (zc_skb &&
		    (!TCP_SKB_CB(zc_skb)->zc_len ||
		     TCP_SKB_CB(zc_skb)->zc_lo + TCP_SKB_CB(zc_skb)->zc_len != sk->sk_zckey)) {
			if (TCP_SKB_CB(zc_skb)->zc_len)
				TCP_SKB_CB(zc_skb)->eor = true;
			zc_skb = NULL;
		}
	}
	/* What the pushes below send may leave as one super-frame (dev.c). */
	dev_xmit_plug(sk->ns);
	while (copied < len) {
		unsigned int mss = tcp_current_mss(sk), goal = tcp_size_goal(sk, mss);
		struct sk_buff *skb = skb_peek_tail(&sk->sk_write_queue);
		bool open = tcp_tail_buffer_open(sk, goal);
		size_t copy;

		if (sk->sk_err) {
			err = sock_error(sk);
			break;
		}
		if (sk->sk_shutdown & SEND_SHUTDOWN) {
			err = -EPIPE;
			break;
		}
		if (!open || skb->len >= mss || skb_tailroom(skb) == 0) {
			/*
			 * Room is checked per send buffer, as Linux checks it per
			 * skb: a buffer begun is filled (and a buffer partly sent
			 * tops up its rest) even past the limit.
			 */
			if (!open && !tcp_stream_memory_free(sk)) {
				tp->nospace = true;
				/* Linux's wait_for_space: what this write queued goes out pushed.
				 */
				if (copied)
					tcp_mark_push(sk);
				tcp_push(sk, tp->nonagle | TCP_NAGLE_PUSH);
				if (!timeo) {
					err = -EAGAIN;
					break;
				}
				/* Nothing may stay held while we sleep. */
				dev_xmit_unplug(sk->ns);
				err = sk_wait(sk, &timeo);
				dev_xmit_plug(sk->ns);
				if (err)
					break;
				continue;
			}
			skb = tcp_stream_alloc_skb(sk, mss);
			if (!skb) {
				err = -ENOBUFS;
				break;
			}
			TCP_SKB_CB(skb)->seq = tp->write_seq;
			TCP_SKB_CB(skb)->end_seq = tp->write_seq;
			TCP_SKB_CB(skb)->tcp_flags = TH_ACK;
			if (!open) {
				tp->tso_open_seq = tp->write_seq;
				zc_cont = 0;
			} else {
				/* One more MSS of the send skb Linux is filling. */
				TCP_SKB_CB(skb)->head_charged = false;
				skb->truesize = 0;
			}
			tcp_queue_skb(sk, skb);
		}
		/*
		 * Data joining a buffer: the old tail no longer ends it. If an
		 * earlier write pushed it, that push no longer ends the buffer
		 * either (Linux clears PSH on the skb it appends to).
		 */
		if (open) {
			struct sk_buff *prev = skb->len ? skb : TAILQ_PREV(skb, sk_buff_list, list);

			if (prev) {
				TCP_SKB_CB(prev)->tso_end = false;
				if (!copied)
					TCP_SKB_CB(prev)->tcp_flags &= (uint8_t)~TH_PSH;
			}
		}
		copy = mss - skb->len;
		if (copy > skb_tailroom(skb))
			copy = skb_tailroom(skb);
		if (copy > len - copied)
			copy = len - copied;
		if (memcpy_from_msg(skb_put(skb, (unsigned int)copy), msg, copied, copy)) {
			skb_trim(skb, skb->len - (unsigned int)copy);
			err = -EFAULT;
			break;
		}
		TCP_SKB_CB(skb)->end_seq += (uint32_t)copy;
		sk->sk_write_queue.bytes += (unsigned int)copy; /* skb grew inside the queue */
		tp->write_seq += (uint32_t)copy;
		tcp_skb_charge(sk, skb, (int)copy);
		if (zc)
			tcp_charge_zerocopy(sk, skb,
					    tcp_zerocopy_pages(msg, copied, copy, &zc_cont),
					    (unsigned int)copy);
		copied += copy;
		if (copied == len)
			break;
		tcp_push_full_buffer(sk, skb, goal);
	}
	if (copied) {
		struct sk_buff *tail = skb_peek_tail(&sk->sk_write_queue);

		/* Still unsent (send_head set), the tail holds the write's last byte. */
		if (tail && tp->send_head)
			tcp_tx_timestamp(sk, tail);
		/* MSG_EOR: a record ends here; the next write starts a new segment. */
		if (tail && (flags & MSG_EOR))
			TCP_SKB_CB(tail)->eor = true;
		if (zc && tail) {
			struct tcp_skb_cb *cb = TCP_SKB_CB(tail);

			if (zc_skb) {
				/* Extend the previous range; it now ends with this send. */
				uint32_t lo = TCP_SKB_CB(zc_skb)->zc_lo,
					 n = TCP_SKB_CB(zc_skb)->zc_len;

				TCP_SKB_CB(zc_skb)->zc_len = 0;
				cb->zc_lo = lo;
				cb->zc_len = (uint16_t)(n + 1);
			} else {
				cb->zc_lo = sk->sk_zckey;
				cb->zc_len = 1;
			}
			sk->sk_zckey++;
		}
		if (!(flags & MSG_MORE) || tcp_forced_push(tp))
			tcp_mark_push(sk);
		/* MSG_OOB: the write's last byte is urgent (RFC 6093: the pointer names the next).
		 */
		if (flags & MSG_OOB) {
			tp->snd_up = tp->write_seq;
			tp->urg_mode = true;
		}
		tcp_push(sk, (flags & MSG_MORE) ? TCP_NAGLE_CORK : tp->nonagle);
		if (!tcp_stream_is_writeable(sk))
			tp->nospace = true;
	}
	dev_xmit_unplug(sk->ns);
	return copied ? (ssize_t)copied : err;
}

/* proto->ioctl: SIOCINQ/FIONREAD, SIOCOUTQ, SIOCOUTQNSD (tcp_ioctl). */
static int tcp_ioctl(struct sock *sk, unsigned long cmd, void *arg)
{
	struct tcp_sock *tp = tcp_sk(sk);
	int v;

	switch (cmd) {
	case SIOCINQ:
		if (sk->sk_state == TCP_LISTEN)
			return -EINVAL;
		v = (int)tcp_inq(sk);
		break;
	case SIOCOUTQ:
		if (sk->sk_state == TCP_LISTEN)
			return -EINVAL;
		v = ((1u << sk->sk_state) & (TCPF_SYN_SENT | TCPF_SYN_RECV | TCPF_CLOSE))
			? 0
			: (int)(tp->write_seq - tp->snd_una);
		break;
	case SIOCOUTQNSD:
		if (sk->sk_state == TCP_LISTEN)
			return -EINVAL;
		v = ((1u << sk->sk_state) & (TCPF_SYN_SENT | TCPF_SYN_RECV | TCPF_CLOSE))
			? 0
			: (int)(tp->write_seq - tp->snd_nxt);
		break;
	case SIOCATMARK:
		/* The next byte to read is the urgent one (sockatmark(3)). */
		v = tp->urg_data && tp->urg_seq == tp->copied_seq;
		break;
	default:
		return -ENOTTY;
	}
	memcpy(arg, &v, sizeof(v));
	return 0;
}

/* Linux's secs_to_retrans() for TCP_DEFER_ACCEPT. */
static int secs_to_retrans(int secs)
{
	int period = 1, res = 0;

	if (secs > 0) {
		while (secs > period && res < 255) {
			res++;
			secs -= period;
			period = period * 2 > 120 ? 120 : period * 2;
		}
		res++;
	}
	return res;
}

static int retrans_to_secs(int retrans)
{
	int period = 1, res = 0;

	if (retrans > 0) {
		res = period;
		while (--retrans) {
			period = period * 2 > 120 ? 120 : period * 2;
			res += period;
		}
	}
	return res;
}

/* proto->setsockopt for IPPROTO_TCP (do_tcp_setsockopt); IP levels pass through. */
static int tcp_setsockopt(struct sock *sk, int level, int optname, const void *optval,
			  socklen_t optlen)
{
	struct tcp_sock *tp = tcp_sk(sk);
	int val;

	if (level != IPPROTO_TCP)
		return ip_setsockopt(sk, level, optname, optval, optlen);
	if (optname == TCP_CONGESTION) {
		char name[TCP_CA_NAME_MAX];
		size_t n = optlen < sizeof(name) - 1 ? optlen : sizeof(name) - 1;

		if ((int)optlen < 1)
			return -EINVAL;
		memcpy(name, optval, n);
		name[n] = 0;
		return tcp_set_congestion_control(sk, name);
	}
	if (optname == TCP_FASTOPEN_KEY) {
		/* 16 bytes (a backup key may follow: 32), read as two little-endian words. */
		const uint8_t *k = optval;

		if (optlen != 16 && optlen != 32)
			return -EINVAL;
		tp->fo_key[0] = tp->fo_key[1] = 0;
		for (int i = 7; i >= 0; i--) {
			tp->fo_key[0] = tp->fo_key[0] << 8 | k[i];
			tp->fo_key[1] = tp->fo_key[1] << 8 | k[8 + i];
		}
		tp->fo_key_set = true;
		return 0;
	}
	if (optlen < sizeof(int))
		return -EINVAL;
	memcpy(&val, optval, sizeof(val));

	switch (optname) {
	case TCP_NODELAY:
		if (val) {
			tp->nonagle |= TCP_NAGLE_OFF | TCP_NAGLE_PUSH;
			tcp_push(sk, tp->nonagle);
			tp->nonagle &= (uint8_t)~TCP_NAGLE_PUSH;
		} else {
			tp->nonagle &= (uint8_t)~TCP_NAGLE_OFF;
		}
		return 0;
	case TCP_CORK:
		if (val) {
			tp->nonagle |= TCP_NAGLE_CORK;
		} else {
			tp->nonagle &= (uint8_t)~TCP_NAGLE_CORK;
			tcp_push(sk, tp->nonagle | TCP_NAGLE_PUSH);
		}
		return 0;
	case TCP_MAXSEG:
		if (val && (val < TCP_MIN_MSS || val > 65535 - 40))
			return -EINVAL;
		tp->user_mss = (uint16_t)val;
		return 0;
	case TCP_KEEPIDLE:
		if (val < 1 || val > TCP_KEEPALIVE_MAX_S)
			return -EINVAL;
		tp->keepalive_time_s = val;
		if (sock_flag(sk, SOCK_KEEPOPEN))
			tcp_set_keepalive(sk, true);
		return 0;
	case TCP_KEEPINTVL:
		if (val < 1 || val > TCP_KEEPALIVE_MAX_S)
			return -EINVAL;
		tp->keepalive_intvl_s = val;
		return 0;
	case TCP_KEEPCNT:
		if (val < 1 || val > TCP_MAX_KEEPCNT)
			return -EINVAL;
		tp->keepalive_probes = val;
		return 0;
	case TCP_SYNCNT:
		if (val < 1 || val > MAX_TCP_SYNCNT)
			return -EINVAL;
		tp->syn_retries = (uint8_t)val;
		return 0;
	case TCP_LINGER2:
		if (val < 0)
			tp->linger2_s = -1;
		else if (val > TCP_FIN_TIMEOUT_MAX_S)
			tp->linger2_s = TCP_FIN_TIMEOUT_MAX_S;
		else
			tp->linger2_s = val;
		return 0;
	case TCP_DEFER_ACCEPT:
		tp->defer_accept_s = secs_to_retrans(val);
		return 0;
	case TCP_WINDOW_CLAMP:
		if (!val) {
			if (sk->sk_state != TCP_CLOSE)
				return -EINVAL;
			tp->window_clamp = 0;
		} else {
			tp->window_clamp =
			    (uint32_t)(val < SOCK_MIN_RCVBUF / 2 ? SOCK_MIN_RCVBUF / 2 : val);
		}
		return 0;
	case TCP_QUICKACK:
		if (val) {
			tp->pingpong = false;
			if ((1u << sk->sk_state) & (TCPF_ESTABLISHED | TCPF_CLOSE_WAIT) &&
			    tp->ack_pending)
				tcp_send_ack(sk);
		} else {
			tp->pingpong = true;
		}
		return 0;
	case TCP_USER_TIMEOUT:
		if (val < 0)
			return -EINVAL;
		tp->user_timeout_ms = (uint32_t)val;
		return 0;
	case TCP_NOTSENT_LOWAT:
		tp->notsent_lowat = (uint32_t)val;
		tp->nospace = true;
		tcp_check_space(sk);
		return 0;
	case TCP_INQ:
		if (val < 0 || val > 1)
			return -EINVAL;
		tp->recvmsg_inq = val;
		return 0;
	case TCP_FASTOPEN:
		/* A listener's queue of Fast Open children (Linux's fastopen_queue_tune). */
		if (val < 0 || !((1u << sk->sk_state) & (TCPF_CLOSE | TCPF_LISTEN)))
			return -EINVAL;
		tp->fo_max_qlen = val < sk->ns->cfg.tcp.somaxconn ? val : sk->ns->cfg.tcp.somaxconn;
		return 0;
	case TCP_FASTOPEN_CONNECT:
		if (val < 0 || val > 1)
			return -EINVAL;
		if (!(sk->ns->cfg.tcp.fastopen & TFO_CLIENT_ENABLE))
			return -EOPNOTSUPP;
		if (sk->sk_state != TCP_CLOSE)
			return -EINVAL;
		tp->fastopen_connect = val;
		return 0;
	case TCP_FASTOPEN_NO_COOKIE:
		if (val < 0 || val > 1)
			return -EINVAL;
		if (!((1u << sk->sk_state) & (TCPF_CLOSE | TCPF_LISTEN)))
			return -EINVAL;
		tp->fastopen_no_cookie = val;
		return 0;
	default:
		return -ENOPROTOOPT;
	}
}

static int tcp_put_int(void *optval, socklen_t *optlen, int v)
{
	socklen_t len = *optlen < sizeof(int) ? *optlen : sizeof(int);

	if ((int)*optlen < 0)
		return -EINVAL;
	memcpy(optval, &v, len);
	*optlen = len;
	return 0;
}

/* Busy time in all, and the parts the peer's window and the send buffer held back, us. */
static void tcp_get_info_chrono_stats(const struct tcp_sock *tp, struct tcp_info_linux *info,
				      uint64_t now)
{
	uint64_t stats[3], total = 0;

	for (int t = TCP_CHRONO_BUSY; t <= TCP_CHRONO_SNDBUF_LIMITED; t++) {
		stats[t - 1] = tp->chrono_stat[t - 1];
		if (t == tp->chrono_type)
			stats[t - 1] += now - tp->chrono_start;
		total += stats[t - 1];
	}
	info->tcpi_busy_time = total;
	info->tcpi_rwnd_limited = stats[TCP_CHRONO_RWND_LIMITED - 1];
	info->tcpi_sndbuf_limited = stats[TCP_CHRONO_SNDBUF_LIMITED - 1];
}

/* Fills Linux's struct tcp_info from the connection (tcp_get_info). */
void tcp_get_info(struct sock *sk, struct tcp_info_linux *info)
{
	struct tcp_sock *tp = tcp_sk(sk);
	uint64_t now = ns_now(sk->ns);

	memset(info, 0, sizeof(*info));
	info->tcpi_state = sk->sk_state;
	if (sk->sk_state == TCP_LISTEN) {
		info->tcpi_unacked = (uint32_t)sk->sk_ack_backlog;
		info->tcpi_sacked = (uint32_t)sk->sk_max_ack_backlog;
		return;
	}
	info->tcpi_ca_state = tp->ca_state;
	info->tcpi_retransmits = tp->retransmits;
	info->tcpi_probes = tp->probes_out;
	info->tcpi_backoff = tp->backoff;
	if (tp->tstamp_ok)
		info->tcpi_options |= TCPI_OPT_TIMESTAMPS;
	if (tp->sack_ok)
		info->tcpi_options |= TCPI_OPT_SACK;
	if (tp->wscale_ok) {
		info->tcpi_options |= TCPI_OPT_WSCALE;
		info->tcpi_snd_wscale = tp->snd_wscale & 0xf;
		info->tcpi_rcv_wscale = tp->rcv_wscale & 0xf;
	}
	if (tp->syn_data_acked)
		info->tcpi_options |= TCPI_OPT_SYN_DATA;
	info->tcpi_rto = (uint32_t)tcp_rto_backed_off(sk);
	info->tcpi_ato = tp->ato;
	info->tcpi_snd_mss = tp->mss_cache;
	info->tcpi_rcv_mss = tp->rcv_mss;
	info->tcpi_unacked = tp->packets_out;
	info->tcpi_sacked = tp->sacked_out;
	info->tcpi_lost = tp->lost_out;
	info->tcpi_retrans = tp->retrans_out;
	info->tcpi_last_data_sent = (uint32_t)((now - tp->last_data_sent) / 1000u);
	info->tcpi_last_data_recv = (uint32_t)((now - tp->last_data_recv) / 1000u);
	info->tcpi_last_ack_recv = (uint32_t)((now - tp->last_ack_recv) / 1000u);
	info->tcpi_pmtu = tp->pmtu;
	info->tcpi_rcv_ssthresh = tp->rcv_ssthresh;
	info->tcpi_rtt = tp->srtt_us >> 3;
	info->tcpi_rttvar = tp->mdev_us >> 2;
	info->tcpi_snd_ssthresh = tp->snd_ssthresh;
	info->tcpi_snd_cwnd = tp->snd_cwnd;
	info->tcpi_advmss = tp->advmss;
	info->tcpi_reordering = tp->reordering;
	info->tcpi_reord_seen = tp->reord_seen;
	info->tcpi_dsack_dups = tp->dsack_dups;
	info->tcpi_rcv_space = tp->rcvq_space;
	info->tcpi_rcv_rtt = tp->rcv_rtt_us;
	info->tcpi_total_retrans = tp->total_retrans;
	/* The rate as of the last ACK; none yet reads as no limit, as in Linux. */
	info->tcpi_max_pacing_rate = UINT64_MAX;
	info->tcpi_pacing_rate = tp->pacing_rate ? tp->pacing_rate : UINT64_MAX;
	info->tcpi_bytes_acked = tp->bytes_acked;
	info->tcpi_bytes_received = tp->bytes_received;
	info->tcpi_segs_out = tp->segs_out;
	info->tcpi_segs_in = tp->segs_in;
	info->tcpi_notsent_bytes = tp->write_seq - tp->snd_nxt;
	info->tcpi_min_rtt = tp->min_rtt_us ? tp->min_rtt_us : ~0u;
	info->tcpi_data_segs_in = tp->data_segs_in;
	info->tcpi_data_segs_out = tp->data_segs_out;
	info->tcpi_delivered = tp->delivered;
	info->tcpi_bytes_sent = tp->bytes_sent;
	info->tcpi_bytes_retrans = tp->bytes_retrans;
	info->tcpi_rcv_ooopack = tp->rcv_ooopack;
	tcp_get_info_chrono_stats(tp, info, now);
	info->tcpi_snd_wnd = tp->snd_wnd;
	info->tcpi_rcv_wnd = tp->rcv_wnd;
}

/* proto->getsockopt for IPPROTO_TCP (do_tcp_getsockopt). */
static int tcp_getsockopt(struct sock *sk, int level, int optname, void *optval, socklen_t *optlen)
{
	struct tcp_sock *tp = tcp_sk(sk);
	const struct tcp_config *c = &sk->ns->cfg.tcp;
	int v;

	if (level != IPPROTO_TCP)
		return ip_getsockopt(sk, level, optname, optval, optlen);
	switch (optname) {
	case TCP_NODELAY:
		v = !!(tp->nonagle & TCP_NAGLE_OFF);
		break;
	case TCP_CORK:
		v = !!(tp->nonagle & TCP_NAGLE_CORK);
		break;
	case TCP_MAXSEG:
		v = tp->mss_cache;
		if (tp->user_mss && ((1u << sk->sk_state) & (TCPF_CLOSE | TCPF_LISTEN)))
			v = tp->user_mss;
		break;
	case TCP_KEEPIDLE:
		v = tcp_keepalive_time_s(tp);
		break;
	case TCP_KEEPINTVL:
		v = tp->keepalive_intvl_s ? tp->keepalive_intvl_s : c->keepalive_intvl_s;
		break;
	case TCP_KEEPCNT:
		v = tp->keepalive_probes ? tp->keepalive_probes : c->keepalive_probes;
		break;
	case TCP_SYNCNT:
		v = tp->syn_retries ? tp->syn_retries : c->syn_retries;
		break;
	case TCP_LINGER2:
		v = tp->linger2_s ? tp->linger2_s : c->fin_timeout_s;
		if (tp->linger2_s < 0)
			v = -1;
		break;
	case TCP_DEFER_ACCEPT:
		v = retrans_to_secs(tp->defer_accept_s);
		break;
	case TCP_WINDOW_CLAMP:
		v = (int)tp->window_clamp;
		break;
	case TCP_QUICKACK:
		v = !tp->pingpong;
		break;
	case TCP_USER_TIMEOUT:
		v = (int)tp->user_timeout_ms;
		break;
	case TCP_NOTSENT_LOWAT:
		v = (int)tp->notsent_lowat;
		break;
	case TCP_INQ:
		v = tp->recvmsg_inq;
		break;
	case TCP_FASTOPEN:
		v = tp->fo_max_qlen;
		break;
	case TCP_FASTOPEN_CONNECT:
		v = tp->fastopen_connect;
		break;
	case TCP_FASTOPEN_NO_COOKIE:
		v = tp->fastopen_no_cookie;
		break;
	case TCP_CC_INFO:
		/* Reno and CUBIC export nothing here (no get_info in Linux either). */
		if ((int)*optlen < 0)
			return -EINVAL;
		*optlen = 0;
		return 0;
	case TCP_INFO: {
		struct tcp_info_linux info;
		socklen_t len = *optlen < sizeof(info) ? *optlen : sizeof(info);

		if ((int)*optlen < 0)
			return -EINVAL;
		tcp_get_info(sk, &info);
		memcpy(optval, &info, len);
		*optlen = len;
		return 0;
	}
	case TCP_CONGESTION: {
		char name[TCP_CA_NAME_MAX] = {0};
		socklen_t len = *optlen < TCP_CA_NAME_MAX ? *optlen : TCP_CA_NAME_MAX;

		if ((int)*optlen < 0)
			return -EINVAL;
		strncpy(name, tcp_ca(tp)->name, sizeof(name) - 1);
		memcpy(optval, name, len);
		*optlen = len;
		return 0;
	}
	default:
		return -ENOPROTOOPT;
	}
	return tcp_put_int(optval, optlen, v);
}

static int tcp_init_sock_proto(struct sock *sk)
{
	return tcp_init_sock(sk);
}

static void tcp_keepalive_hook(struct sock *sk, bool on)
{
	tcp_set_keepalive(sk, on);
}

const struct proto tcp_prot = {
    .name = "TCP",
    .obj_size = sizeof(struct tcp_sock),
    .init = tcp_init_sock_proto,
    .close = tcp_close,
    .connect = tcp_v4_connect,
    .disconnect = tcp_disconnect,
    .ioctl = tcp_ioctl,
    .destroy = tcp_v4_destroy_sock,
    .shutdown = tcp_shutdown,
    .setsockopt = tcp_setsockopt,
    .getsockopt = tcp_getsockopt,
    .sendmsg = tcp_sendmsg,
    .recvmsg = tcp_recvmsg,
    .hash = tcp_v4_hash,
    .unhash = tcp_v4_unhash,
    .get_port = tcp_v4_get_port,
    .keepalive = tcp_keepalive_hook,
    .max_header = MAX_HEADER,
};
