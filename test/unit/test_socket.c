/*
 * The socket layer: family and protocol registries, socket() argument
 * checking with Linux's errnos, inetsw matching (wildcard protocol, raw
 * wildcard entry, permanent entries), SOL_SOCKET options, generic ops.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "check_main.h"
#include "wire/harness.h"
#include "inet.h"
#include "sock.h"
#include "stack.h"
#include "udp.h"

static struct socket *t_sock(int type, int protocol)
{
	struct socket *s = NULL;
	int err = nstack_socket(T.ns, AF_INET, type, protocol, &s);

	ck_assert_msg(err == 0, "socket(%d, %d): %d", type, protocol, err);
	return s;
}

static int t_sock_err(int family, int type, int protocol)
{
	struct socket *s = (struct socket *)1;
	int err = nstack_socket(T.ns, family, type, protocol, &s);

	ck_assert_ptr_null(s);
	return err;
}

static int t_getint(struct socket *s, int level, int name)
{
	int v = -12345;
	socklen_t len = sizeof(v);

	ck_assert_int_eq(nstack_getsockopt(s, level, name, &v, &len), 0);
	ck_assert_uint_eq(len, sizeof(v));
	return v;
}

static int t_setint(struct socket *s, int level, int name, int v)
{
	return nstack_setsockopt(s, level, name, &v, sizeof(v));
}

static void teardown(void)
{
	if (T.ns)
		ck_assert_int_eq(T.ns->socket_live, 0);
	t_teardown();
}

START_TEST(test_no_family_socket_eafnosupport)
{
	/* AF_INET6 has TCP, UDP, ping and raw; its raw wildcard, as IPv4's, refuses protocol 0. */
	ck_assert_int_eq(t_sock_err(AF_INET6, SOCK_DGRAM, 253), -EPROTONOSUPPORT);
	ck_assert_int_eq(t_sock_err(AF_INET6, SOCK_RAW, 0), -EPROTONOSUPPORT);
	ck_assert_int_eq(t_sock_err(AF_INET6, SOCK_RAW, 256), -EINVAL);
	ck_assert_int_eq(t_sock_err(AF_PACKET, SOCK_RAW, 0), -EAFNOSUPPORT);
	ck_assert_int_eq(t_sock_err(AF_UNIX, SOCK_STREAM, 0), -EAFNOSUPPORT);
	ck_assert_int_eq(t_sock_err(-1, SOCK_DGRAM, 0), -EAFNOSUPPORT);
	ck_assert_int_eq(t_sock_err(AF_MAX, SOCK_DGRAM, 0), -EAFNOSUPPORT);
	/* Linux turns AF_INET/SOCK_PACKET into AF_PACKET, which is not ours. */
	ck_assert_int_eq(t_sock_err(AF_INET, SOCK_PACKET, 0), -EAFNOSUPPORT);
	ck_assert_int_eq(T.ns->socket_live, 0);
}
END_TEST

START_TEST(test_inet_bad_type_errnos_as_linux)
{
	ck_assert_int_eq(t_sock_err(AF_INET, 11, 0), -EINVAL);
	ck_assert_int_eq(t_sock_err(AF_INET, SOCK_DGRAM | 0x100, 0), -EINVAL);
	ck_assert_int_eq(t_sock_err(AF_INET, 0, 0), -ESOCKTNOSUPPORT);
	ck_assert_int_eq(t_sock_err(AF_INET, SOCK_SEQPACKET, 0), -ESOCKTNOSUPPORT);
	ck_assert_int_eq(t_sock_err(AF_INET, SOCK_RDM, 0), -ESOCKTNOSUPPORT);
}
END_TEST

START_TEST(test_inet_bad_protocol_errnos_as_linux)
{
	ck_assert_int_eq(t_sock_err(AF_INET, SOCK_DGRAM, IPPROTO_TCP), -EPROTONOSUPPORT);
	ck_assert_int_eq(t_sock_err(AF_INET, SOCK_DGRAM, 253), -EPROTONOSUPPORT);
	/* The raw entry is a wildcard for every protocol but IPPROTO_IP itself. */
	ck_assert_int_eq(t_sock_err(AF_INET, SOCK_RAW, 0), -EPROTONOSUPPORT);
	ck_assert_int_eq(t_sock_err(AF_INET, SOCK_DGRAM, 256), -EINVAL);
	ck_assert_int_eq(t_sock_err(AF_INET, SOCK_DGRAM, -1), -EINVAL);
}
END_TEST

