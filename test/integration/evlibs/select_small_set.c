/* select(2) on a caller-sized fd_set smaller than sizeof(fd_set), as
 * libevent's select backend (and others that allocate their sets for the
 * highest fd only) passes it: Linux reads and writes only the longs that
 * cover nfds; nothing after them may change.
 *
 *   select_small_set HOST PORT   connects (TCP) to HOST:PORT, waits for the
 *                                socket to become writable with select() on
 *                                a set of exactly the size that covers the fd,
 *                                followed by a guard area; prints "ok" when
 *                                select reported the fd and the guard area is
 *                                intact, "overrun N" (N bytes changed) if not.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
	inet_pton(AF_INET, argv[1], &sin.sin_addr);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof sin) < 0) {
		perror("connect");
		return 1;
	}
	/* The longs that cover fds 0..fd, then a guard area of 0xa5 bytes. */
	size_t need = (fd / __NFDBITS + 1) * sizeof(__fd_mask);
	unsigned char *buf = malloc(sizeof(fd_set) + 64);
	memset(buf, 0xa5, sizeof(fd_set) + 64);
	memset(buf, 0, need);
	((__fd_mask *)buf)[fd / __NFDBITS] |= (__fd_mask)1 << (fd % __NFDBITS);
	struct timeval tv = {5, 0};
	int rc = select(fd + 1, NULL, (fd_set *)buf, NULL, &tv);
	int isset = (((__fd_mask *)buf)[fd / __NFDBITS] >> (fd % __NFDBITS)) & 1;
	size_t changed = 0;
	for (size_t i = need; i < sizeof(fd_set) + 64; i++)
		changed += buf[i] != 0xa5;
	printf("fd %d, set of %zu bytes: select returned %d, fd %s\n", fd, need, rc,
	       isset ? "set" : "not set");
	if (changed) {
		printf("overrun %zu\n", changed);
		return 1;
	}
	if (rc != 1 || !isset)
		return 1;
	printf("ok\n");
	return 0;
}
