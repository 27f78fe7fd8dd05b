/*
 * The library's side of nstack-opener (see opener.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "opener.h"

/* Long enough for a loaded machine; the opener does one socket and a filter. */
#define OPENER_TIMEOUT_MS 10000

/* Receives the reply and, with err 0, the descriptor; -errno. */
static int opener_recv(int sock, struct opener_reply *rep, int *fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = {.iov_base = rep, .iov_len = sizeof(*rep)};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = u.buf,
			    .msg_controllen = sizeof(u.buf)};
	struct pollfd pfd = {.fd = sock, .events = POLLIN};
	struct cmsghdr *c;
	ssize_t n;
	int rc;

	do
		rc = poll(&pfd, 1, OPENER_TIMEOUT_MS);
	while (rc < 0 && errno == EINTR);
	if (rc == 0)
		return -ETIMEDOUT;
	if (rc < 0)
		return -errno;
	do
		n = recvmsg(sock, &mh, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == ECONNRESET ? -EPROTO : -errno;
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
		    c->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(fd, CMSG_DATA(c), sizeof(int));
	}
	if (n != (ssize_t)sizeof(*rep) || rep->magic != OPENER_MAGIC ||
	    (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)))
		return -EPROTO;
	return 0;
}

int opener_open(const char *path, const struct opener_req *req, int *fd, char *err, size_t errlen)
{
	char *const argv[] = {(char *)path, NULL};
	char *const envp[] = {NULL};
	posix_spawn_file_actions_t fa;
	struct opener_reply rep;
	struct stat st;
	int sv[2], rc, status;
	pid_t pid;

	*fd = -1;
	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return -ENOENT;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		rc = -errno;
		snprintf(err, errlen, "nstack-opener: socketpair: %s", strerror(errno));
		return rc;
	}
	/*
	 * Only the socket goes to the privileged program: none of the caller's
	 * descriptors, and no environment (LD_PRELOAD, a config path) that
	 * could steer it.
	 */
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, sv[1], OPENER_FD);
	posix_spawn_file_actions_addclosefrom_np(&fa, OPENER_FD + 1);
	rc = posix_spawn(&pid, path, &fa, NULL, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	close(sv[1]);
	if (rc) {
		close(sv[0]);
		snprintf(err, errlen, "cannot run %s: %s", path, strerror(rc));
		return -rc;
	}
	if (send(sv[0], req, sizeof(*req), MSG_NOSIGNAL) != (ssize_t)sizeof(*req))
		/* Gone before reading: not an opener (or it crashed). */
		rc = errno == EPIPE || errno == ECONNRESET ? -EPROTO : -errno;
	else
		rc = opener_recv(sv[0], &rep, fd);
	if (rc == -EPROTO)
		snprintf(err, errlen, "%s exited without an answer (not nstack-opener?)", path);
	else if (rc == -ETIMEDOUT)
		snprintf(err, errlen, "%s did not answer within %d s", path,
			 OPENER_TIMEOUT_MS / 1000);
	else if (rc)
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
	close(sv[0]);
	if (rc == -ETIMEDOUT)
		kill(pid, SIGKILL);
	/* A program that ignores SIGCHLD has the opener reaped for it: ECHILD. */
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (rc == 0 && rep.err) {
		rep.msg[sizeof(rep.msg) - 1] = '\0';
		snprintf(err, errlen, "%s", rep.msg);
		rc = -rep.err;
	}
	if (rc && *fd >= 0) {
		close(*fd);
		*fd = -1;
	}
	if (rc == 0 && *fd < 0) {
		snprintf(err, errlen, "%s answered without a descriptor", path);
		rc = -EPROTO;
	}
	return rc;
}