START_TEST(test_inet_protocol_zero_picks_first_entry)
{
	struct socket *s = t_sock(SOCK_DGRAM, 0);

	ck_assert_int_eq(t_getint(s, SOL_SOCKET, SO_PROTOCOL), IPPROTO_UDP);
	ck_assert_int_eq(t_getint(s, SOL_SOCKET, SO_TYPE), SOCK_DGRAM);
	ck_assert_int_eq(t_getint(s, SOL_SOCKET, SO_DOMAIN), AF_INET);
	ck_assert_ptr_eq(sk_prot(s->sk), &udp_prot);
	ck_assert_int_eq(nstack_sock_type(s), SOCK_DGRAM);
	nstack_close(s);
}
END_TEST

START_TEST(test_inet_exact_and_wildcard_matches)
{
	struct socket *ping = t_sock(SOCK_DGRAM, IPPROTO_ICMP);
	struct socket *raw = t_sock(SOCK_RAW, IPPROTO_ICMP);
	struct socket *raw253 = t_sock(SOCK_RAW, 253);
	struct socket *rawraw = t_sock(SOCK_RAW, IPPROTO_RAW);

	ck_assert_int_eq(t_getint(ping, SOL_SOCKET, SO_PROTOCOL), IPPROTO_ICMP);
	ck_assert_ptr_eq(sock_ops(ping), &inet_dgram_ops);
	ck_assert_ptr_eq(sock_ops(raw), &inet_sockraw_ops);
	ck_assert_int_eq(t_getint(raw253, SOL_SOCKET, SO_PROTOCOL), 253);
	ck_assert_int_eq(t_getint(raw, IPPROTO_IP, IP_HDRINCL), 0);
	/* IPPROTO_RAW implies IP_HDRINCL. */
	ck_assert_int_eq(t_getint(rawraw, IPPROTO_IP, IP_HDRINCL), 1);
	/* IP_HDRINCL is for raw sockets only. */
	ck_assert_int_eq(t_setint(ping, IPPROTO_IP, IP_HDRINCL, 1), -ENOPROTOOPT);
	nstack_close(ping);
	nstack_close(raw);
	nstack_close(raw253);
	nstack_close(rawraw);
}
END_TEST

static const struct inet_protosw sw_udp200 = {
    .type = SOCK_DGRAM,
    .protocol = 200,
    .prot = &udp_prot,
    .ops = &inet_dgram_ops,
};

static const struct inet_protosw sw_udp_override = {
    .type = SOCK_DGRAM,
    .protocol = IPPROTO_UDP,
    .prot = &udp_prot,
    .ops = &inet_dgram_ops,
};

static const struct inet_protosw sw_bad_type = {
    .type = NSTACK_SOCK_MAX,
    .protocol = 1,
    .prot = &udp_prot,
    .ops = &inet_dgram_ops,
};

static const struct inet_protosw sw_stream = {
    .type = SOCK_STREAM,
    .protocol = 199,
    .prot = &udp_prot,
    .ops = &inet_dgram_ops,
};

