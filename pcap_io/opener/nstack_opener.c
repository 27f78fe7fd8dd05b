/*
 * nstack-opener: opens nstack's packet socket for a program without
 * CAP_NET_RAW (see ../opener.h for the exchange, policy.h for the file).
 *
 * It runs with cap_net_raw as a file capability (make install sets it) or
 * as root, started by libnstack.so with the caller's real ids. Everything
 * it is told comes from an untrusted program: the request is checked field
 * by field, the caller is who the kernel says ran us (the real uid, which
 * must also be the socket peer's), and the policy path is compiled in.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <pcap/pcap.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <linux/filter.h>
#include <linux/if_packet.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "opener.h"
#include "pcap_filter.h"
#include "policy.h"

#ifndef OPENER_CONF
#define OPENER_CONF "/etc/nstack/opener.conf"
#endif
#define POLICY_MAX_BYTES (64 * 1024)

static struct opener_reply reply = {.magic = OPENER_MAGIC};

/* Fills the refusal sent back; the library prints msg once on stderr. */
static int refuse(int err, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(reply.msg, sizeof(reply.msg), "nstack-opener: ");
	va_start(ap, fmt);
	vsnprintf(reply.msg + n, sizeof(reply.msg) - (size_t)n, fmt, ap);
	va_end(ap);
	reply.err = err;
	return -err;
}

/* Reads the policy file, which only root may be able to change. */
static int read_policy(char *buf, size_t len)
{
	struct stat st;
	ssize_t n;
	int fd;

	fd = open(OPENER_CONF, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return refuse(EPERM, "no policy file %s (%s): only root may use it", OPENER_CONF,
			      strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != 0 ||
	    (st.st_mode & (S_IWGRP | S_IWOTH)) || (size_t)st.st_size >= len) {
		close(fd);
		return refuse(EPERM,
			      "ignoring %s: it must be a regular file owned by root, writable by "
			      "root only, under %zu bytes",
			      OPENER_CONF, len);
	}
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return refuse(EIO, "cannot read %s: %s", OPENER_CONF, strerror(errno));
	buf[n] = '\0';
	if (strlen(buf) != (size_t)n)
		return refuse(EINVAL, "%s holds a NUL byte", OPENER_CONF);
	return 0;
}

/* The caller's uid, user name and groups, from our own real ids. */
static void who_am_i(struct policy_who *w)
{
	static char names[1 + POLICY_MAX_GROUPS][64];
	gid_t gids[POLICY_MAX_GROUPS];
	struct passwd *pw;
	int n;

	memset(w, 0, sizeof(*w));
	w->uid = getuid();
	if ((pw = getpwuid(w->uid)) && strlen(pw->pw_name) < sizeof(names[0]))
		w->user = strcpy(names[0], pw->pw_name);
	w->gids[w->ngroups++] = getgid();
	n = getgroups(POLICY_MAX_GROUPS, gids);
	for (int i = 0; i < n && w->ngroups < POLICY_MAX_GROUPS; i++)
		if (gids[i] != w->gids[0])
			w->gids[w->ngroups++] = gids[i];
	for (int i = 0; i < w->ngroups; i++) {
		struct group *gr = getgrgid(w->gids[i]);

		if (gr && strlen(gr->gr_name) < sizeof(names[0]))
			w->groups[i] = strcpy(names[1 + i], gr->gr_name);
	}
}

static int check_policy(const struct opener_req *req)
{
	static char text[POLICY_MAX_BYTES];
	struct policy_who who;
	char a[INET_ADDRSTRLEN + INET6_ADDRSTRLEN + 8];
	unsigned int line = 0;
	int rc;

	who_am_i(&who);
	if (who.uid == 0)
		return 0;
	rc = read_policy(text, sizeof(text));
	if (rc)
		return rc;
	inet_ntop(AF_INET, &req->addr, a, sizeof(a));
	if (req->ipv6) {
		/* Without a static address, the link-local one stands for IPv6. */
		static const uint8_t ll[16] = {0xfe, 0x80};
		const uint8_t *a6 = req->has_addr6 ? req->addr6 : ll;
		size_t n = strlen(a);

		snprintf(a + n, sizeof(a) - n, " and ");
		n = strlen(a);
		inet_ntop(AF_INET6, a6, a + n, (socklen_t)(sizeof(a) - n));
		rc = policy_check(text, &who, req->ifname, req->addr, a6, &line);
	} else {
		rc = policy_check(text, &who, req->ifname, req->addr, NULL, &line);
	}
	if (rc == -EINVAL)
		return refuse(EPERM, "%s:%u: malformed line (WHO INTERFACE PREFIX[,PREFIX...])",
			      OPENER_CONF, line);
	if (rc)
		return refuse(
		    EPERM, "user %s (uid %u) may not use %s on %s (no line of %s allows it)",
		    who.user ? who.user : "?", (unsigned int)who.uid, a, req->ifname, OPENER_CONF);
	return 0;
}

static int check_request(const struct opener_req *req)
{
	char path[64], type[16] = "";
	FILE *f;

	if (req->magic != OPENER_MAGIC || req->version != OPENER_VERSION)
		return refuse(EPROTO, "request from a different nstack version");
	if (!memchr(req->ifname, '\0', sizeof(req->ifname)) || !req->ifname[0] ||
	    strchr(req->ifname, '/') || req->ifname[0] == '.' || req->prefixlen > 32 ||
	    req->ipv6 > 1 || req->has_addr6 > 1 || (req->has_addr6 && !req->ipv6))
		return refuse(EINVAL, "malformed request");
	if (!if_nametoindex(req->ifname))
		return refuse(ENODEV, "no such interface '%s'", req->ifname);
	snprintf(path, sizeof(path), "/sys/class/net/%s/type", req->ifname);
	if ((f = fopen(path, "re"))) {
		if (!fgets(type, sizeof(type), f))
			type[0] = '\0';
		fclose(f);
	}
	if (atoi(type) != 1 /* ARPHRD_ETHER */)
		return refuse(EINVAL, "'%s' is not an Ethernet interface", req->ifname);
	return 0;
}

/* The packet socket with nstack's filter locked on; the fd or -errno. */
static int open_locked(const struct opener_req *req)
{
	char text[1024], self[256];
	struct bpf_program prog;
	struct sock_fprog fp;
	pcap_t *dead;
	ssize_t n;
	int fd, one = 1;

	/* Protocol 0: nothing is queued before the filter is on (libpcap binds later). */
	fd = socket(AF_PACKET, SOCK_RAW, 0);
	if (fd < 0) {
		int e = errno;

		n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		self[n > 0 ? n : 0] = '\0';
		if (e == EPERM || e == EACCES)
			return refuse(EPERM,
				      "%s has no CAP_NET_RAW: setcap cap_net_raw+ep %s (or make "
				      "install as root)",
				      self, self);
		return refuse(e, "socket(AF_PACKET): %s", strerror(e));
	}
	if (pcap_filter_text(text, sizeof(text), req->addr, req->prefixlen, req->mac, req->ipv6,
			     req->has_addr6 ? (const struct in6_addr *)req->addr6 : NULL,
			     req->tx_only))
		goto fail_einval;
	dead = pcap_open_dead(DLT_EN10MB, 262144);
	if (!dead || pcap_compile(dead, &prog, text, 1, PCAP_NETMASK_UNKNOWN) < 0) {
		if (dead)
			pcap_close(dead);
		goto fail_einval;
	}
	fp.len = (unsigned short)prog.bf_len;
	fp.filter = (struct sock_filter *)prog.bf_insns;
	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &fp, sizeof(fp)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_LOCK_FILTER, &one, sizeof(one)) < 0) {
		int e = errno;

		pcap_freecode(&prog);
		pcap_close(dead);
		close(fd);
		return refuse(e, "cannot lock the filter: %s", strerror(e));
	}
	pcap_freecode(&prog);
	pcap_close(dead);
	return fd;
