/*
 * nstack-relay: an impairing Ethernet bridge between two interfaces, for the
 * lab (this kernel has no netem). Every frame read on one side is sent out
 * of the other after the configured impairments: loss, duplication, delay,
 * reordering (extra delay for a few frames so later ones overtake them) and
 * bit corruption. Seeded, bounded in time and queue length, and it reports
 * what it did on exit.
 *
 *   nstack-relay -a IF -b IF [-l loss] [-d dup] [-r reorder] [-D delay_ms]
 *                [-c corrupt] [-s seed] [-t max_seconds]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_FRAME	 65536
#define MAX_QUEUED	 65536
#define REORDER_EXTRA_US 3000

struct pending {
	uint64_t due;
	uint64_t seq; /* ties keep arrival order */
	int out;      /* socket index to send on */
	uint32_t len;
	unsigned char *data;
};

static struct pending heap[MAX_QUEUED];
static size_t nheap;
static uint64_t seqno;
static volatile sig_atomic_t stop;
static uint64_t rng = 0x243f6a8885a308d3ull;
static struct {
	uint64_t in, out, lost, dup, reordered, corrupted, overflow;
} st;

static double rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (double)((rng * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int before(const struct pending *a, const struct pending *b)
{
	return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

static void heap_push(struct pending p)
{
	size_t i = nheap++;

	heap[i] = p;
	while (i > 0 && before(&heap[i], &heap[(i - 1) / 2])) {
		struct pending t = heap[i];

		heap[i] = heap[(i - 1) / 2];
		heap[(i - 1) / 2] = t;
		i = (i - 1) / 2;
	}
}

static struct pending heap_pop(void)
{
	struct pending top = heap[0];
	size_t i = 0;

	heap[0] = heap[--nheap];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < nheap && before(&heap[l], &heap[m]))
			m = l;
		if (r < nheap && before(&heap[r], &heap[m]))
			m = r;
		if (m == i)
			break;
		struct pending t = heap[i];

		heap[i] = heap[m];
		heap[m] = t;
		i = m;
	}
	return top;
}

static int open_if(const char *name)
{
	struct sockaddr_ll sll = {0};
	int one = 1, buf = 8 << 20;
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK, htons(ETH_P_ALL));

	if (fd < 0) {
		perror("nstack-relay: socket(AF_PACKET)");
		exit(1);
	}
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = (int)if_nametoindex(name);
	if (sll.sll_ifindex == 0) {
		fprintf(stderr, "nstack-relay: no interface %s\n", name);
		exit(1);
	}
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		perror("nstack-relay: bind");
		exit(1);
	}
	/* Our own transmissions must not come back to us as input. */
	setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	return fd;
}

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void enqueue(int out, const unsigned char *frame, size_t len, uint64_t due)
{
	struct pending p;

	if (nheap == MAX_QUEUED) {
		st.overflow++;
		return;
	}
	p.data = malloc(len);
	if (!p.data) {
		st.overflow++;
		return;
	}
	memcpy(p.data, frame, len);
	p.len = (uint32_t)len;
	p.due = due;
	p.seq = seqno++;
	p.out = out;
	heap_push(p);
}

int main(int argc, char **argv)
{
	const char *ifa = NULL, *ifb = NULL;
	double loss = 0, dup = 0, reorder = 0, corrupt = 0;
	uint64_t delay_us = 0, deadline;
	int max_s = 600, opt, fds[2];
	static unsigned char frame[MAX_FRAME];

	while ((opt = getopt(argc, argv, "a:b:l:d:r:D:c:s:t:")) != -1) {
		switch (opt) {
		case 'a':
			ifa = optarg;
			break;
		case 'b':
			ifb = optarg;
			break;
		case 'l':
			loss = atof(optarg);
			break;
		case 'd':
			dup = atof(optarg);
			break;
		case 'r':
			reorder = atof(optarg);
			break;
		case 'D':
			delay_us = (uint64_t)(atof(optarg) * 1000);
			break;
		case 'c':
			corrupt = atof(optarg);
			break;
		case 's':
			rng = strtoull(optarg, NULL, 0) | 1;
			break;
		case 't':
			max_s = atoi(optarg);
			break;
		default:
			fprintf(stderr,
				"usage: nstack-relay -a IF -b IF [-l loss] [-d dup] "
				"[-r reorder] [-D delay_ms] [-c corrupt] [-s seed] [-t secs]\n");
			return 2;
		}
	}
	if (!ifa || !ifb) {
		fprintf(stderr, "nstack-relay: -a and -b are required\n");
		return 2;
	}
	fds[0] = open_if(ifa);
	fds[1] = open_if(ifb);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	deadline = now_us() + (uint64_t)max_s * 1000000u;
	while (!stop && now_us() < deadline) {
		struct pollfd pfd[2] = {{fds[0], POLLIN, 0}, {fds[1], POLLIN, 0}};
		uint64_t now = now_us();
		int timeout = 100;

		while (nheap && heap[0].due <= now) {
			struct pending p = heap_pop();

			if (send(fds[p.out], p.data, p.len, 0) >= 0)
				st.out++;
			free(p.data);
		}
		if (nheap) {
			uint64_t wait = heap[0].due - now;

			timeout = (int)(wait / 1000);
			if (timeout > 100)
				timeout = 100;
		}
		if (poll(pfd, 2, timeout) <= 0)
			continue;
		for (int i = 0; i < 2; i++) {
			if (!(pfd[i].revents & POLLIN))
				continue;
			/* Drain a bounded batch so one side cannot starve the other. */
			for (int n = 0; n < 256; n++) {
				ssize_t len = recv(fds[i], frame, sizeof(frame), 0);
				uint64_t due;

				if (len <= 0)
					break;
				st.in++;
				now = now_us();
				if (rnd() < loss) {
					st.lost++;
					continue;
				}
				if (corrupt > 0 && len > 14 && rnd() < corrupt) {
					size_t bit =
					    14 * 8 +
					    (size_t)(rnd() * (double)((size_t)(len - 14) * 8));

					frame[bit / 8] ^= (unsigned char)(1u << (bit % 8));
					st.corrupted++;
				}
				due = now + delay_us;
				if (reorder > 0 && rnd() < reorder) {
					due += REORDER_EXTRA_US;
					st.reordered++;
				}
				enqueue(!i, frame, (size_t)len, due);
				if (dup > 0 && rnd() < dup) {
					st.dup++;
					enqueue(!i, frame, (size_t)len, due + 1);
				}
			}
		}
	}
	fprintf(stderr,
		"nstack-relay: in %llu out %llu lost %llu dup %llu reordered %llu corrupted %llu "
		"overflow %llu\n",
		(unsigned long long)st.in, (unsigned long long)st.out, (unsigned long long)st.lost,
		(unsigned long long)st.dup, (unsigned long long)st.reordered,
		(unsigned long long)st.corrupted, (unsigned long long)st.overflow);
	return 0;
}