START_TEST(test_protosw_register_order_and_permanence)
{
	struct socket *s;

	nstack_lock(T.ns);
	ck_assert_int_eq(inet_register_protosw(T.ns, &sw_udp_override), -EPERM);
	ck_assert_int_eq(inet_register_protosw(T.ns, &sw_bad_type), -EINVAL);
	ck_assert_int_eq(inet_register_protosw(T.ns, &sw_udp200), 0);
	ck_assert_int_eq(inet_register_protosw(T.ns, &sw_udp200), -EEXIST);
	/* New entries go after the permanent ones: UDP still answers protocol 0. */
	ck_assert_ptr_eq(((const struct inet_protosw *)ns_unref(T.ns->inetsw[SOCK_DGRAM][0]))->prot,
			 &udp_prot);
	ck_assert_int_eq(
	    ((const struct inet_protosw *)ns_unref(T.ns->inetsw[SOCK_DGRAM][0]))->protocol,
	    IPPROTO_UDP);
	ck_assert_ptr_eq(ns_unref(T.ns->inetsw[SOCK_DGRAM][1]), &sw_udp200);
	nstack_unlock(T.ns);

	s = t_sock(SOCK_DGRAM, 200);
	ck_assert_int_eq(t_getint(s, SOL_SOCKET, SO_PROTOCOL), 200);
	nstack_close(s);
	s = t_sock(SOCK_DGRAM, 0);
	ck_assert_int_eq(t_getint(s, SOL_SOCKET, SO_PROTOCOL), IPPROTO_UDP);
	nstack_close(s);

	nstack_lock(T.ns);
	inet_unregister_protosw(T.ns, &sw_udp200);
	/* Permanent entries cannot be removed. */
	inet_unregister_protosw(T.ns, ns_unref(T.ns->inetsw[SOCK_DGRAM][0]));
	nstack_unlock(T.ns);
	ck_assert_int_eq(t_sock_err(AF_INET, SOCK_DGRAM, 200), -EPROTONOSUPPORT);
	s = t_sock(SOCK_DGRAM, IPPROTO_UDP);
	nstack_close(s);
}
END_TEST

START_TEST(test_protosw_stream_type_registered_later_is_found)
{
	struct socket *s;

	if (T.ns->inetsw[SOCK_STREAM][0] == 0)
		ck_assert_int_eq(t_sock_err(AF_INET, SOCK_STREAM, 0), -ESOCKTNOSUPPORT);
	nstack_lock(T.ns);
	ck_assert_int_eq(inet_register_protosw(T.ns, &sw_stream), 0);
	nstack_unlock(T.ns);
	s = t_sock(SOCK_STREAM, 199);
	ck_assert_int_eq(t_getint(s, SOL_SOCKET, SO_TYPE), SOCK_STREAM);
	nstack_close(s);
	nstack_lock(T.ns);
	inet_unregister_protosw(T.ns, &sw_stream);
	nstack_unlock(T.ns);
}
END_TEST

static int dummy_rcv(struct sk_buff *skb)
{
	kfree_skb(skb);
	return 0;
}

static const struct inet_protocol dummy_proto = {.handler = dummy_rcv};

START_TEST(test_inet_protos_add_twice_eexist)
{
	nstack_lock(T.ns);
	ck_assert_ptr_nonnull(inet_protocol_get(T.ns, IPPROTO_UDP));
	ck_assert_int_eq(inet_add_protocol(T.ns, &dummy_proto, IPPROTO_UDP), -EEXIST);
	ck_assert_ptr_null(inet_protocol_get(T.ns, 252));
	ck_assert_int_eq(inet_add_protocol(T.ns, &dummy_proto, 252), 0);
	ck_assert_ptr_eq(inet_protocol_get(T.ns, 252), &dummy_proto);
	ck_assert_int_eq(inet_add_protocol(T.ns, &dummy_proto, 252), -EEXIST);
	inet_del_protocol(T.ns, 252);
	ck_assert_ptr_null(inet_protocol_get(T.ns, 252));
	nstack_unlock(T.ns);
}
END_TEST

START_TEST(test_family_unregistered_then_back)
{
	const struct net_proto_family *inet;
	struct socket *s;

	nstack_lock(T.ns);
	inet = ns_unref(T.ns->families[AF_INET]);
	ck_assert_ptr_nonnull(inet);
	ck_assert_int_eq(sock_register(T.ns, inet), -EEXIST);
	sock_unregister(T.ns, AF_INET);
	nstack_unlock(T.ns);
	ck_assert_int_eq(t_sock_err(AF_INET, SOCK_DGRAM, 0), -EAFNOSUPPORT);
	nstack_lock(T.ns);
	ck_assert_int_eq(sock_register(T.ns, inet), 0);
	nstack_unlock(T.ns);
	s = t_sock(SOCK_DGRAM, 0);
	nstack_close(s);
}
END_TEST