fail_einval:
	close(fd);
	return refuse(EINVAL, "cannot build the filter for this request");
}

static void send_reply(int sock, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = {.iov_base = &reply, .iov_len = sizeof(reply)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};

	if (fd >= 0) {
		struct cmsghdr *c;

		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof(u.buf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	(void)sendmsg(sock, &mh, MSG_NOSIGNAL);
}

int main(int argc, char **argv)
{
	struct opener_req req;
	struct ucred cred;
	socklen_t len = sizeof(int);
	int domain = 0, type = 0, fd = -1;
	ssize_t n;

	(void)argv;
	if (argc > 1 || getsockopt(OPENER_FD, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0 ||
	    domain != AF_UNIX || getsockopt(OPENER_FD, SOL_SOCKET, SO_TYPE, &type, &len) < 0 ||
	    type != SOCK_SEQPACKET) {
		fprintf(stderr, "nstack-opener: started by libnstack.so (see nstack(7), "
				"\"Running without privileges\"), not by hand\n");
		return 2;
	}
	len = sizeof(cred);
	n = recv(OPENER_FD, &req, sizeof(req), 0);
	if (getsockopt(OPENER_FD, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != getuid())
		refuse(EPERM, "the socket's peer is not the user who ran the opener");
	else if (n != (ssize_t)sizeof(req))
		refuse(EPROTO, "malformed request");
	else if (!check_request(&req) && !check_policy(&req))
		fd = open_locked(&req);
	send_reply(OPENER_FD, fd);
	return fd >= 0 ? 0 : 1;
}
