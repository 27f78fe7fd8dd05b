/*
 * inet_stream_ops: the proto_ops of SOCK_STREAM AF_INET sockets (Linux's
 * inet_stream_connect, inet_listen, inet_accept, tcp_poll).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>

#include "stack.h"
#include "tcp.h"

/*
 * connect(): starts the handshake and, unless non-blocking, waits for it.
 * Non-blocking: -EINPROGRESS, then -EALREADY while it runs, 0 once after it
 * completed, -EISCONN afterwards; a failure is reported by the next call.
 */
int inet_stream_connect(struct socket *sock, const struct sockaddr *addr, socklen_t len, int flags)
{
	return __inet_stream_connect(sock, addr, len, flags, false);
}

/*
 * is_sendmsg: a Fast Open send (tcp_sendmsg_fastopen) connecting; on a
 * deferred connect (TCP_FASTOPEN_CONNECT) it reports -EINPROGRESS where
 * connect() would say -EISCONN.
 */
int __inet_stream_connect(struct socket *sock, const struct sockaddr *addr, socklen_t len,
			  int flags, bool is_sendmsg)
{
	struct sock *sk = sock->sk;
	int64_t timeo;
	int err;

	/* No address: a Fast Open send on a socket already connecting (or a bad call). */
	if (addr || !is_sendmsg) {
		if (len < sizeof(addr->sa_family))
			return -EINVAL;
		if (addr->sa_family == AF_UNSPEC) {
			err = sk_prot(sk)->disconnect(sk, flags);
			sock->state = err ? SS_DISCONNECTING : SS_UNCONNECTED;
			return err;
		}
	}
	switch (sock->state) {
	case SS_CONNECTED:
		return -EISCONN;
	case SS_CONNECTING:
		if (tcp_sk(sk)->defer_connect)
			err = is_sendmsg ? -EINPROGRESS : -EISCONN;
		else
			err = -EALREADY;
		break;
	case SS_UNCONNECTED:
		if (sk->sk_state != TCP_CLOSE)
			return -EISCONN;
		err = sk_prot(sk)->connect(sk, addr, len);
		if (err < 0)
			return err;
		sock->state = SS_CONNECTING;
		/* TCP_FASTOPEN_CONNECT with a cookie: the SYN waits for the first write. */
		if (tcp_sk(sk)->defer_connect)
			return 0;
		err = -EINPROGRESS;
		break;
	default:
		return -EINVAL;
	}
	timeo = sock_sndtimeo(sk, flags & O_NONBLOCK);
	if ((1u << sk->sk_state) & (TCPF_SYN_SENT | TCPF_SYN_RECV)) {
		int rc;

		if (!timeo)
			return err;
		rc = sk_wait_event(sk, &timeo,
				   !((1u << sk->sk_state) & (TCPF_SYN_SENT | TCPF_SYN_RECV)));
		if (rc == -EINTR)
			return -EINTR;
		if (rc)
			return -EINPROGRESS; /* SO_SNDTIMEO ran out */
	}
	if (sk->sk_state == TCP_CLOSE) {
		err = sock_error(sk);
		if (!err)
			err = -ECONNABORTED;
		sock->state = SS_UNCONNECTED;
		return err;
	}
	sock->state = SS_CONNECTED;
	return 0;
}

/* listen(): backlog capped by somaxconn (inet_listen, inet_csk_listen_start). */
int inet_listen(struct socket *sock, int backlog)
{
	struct sock *sk = sock->sk;
	struct tcp_sock *tp = tcp_sk(sk);
	int somaxconn = sk->ns->cfg.tcp.somaxconn;
	int err;

	if (sock->state != SS_UNCONNECTED || sock->type != SOCK_STREAM)
		return -EINVAL;
	if (sk->sk_state != TCP_CLOSE && sk->sk_state != TCP_LISTEN)
		return -EINVAL;
	if ((unsigned int)backlog > (unsigned int)somaxconn)
		backlog = somaxconn;
	sk->sk_max_ack_backlog = backlog;
	/* net.ipv4.tcp_fastopen 0x400|0x2: Fast Open on every listener, queue = backlog. */
	if ((sk->ns->cfg.tcp.fastopen & (TFO_SERVER_WO_SOCKOPT1 | TFO_SERVER_ENABLE)) ==
		(TFO_SERVER_WO_SOCKOPT1 | TFO_SERVER_ENABLE) &&
	    !tp->fo_max_qlen)
		tp->fo_max_qlen = backlog;
	if (sk->sk_state == TCP_LISTEN)
		return 0;
	if (sk->sk_num) {
		/* Re-check the port now that we would listen on it. */
		uint16_t port = sk->sk_num;

		tcp_put_port(sk);
		err = tcp_v4_get_port(sk, port);
		if (err) {
			tcp_inherit_port(sk, port);
			return -EADDRINUSE;
		}
	} else {
		err = tcp_v4_get_port(sk, 0);
		if (err)
			return -EAGAIN;
	}
	tp->pmtu = ns_dev(sk->ns) ? ns_dev(sk->ns)->mtu : 1500;
	tcp_set_state(sk, TCP_LISTEN);
	tcp_v4_hash(sk);
	return 0;
}