START_TEST(test_socket_flags_nonblock_and_live_counts)
{
	struct socket *s = NULL;
	long socks = nstack_live_socks(T.ns);

	ck_assert_int_eq(
	    nstack_socket(T.ns, AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, &s), 0);
	ck_assert(nstack_get_nonblock(s));
	ck_assert_int_eq(T.ns->socket_live, 1);
	ck_assert_int_eq(nstack_live_socks(T.ns), socks + 1);
	nstack_set_nonblock(s, false);
	ck_assert(!nstack_get_nonblock(s));
	{
		int on = 1;

		ck_assert_int_eq(nstack_ioctl(s, FIONBIO, &on), 0);
		ck_assert(nstack_get_nonblock(s));
	}
	nstack_sock_set_file(s, &socks);
	ck_assert_ptr_eq(nstack_sock_file(s), &socks);
	nstack_close(s);
	ck_assert_int_eq(T.ns->socket_live, 0);
	ck_assert_int_eq(nstack_live_socks(T.ns), socks);
}
END_TEST

START_TEST(test_sockopt_buffers_doubled_and_clamped)
{
	struct socket *s = t_sock(SOCK_DGRAM, 0);

	ck_assert_int_eq(t_getint(s, SOL_SOCKET, SO_RCVBUF), SK_RMEM_DEFAULT);
	ck_assert_int_eq(t_getint(s, SOL_SOCKET, SO_SNDBUF), SK_WMEM_DEFAULT);
	ck_assert_int_eq(t_setint(s, SOL_SOCKET, SO_RCVBUF, 10000), 0);
	ck_assert_int_eq(t_getint(s, SOL_SOCKET, SO_RCVBUF), 20000);
	ck_assert_int_eq(t_setint(s, SOL_SOCKET, SO_RCVBUF, 1), 0);
	ck_assert_int_eq(t_getint(s, SOL_SOCKET, SO_RCVBUF), SOCK_MIN_RCVBUF);
	ck_assert_int_eq(t_setint(s, SOL_SOCKET, SO_RCVBUF, 1 << 30), 0);
	ck_assert_int_eq(t_getint(s, SOL_SOCKET, SO_RCVBUF), 2 * SK_RMEM_MAX);
	/* Linux compares as unsigned: -1 is huge, so it clamps to the maximum. */
	ck_assert_int_eq(t_setint(s, SOL_SOCKET, SO_RCVBUF, -1), 0);
	ck_assert_int_eq(t_getint(s, SOL_SOCKET, SO_RCVBUF), 2 * SK_RMEM_MAX);
	ck_assert_int_eq(t_setint(s, SOL_SOCKET, SO_SNDBUF, 1), 0);
	ck_assert_int_eq(t_getint(s, SOL_SOCKET, SO_SNDBUF), SOCK_MIN_SNDBUF);
	ck_assert_int_eq(t_setint(s, SOL_SOCKET, SO_SNDBUF, 65536), 0);
	ck_assert_int_eq(t_getint(s, SOL_SOCKET, SO_SNDBUF), 131072);
	ck_assert(s->sk->sk_userlocks_snd && s->sk->sk_userlocks_rcv);
	nstack_close(s);
}
END_TEST

START_TEST(test_sockopt_errors_as_linux)
{
	struct socket *s = t_sock(SOCK_DGRAM, 0);
	short sv = 1;
	int v = 1;
	socklen_t len;

	/* Read-only and unknown options. */
	ck_assert_int_eq(t_setint(s, SOL_SOCKET, SO_TYPE, 1), -ENOPROTOOPT);
	ck_assert_int_eq(t_setint(s, SOL_SOCKET, SO_ERROR, 1), -ENOPROTOOPT);
	ck_assert_int_eq(t_setint(s, SOL_SOCKET, SO_SNDLOWAT, 1), -ENOPROTOOPT);
	ck_assert_int_eq(t_setint(s, SOL_SOCKET, 9999, 1), -ENOPROTOOPT);
	len = sizeof(v);
	ck_assert_int_eq(nstack_getsockopt(s, SOL_SOCKET, 9999, &v, &len), -ENOPROTOOPT);
	/* Short option values. */
	ck_assert_int_eq(nstack_setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &sv, sizeof(sv)), -EINVAL);
	ck_assert_int_eq(nstack_setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &v, (socklen_t)-1),
			 -EINVAL);
	{
		struct linger l = {1, 5};

		ck_assert_int_eq(nstack_setsockopt(s, SOL_SOCKET, SO_LINGER, &l, sizeof(int)),
				 -EINVAL);
	}
	/* getsockopt() truncates instead. */
	v = 0x7f7f7f7f;
	len = 2;
	ck_assert_int_eq(nstack_getsockopt(s, SOL_SOCKET, SO_TYPE, &v, &len), 0);
	ck_assert_uint_eq(len, 2);
	ck_assert_int_eq(v & 0xffff, SOCK_DGRAM);
	ck_assert_int_eq(v >> 16, 0x7f7f);
	len = (socklen_t)-1;
	ck_assert_int_eq(nstack_getsockopt(s, SOL_SOCKET, SO_TYPE, &v, &len), -EINVAL);
	nstack_close(s);
}
END_TEST

