/*
 * epoll_wait() writes only the events it returns (Linux): a private
 * registration disarmed by EPOLLONESHOT that gets another event must leave
 * the program's array alone when the call returns 0. nstack's epoll used to
 * read the kernel's answer, private tags included, into the program's
 * array. Connects to ADDR:PORT, whose server sends "a", then "b" 0.3 s later.
 *
 *   ep_oneshot_probe ADDR PORT      exit 0 when the array is untouched
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT, .data.u64 = 7}, out[4];
	int s, ep, n;

	if (argc != 3 || inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1)
		return 2;
	sa.sin_port = htons((unsigned short)atoi(argv[2]));
	s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("connect");
		return 1;
	}
	ep = epoll_create1(0);
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev) < 0) {
		perror("epoll");
		return 1;
	}
	n = epoll_wait(ep, out, 4, 5000);
	if (n != 1 || out[0].data.u64 != 7) {
		fprintf(stderr, "first event: %d\n", n);
		return 1;
	}
	/* Disarmed now; "b" comes and must not show. */
	usleep(600000);
	memset(out, 0x5a, sizeof(out));
	n = epoll_wait(ep, out, 4, 0);
	for (size_t i = 0; i < sizeof(out); i++) {
		if (((unsigned char *)out)[i] != 0x5a) {
			fprintf(stderr, "epoll_wait returned %d and wrote the array (byte %zu)\n",
				n, i);
			return 1;
		}
	}
	printf("oneshot %d untouched\n", n);
	return n == 0 ? 0 : 1;
}