/* accept(): the first completed connection, waiting unless non-blocking. */
int inet_accept(struct socket *sock, struct socket *newsock, int flags)
{
	struct sock *sk = sock->sk;
	struct tcp_sock *lp = tcp_sk(sk), *child;
	int64_t timeo = sock_rcvtimeo(sk, flags & O_NONBLOCK);
	int err;

	if (sk->sk_state != TCP_LISTEN)
		return -EINVAL;
	err = sk_wait_event(sk, &timeo,
			    !TAILQ_EMPTY(&lp->accept_queue) || sk->sk_state != TCP_LISTEN);
	if (err)
		return err;
	if (sk->sk_state != TCP_LISTEN)
		return -EINVAL;
	child = TAILQ_FIRST(&lp->accept_queue);
	TAILQ_REMOVE(&lp->accept_queue, child, accept_link);
	sk->sk_ack_backlog--;
	child->parent = NULL;
	sock_graft(tp_sk(child), newsock);
	newsock->state = SS_CONNECTED;
	return 0;
}

/* poll(): readiness as Linux's tcp_poll reports it. */
unsigned int tcp_poll(struct socket *sock)
{
	struct sock *sk = sock->sk;
	unsigned int mask = 0;
	int state = sk->sk_state;

	if (state == TCP_LISTEN)
		return TAILQ_EMPTY(&tcp_sk(sk)->accept_queue) ? 0 : POLLIN | POLLRDNORM;
	/* A deferred Fast Open connect is writable: the write sends the SYN. */
	if (state == TCP_SYN_SENT && tcp_sk(sk)->defer_connect)
		return POLLOUT | POLLWRNORM;
	if (sk->sk_shutdown == SHUTDOWN_MASK || state == TCP_CLOSE)
		mask |= POLLHUP;
	if (sk->sk_shutdown & RCV_SHUTDOWN)
		mask |= POLLIN | POLLRDNORM | POLLRDHUP;
	if (state != TCP_SYN_SENT && (state != TCP_SYN_RECV || tcp_sk(sk)->fastopen_child)) {
		struct tcp_sock *tp = tcp_sk(sk);
		uint32_t inq = tcp_inq(sk);
		int target = sk->sk_rcvlowat > 0 ? sk->sk_rcvlowat : 1;

		/* An urgent byte next that is not read inline is no data (Linux's tcp_poll). */
		if (tp->urg_data && tp->urg_seq == tp->copied_seq && !sock_flag(sk, SOCK_URGINLINE))
			target++;
		if (inq && (int)inq >= target)
			mask |= POLLIN | POLLRDNORM;
		else if (inq && (sk->sk_shutdown & RCV_SHUTDOWN))
			mask |= POLLIN | POLLRDNORM;
		if (!(sk->sk_shutdown & SEND_SHUTDOWN)) {
			if (tcp_stream_is_writeable(sk))
				mask |= POLLOUT | POLLWRNORM;
			else
				tcp_sk(sk)->nospace = true; /* wake the poller when space returns */
		} else {
			mask |= POLLOUT | POLLWRNORM;
		}
	}
	if (tcp_sk(sk)->urg_data & TCP_URG_VALID)
		mask |= POLLPRI;
	if (sk->sk_err || !skb_queue_empty(&sk->sk_error_queue))
		mask |= POLLERR;
	return mask;
}

ssize_t inet_stream_sendmsg(struct socket *sock, const struct msghdr *msg, int flags)
{
	struct sock *sk = sock->sk;

	return sk_prot(sk)->sendmsg(sk, msg, msg_data_len(msg), flags);
}

ssize_t inet_stream_recvmsg(struct socket *sock, struct msghdr *msg, int flags)
{
	struct sock *sk = sock->sk;

	return sk_prot(sk)->recvmsg(sk, msg, msg_data_len(msg), flags);
}

const struct proto_ops inet_stream_ops = {
    .family = AF_INET,
    .release = inet_release,
    .bind = inet_bind,
    .connect = inet_stream_connect,
    .accept = inet_accept,
    .getname = inet_getname,
    .poll = tcp_poll,
    .ioctl = inet_ioctl,
    .listen = inet_listen,
    .shutdown = inet_shutdown,
    .setsockopt = inet_setsockopt,
    .getsockopt = inet_getsockopt,
    .sendmsg = inet_stream_sendmsg,
    .recvmsg = inet_stream_recvmsg,
};