START_TEST(test_sockopt_flags_roundtrip)
{
	struct socket *s = t_sock(SOCK_DGRAM, 0);
	static const int flags[] = {SO_REUSEADDR, SO_REUSEPORT,	  SO_KEEPALIVE, SO_BROADCAST,
				    SO_OOBINLINE, SO_DEBUG,	  SO_DONTROUTE, SO_PASSCRED,
				    SO_TIMESTAMP, SO_TIMESTAMPNS, SO_NO_CHECK};

	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		ck_assert_int_eq(t_getint(s, SOL_SOCKET, flags[i]), 0);
		ck_assert_int_eq(t_setint(s, SOL_SOCKET, flags[i], 7), 0);
		ck_assert_msg(t_getint(s, SOL_SOCKET, flags[i]) == 1, "option %d", flags[i]);
		ck_assert_int_eq(t_setint(s, SOL_SOCKET, flags[i], 0), 0);
		ck_assert_int_eq(t_getint(s, SOL_SOCKET, flags[i]), 0);
	}
	ck_assert_int_eq(t_setint(s, SOL_SOCKET, SO_PRIORITY, 6), 0);
	ck_assert_int_eq(t_getint(s, SOL_SOCKET, SO_PRIORITY), 6);
	ck_assert_int_eq(t_setint(s, SOL_SOCKET, SO_MARK, 0x1234), 0);
	ck_assert_int_eq(t_getint(s, SOL_SOCKET, SO_MARK), 0x1234);
	ck_assert_int_eq(t_getint(s, SOL_SOCKET, SO_RCVLOWAT), 1);
	ck_assert_int_eq(t_setint(s, SOL_SOCKET, SO_RCVLOWAT, 0), 0);
	ck_assert_int_eq(t_getint(s, SOL_SOCKET, SO_RCVLOWAT), 1);
	ck_assert_int_eq(t_setint(s, SOL_SOCKET, SO_RCVLOWAT, 100), 0);
	ck_assert_int_eq(t_getint(s, SOL_SOCKET, SO_RCVLOWAT), 100);
	ck_assert_int_eq(t_getint(s, SOL_SOCKET, SO_SNDLOWAT), 1);
	ck_assert_int_eq(t_getint(s, SOL_SOCKET, SO_ACCEPTCONN), 0);
	ck_assert_int_eq(t_getint(s, SOL_SOCKET, SO_ERROR), 0);
	nstack_close(s);
}
END_TEST

START_TEST(test_sockopt_linger_and_timeouts)
{
	struct socket *s = t_sock(SOCK_DGRAM, 0);
	struct linger l = {1, 7}, lo;
	struct timeval tv = {2, 500000}, to;
	socklen_t len = sizeof(lo);

	ck_assert_int_eq(nstack_setsockopt(s, SOL_SOCKET, SO_LINGER, &l, sizeof(l)), 0);
	ck_assert_int_eq(nstack_getsockopt(s, SOL_SOCKET, SO_LINGER, &lo, &len), 0);
	ck_assert_uint_eq(len, sizeof(lo));
	ck_assert_int_eq(lo.l_onoff, 1);
	ck_assert_int_eq(lo.l_linger, 7);

	ck_assert_int_eq(nstack_setsockopt(s, SOL_SOCKET, SO_RCVTIMEO_OLD, &tv, sizeof(tv)), 0);
	ck_assert_int_eq(s->sk->sk_rcvtimeo, 2500000);
	len = sizeof(to);
	ck_assert_int_eq(nstack_getsockopt(s, SOL_SOCKET, SO_RCVTIMEO_NEW, &to, &len), 0);
	ck_assert_int_eq(to.tv_sec, 2);
	ck_assert_int_eq(to.tv_usec, 500000);
	ck_assert_int_eq(nstack_setsockopt(s, SOL_SOCKET, SO_SNDTIMEO_NEW, &tv, sizeof(tv)), 0);
	ck_assert_int_eq(s->sk->sk_sndtimeo, 2500000);
	/* {0,0} is forever again. */
	tv.tv_sec = 0;
	tv.tv_usec = 0;
	ck_assert_int_eq(nstack_setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)), 0);
	ck_assert(s->sk->sk_sndtimeo == SK_TIMEO_INFINITE);
	tv.tv_usec = 1000000;
	ck_assert_int_eq(nstack_setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), -EDOM);
	ck_assert_int_eq(nstack_setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(int)), -EINVAL);
	/* A negative time means "do not block". */
	tv.tv_sec = -1;
	tv.tv_usec = 0;
	ck_assert_int_eq(nstack_setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	ck_assert_int_eq(s->sk->sk_rcvtimeo, 0);
	nstack_close(s);
}
END_TEST

