/*
 * stdio on private sockets.
 *
 * glibc's stdio reads and writes a FILE through libc-internal calls that no
 * preload can interpose: printf to a stdout that is a private socket went
 * to the socket's placeholder eventfd (bash's `printf ... >&3` onto
 * /dev/tcp: "write error: Invalid argument"), and a program exec'd with a
 * private socket on stdin/stdout (socat EXEC:sed, inetd-style servers) read
 * and wrote nothing. So the streams on private fds are cookie streams
 * (fopencookie) whose I/O goes through the interposed read() and write():
 *
 *  - stdin/stdout/stderr: while fd 0, 1 or 2 is a private socket, the
 *    program's `stdin`/`stdout`/`stderr` point to such a stream (the
 *    original one is kept, flushed first, and put back, with the cookie
 *    stream flushed, when the fd stops being private: dup2 of another file
 *    over it, close);
 *  - fdopen() of a private fd returns one.
 *
 * The cookie stream carries the fd number (fileno() works) and the
 * original's buffering mode. Swapping a standard stream is not atomic with
 * respect to another thread using it at that moment, as with freopen().
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "preload.h"

struct nsp_cookie {
	int fd;
	bool detached; /* the fd is being taken away: fclose must not close it */
};

/* The three standard streams: the program's original and our stand-in. */
static struct {
	FILE *orig, *ours;
	struct nsp_cookie *k;
} std_swap[3];

static ssize_t ck_read(void *c, char *buf, size_t len)
{
	return read(((struct nsp_cookie *)c)->fd, buf, len);
}

static ssize_t ck_write(void *c, const char *buf, size_t len)
{
	ssize_t n = write(((struct nsp_cookie *)c)->fd, buf, len);

	/* A cookie write returning 0 would be retried forever by stdio. */
	return n == 0 && len > 0 ? -1 : n;
}

static int ck_close(void *c)
{
	struct nsp_cookie *k = c;
	int rc;

	/* The program's own fclose(stdout): the stream is gone, the swap with it. */
	for (int i = 0; i < 3; i++)
		if (std_swap[i].k == k)
			std_swap[i].ours = NULL, std_swap[i].k = NULL;
	rc = k->detached ? 0 : close(k->fd);

	free(k);
	return rc;
}

static FILE *cookie_stream(int fd, const char *mode, struct nsp_cookie **kp)
{
	static const cookie_io_functions_t io = {
	    .read = ck_read, .write = ck_write, .seek = NULL, .close = ck_close};
	struct nsp_cookie *k = calloc(1, sizeof(*k));
	FILE *fp;

	if (!k)
		return NULL;
	k->fd = fd;
	fp = fopencookie(k, mode, io);
	if (!fp) {
		free(k);
		return NULL;
	}
	/* glibc marks cookie streams with a negative fd; the number makes fileno() work. */
	fp->_fileno = fd;
	if (kp)
		*kp = k;
	return fp;
}

static FILE **std_var(int fd)
{
	return fd == 0 ? &stdin : fd == 1 ? &stdout : &stderr;
}

/* fd (0..2) has just become a private socket. */
void nsp_stdio_attach(int fd)
{
	FILE **var, *ours;
	int mode;

	if (fd < 0 || fd > 2 || std_swap[fd].ours)
		return;
	var = std_var(fd);
	if (!*var)
		return;
	if (fd)
		fflush(*var);
	/* Keep what the program chose (stderr unbuffered, a line-buffered stdout...). */
	mode = fd == 2 ? _IONBF : _IOFBF;
	if ((*var)->_flags & 0x0002 /* _IO_UNBUFFERED */)
		mode = _IONBF;
	else if ((*var)->_flags & 0x0200 /* _IO_LINE_BUF */)
		mode = _IOLBF;
	ours = cookie_stream(fd, fd == 0 ? "r" : "w", &std_swap[fd].k);
	if (!ours)
		return;
	setvbuf(ours, NULL, mode, BUFSIZ);
	std_swap[fd].orig = *var;
	std_swap[fd].ours = ours;
	*var = ours;
}

/* fd (0..2) is about to stop being a private socket: our stream is flushed and let go. */
void nsp_stdio_detach(int fd)
{
	FILE *ours;

	if (fd < 0 || fd > 2 || !(ours = std_swap[fd].ours) || nsp_inside)
		return;
	std_swap[fd].ours = NULL;
	/* The program may have pointed the variable elsewhere meanwhile; then it is its own. */
	if (*std_var(fd) == ours)
		*std_var(fd) = std_swap[fd].orig;
	fflush(ours);
	std_swap[fd].k->detached = true;
	std_swap[fd].k = NULL;
	fclose(ours);
}

NSP_EXPORT FILE *fdopen(int fd, const char *mode)
{
	static FILE *(*real)(int, const char *);

	if (!nsp_inside && fdt_maybe_private(fd)) {
		if (fcntl(fd, F_GETFD) < 0)
			return NULL;
		return cookie_stream(fd, mode, NULL);
	}
	if (!real)
		real = (FILE * (*)(int, const char *)) nsp_dlsym("fdopen");
	return real(fd, mode);
}

/*
 * Exit: our streams are flushed while their fds are still private (libc's
 * own flush comes after nstack closed them). A stream another thread holds
 * (this may run on the flush thread of a signal) is left alone.
 */
void nsp_stdio_flush(void)
{
	for (int fd = 0; fd <= 2; fd++) {
		FILE *ours = std_swap[fd].ours;

		if (ours && ftrylockfile(ours) == 0) {
			fflush_unlocked(ours);
			funlockfile(ours);
		}
	}
}