START_TEST(test_sockopt_bindtodevice_our_ifname_only)
{
	struct socket *s = t_sock(SOCK_DGRAM, 0);
	const char *ifname = nstack_config(T.ns)->ifname;
	char name[IF_NAMESIZE];
	socklen_t len = sizeof(name);

	ck_assert_int_eq(nstack_getsockopt(s, SOL_SOCKET, SO_BINDTODEVICE, name, &len), 0);
	ck_assert_uint_eq(len, 0);
	ck_assert_int_eq(nstack_setsockopt(s, SOL_SOCKET, SO_BINDTODEVICE, "nosuch0", 8), -ENODEV);
	ck_assert_int_eq(
	    nstack_setsockopt(s, SOL_SOCKET, SO_BINDTODEVICE, ifname, (socklen_t)strlen(ifname)),
	    0);
	ck_assert_int_ne(s->sk->sk_bound_dev_if, 0);
	len = sizeof(name);
	ck_assert_int_eq(nstack_getsockopt(s, SOL_SOCKET, SO_BINDTODEVICE, name, &len), 0);
	ck_assert_str_eq(name, ns_dev(T.ns)->name[0] ? ns_dev(T.ns)->name : ifname);
	len = 4;
	ck_assert_int_eq(nstack_getsockopt(s, SOL_SOCKET, SO_BINDTODEVICE, name, &len), -EINVAL);
	ck_assert_int_eq(nstack_setsockopt(s, SOL_SOCKET, SO_BINDTODEVICE, "", 0), 0);
	ck_assert_int_eq(s->sk->sk_bound_dev_if, 0);
	nstack_close(s);
}
END_TEST

START_TEST(test_dgram_unsupported_ops_eopnotsupp)
{
	struct socket *s = t_sock(SOCK_DGRAM, 0), *n = (struct socket *)1;
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	ck_assert_int_eq(nstack_listen(s, 5), -EOPNOTSUPP);
	ck_assert_int_eq(nstack_accept(s, &n, NULL, NULL, 0), -EOPNOTSUPP);
	ck_assert_ptr_null(n);
	ck_assert_int_eq(T.ns->socket_live, 1);
	ck_assert_int_eq(nstack_getpeername(s, (struct sockaddr *)&sin, &len), -ENOTCONN);
	ck_assert_int_eq(nstack_getsockname(s, (struct sockaddr *)&sin, &len), 0);
	ck_assert_uint_eq(len, sizeof(sin));
	ck_assert_int_eq(sin.sin_family, AF_INET);
	ck_assert_int_eq(sin.sin_port, 0);
	ck_assert_int_eq(sin.sin_addr.s_addr, 0);
	ck_assert_int_eq(nstack_ioctl(s, 0x1234abcd, &len), -ENOTTY);
	nstack_close(s);
}
END_TEST

START_TEST(test_unconnected_shutdown_enotconn_but_hangs_up)
{
	struct socket *s = t_sock(SOCK_DGRAM, 0);
	char buf[4];
	struct iovec iov = {buf, sizeof(buf)};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};

	ck_assert_int_eq(nstack_shutdown(s, 3), -EINVAL);
	ck_assert_int_eq(nstack_shutdown(s, -1), -EINVAL);
	ck_assert_uint_eq(nstack_poll(s) & (POLLIN | POLLHUP), 0);
	ck_assert_int_eq(nstack_shutdown(s, SHUT_RDWR), -ENOTCONN);
	ck_assert_uint_eq(nstack_poll(s) & (POLLIN | POLLHUP | POLLRDHUP),
			  POLLIN | POLLHUP | POLLRDHUP);
	/* Reading after SHUT_RD is end of file, not a wait. */
	ck_assert_int_eq(nstack_recvmsg(s, &m, 0), 0);
	nstack_close(s);
}
END_TEST

START_TEST(test_getsockname_truncates_and_reports_full_length)
{
	struct socket *s = t_sock(SOCK_DGRAM, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(4242)};
	unsigned char small[4];
	socklen_t len = sizeof(small);

	ck_assert_int_eq(nstack_bind(s, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(nstack_getsockname(s, (struct sockaddr *)small, &len), 0);
	ck_assert_uint_eq(len, sizeof(sin));
	ck_assert_int_eq(small[0] | small[1] << 8, AF_INET);
	ck_assert_int_eq(small[2] << 8 | small[3], 4242);
	nstack_close(s);
}
END_TEST

START_TEST(test_open_sockets_at_destroy_are_freed)
{
	struct socket *u = t_sock(SOCK_DGRAM, 0), *p = t_sock(SOCK_DGRAM, IPPROTO_ICMP);
	struct socket *r = t_sock(SOCK_RAW, IPPROTO_ICMP), *c = t_sock(SOCK_DGRAM, 0);
	struct sockaddr_in to = {
	    .sin_family = AF_INET, .sin_port = htons(7), .sin_addr.s_addr = T_PEER_IP};
	struct iovec iov = {"x", 1};
	struct msghdr m = {
	    .msg_name = &to, .msg_namelen = sizeof(to), .msg_iov = &iov, .msg_iovlen = 1};

	/* Corked data holds send-buffer references when the stack goes away. */
	ck_assert_int_eq(nstack_sendmsg(c, &m, MSG_MORE), 1);
	ck_assert_int_eq(nstack_live_socks(T.ns), 4);
	/* Sockets, socks and buffers all live in the arena, which goes as a whole. */
	nstack_destroy(T.ns);
	T.ns = NULL;
	(void)u;
	(void)p;
	(void)r;
	wire_destroy(T.wire);
	T.wire = NULL;
}
END_TEST

static Suite *socket_suite(void)
{
	Suite *s = suite_create("socket");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, t_setup, teardown);
	tcase_add_test(tc, test_no_family_socket_eafnosupport);
	tcase_add_test(tc, test_inet_bad_type_errnos_as_linux);
	tcase_add_test(tc, test_inet_bad_protocol_errnos_as_linux);
	tcase_add_test(tc, test_inet_protocol_zero_picks_first_entry);
	tcase_add_test(tc, test_inet_exact_and_wildcard_matches);
	tcase_add_test(tc, test_protosw_register_order_and_permanence);
	tcase_add_test(tc, test_protosw_stream_type_registered_later_is_found);
	tcase_add_test(tc, test_inet_protos_add_twice_eexist);
	tcase_add_test(tc, test_family_unregistered_then_back);
	tcase_add_test(tc, test_socket_flags_nonblock_and_live_counts);
	tcase_add_test(tc, test_sockopt_buffers_doubled_and_clamped);
	tcase_add_test(tc, test_sockopt_errors_as_linux);
	tcase_add_test(tc, test_sockopt_flags_roundtrip);
	tcase_add_test(tc, test_sockopt_linger_and_timeouts);
	tcase_add_test(tc, test_sockopt_bindtodevice_our_ifname_only);
	tcase_add_test(tc, test_dgram_unsupported_ops_eopnotsupp);
	tcase_add_test(tc, test_unconnected_shutdown_enotconn_but_hangs_up);
	tcase_add_test(tc, test_getsockname_truncates_and_reports_full_length);
	tcase_add_test(tc, test_open_sockets_at_destroy_are_freed);
	suite_add_tcase(s, tc);
	return s;
}

NSTACK_SUITE(socket_suite)
