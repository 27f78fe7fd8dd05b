/*
 * nstack(1): runs a program with libnstack.so preloaded and the NSTACK_*
 * variables set from the options.
 *
 *   nstack [-i IFACE] [-a ADDR/LEN] [-g GW] [-m MAC] [-w FILE.pcap] [-v] -- PROGRAM ARGS...
 *   nstack stat [-p] [-s] [-c]
 *   nstack -h | --help | --version
 *
 * The library is looked for next to this executable (the build tree), then
 * in $NSTACK_LIBDIR, then in the compiled-in NSTACK_LIBDIR ($(PREFIX)/lib).
 */
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#ifndef NSTACK_LIBDIR
#define NSTACK_LIBDIR "/usr/local/lib"
#endif

/* The build may pass -DNSTACK_VERSION='"…"'; otherwise this one. */
#ifndef NSTACK_VERSION
#define NSTACK_VERSION "0.1"
#endif

#define LIBNAME "libnstack.so"

static void usage(FILE *out)
{
	fprintf(out, "usage: nstack [-i IFACE] [-a ADDR/LEN] [-g GW] [-m MAC] [-w FILE.pcap] [-v] "
		     "[--] PROGRAM [ARGS...]\n"
		     "       nstack stat [-p] [-s] [-c]\n"
		     "Runs PROGRAM with its IPv4 sockets on nstack's private TCP/IP stack.\n"
		     "nstack stat lists the running stacks: their processes (-p), sockets (-s)\n"
		     "and counters (-c); a program named stat runs with nstack -- stat.\n"
		     "  -i IFACE      interface to use (NSTACK_IFACE, default nstack0)\n"
		     "  -a ADDR/LEN   nstack's address (NSTACK_ADDR, default 198.18.0.2/24)\n"
		     "  -g GW         default gateway, or none (NSTACK_GW, default 198.18.0.1)\n"
		     "  -m MAC        source MAC (NSTACK_MAC, default the interface's)\n"
		     "  -w FILE.pcap  write every frame to FILE.pcap (NSTACK_PCAP)\n"
		     "  -v            more log output; twice for debug (NSTACK_LOG)\n"
		     "  -h, --help    this help\n"
		     "  --version     print nstack's version and exit\n"
		     "See nstack(1) and nstack(7).\n");
}

static int readable(const char *path)
{
	return access(path, R_OK) == 0;
}

/*
 * The length of LD_PRELOAD's first entry when that is a sanitizer runtime
 * (libasan, clang's asan/ubsan/tsan runtimes), else 0: such a runtime must
 * load before any other library, so libnstack goes after it.
 */
static size_t sanitizer_prefix(const char *list)
{
	size_t n = strcspn(list, ": ");
	const char *base = list;

	for (size_t i = 0; i < n; i++)
		if (list[i] == '/')
			base = list + i + 1;
	if (!strncmp(base, "libasan", 7) || !strncmp(base, "libtsan", 7) ||
	    !strncmp(base, "libubsan", 8) || !strncmp(base, "libclang_rt.", 12))
		return n;
	return 0;
}

/* Finds libnstack.so: beside us, $NSTACK_LIBDIR, the install prefix. */
static int find_library(char *out, size_t len)
{
	char self[PATH_MAX];
	const char *dir;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n > 0) {
		char *slash;

		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			if (snprintf(out, len, "%s/%s", self, LIBNAME) < (int)len && readable(out))
				return 0;
		}
	}
	dir = getenv("NSTACK_LIBDIR");
	if (dir && dir[0] && snprintf(out, len, "%s/%s", dir, LIBNAME) < (int)len && readable(out))
		return 0;
	if (snprintf(out, len, "%s/%s", NSTACK_LIBDIR, LIBNAME) < (int)len && readable(out))
		return 0;
	return -1;
}

/* Finds prog as execvp() would; 0 with its path, or -1. */
static int resolve(const char *prog, char *out, size_t len)
{
	const char *path = getenv("PATH");

	if (strchr(prog, '/'))
		return snprintf(out, len, "%s", prog) < (int)len ? 0 : -1;
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");

		if (snprintf(out, len, "%.*s/%s", (int)n, n ? path : ".", prog) < (int)len &&
		    access(out, X_OK) == 0)
			return 0;
		path += n;
		if (*path == ':')
			path++;
	}
	return -1;
}

/*
 * Warns when the dynamic loader will not preload the library into prog, so
 * the program would silently use the kernel's stack: a static binary (also Go
 * without cgo), a program of the other ELF class, a set-user-ID or
 * file-capability program run by someone it elevates (secure-execution mode).
 */
static void warn_unpreloadable(const char *prog)
{
	char path[PATH_MAX];
	unsigned char buf[4096];
	struct stat st;
	ssize_t n;
	int fd;
	bool interp = false;

	if (resolve(prog, path, sizeof(path)) || stat(path, &st) != 0)
		return;
	if (((st.st_mode & S_ISUID) && st.st_uid != geteuid()) ||
	    ((st.st_mode & S_ISGID) && st.st_gid != getegid()))
		fprintf(stderr,
			"nstack: warning: %s is set-user/group-ID: the loader ignores LD_PRELOAD, "
			"it will use the kernel's stack\n",
			path);
	else if (geteuid() != 0 && getxattr(path, "security.capability", buf, sizeof(buf)) > 0)
		fprintf(stderr,
			"nstack: warning: %s has file capabilities: the loader ignores LD_PRELOAD "
			"unless run as root\n",
			path);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n < (ssize_t)sizeof(Elf64_Ehdr) || memcmp(buf, ELFMAG, SELFMAG) != 0)
		return; /* a script: its interpreter gets the library */
	if (buf[EI_CLASS] != ELFCLASS64) {
		fprintf(stderr,
			"nstack: warning: %s is not a 64-bit program: it cannot load "
			"libnstack.so\n",
			path);
		return;
	}
	{
		const Elf64_Ehdr *eh = (const Elf64_Ehdr *)buf;

		for (unsigned int i = 0; i < eh->e_phnum; i++) {
			size_t off = eh->e_phoff + (size_t)i * eh->e_phentsize;
			const Elf64_Phdr *ph;

			if (eh->e_phentsize < sizeof(Elf64_Phdr) || off + sizeof(*ph) > (size_t)n)
				return; /* headers beyond what we read: do not guess */
			ph = (const Elf64_Phdr *)(buf + off);
			if (ph->p_type == PT_INTERP)
				interp = true;
		}
	}
	if (!interp)
		fprintf(stderr,
			"nstack: warning: %s is statically linked: LD_PRELOAD cannot reach its "
			"sockets, it will use the kernel's stack\n",
			path);
}

/*
 * nstack stat: the library knows the stacks' layout, so the dump is there
 * (stat.c); loaded here, not preloaded, so nothing in this process is
 * interposed, and no stack is started or joined.
 */
static int run_stat(int argc, char **argv)
{
	char lib[PATH_MAX];
	int (*stat_main)(int, char **);
	void *h;

	if (find_library(lib, sizeof(lib))) {
		fprintf(stderr,
			"nstack: cannot find %s beside the nstack command, in $NSTACK_LIBDIR or in "
			"%s\n",
			LIBNAME, NSTACK_LIBDIR);
		return 1;
	}
	unsetenv("NSTACK_EXEC"); /* the library's constructor must not attach to a stack */
	h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		fprintf(stderr, "nstack: cannot load %s: %s\n", lib, dlerror());
		return 1;
	}
	*(void **)&stat_main = dlsym(h, "nstack_stat_main");
	if (!stat_main) {
		fprintf(stderr, "nstack: %s has no nstack_stat_main (an older build?)\n", lib);
		return 1;
	}
	return stat_main(argc, argv);
}

static void set(const char *name, const char *value)
{
	if (setenv(name, value, 1) != 0) {
		perror("nstack: setenv");
		exit(1);
	}
}

int main(int argc, char **argv)
{
	static const char *const levels[] = {"warn", "info", "debug"};
	char lib[PATH_MAX];
	const char *old;
	char *preload;
	/* Long options as GNU programs take them; getopt_long also accepts
	 * unambiguous prefixes (--he, --vers). */
	enum { OPT_VERSION = 256 };
	static const struct option longopts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, OPT_VERSION},
	    {NULL, 0, NULL, 0},
	};
	int verbose = 0;
	int c;

	if (argc > 1 && strcmp(argv[1], "stat") == 0)
		return run_stat(argc - 1, argv + 1);
	/* '+': stop at the first non-option, so the program's own options pass. */
	while ((c = getopt_long(argc, argv, "+i:a:g:m:w:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'i':
			set("NSTACK_IFACE", optarg);
			break;
		case 'a':
			set("NSTACK_ADDR", optarg);
			break;
		case 'g':
			set("NSTACK_GW", optarg);
			break;
		case 'm':
			set("NSTACK_MAC", optarg);
			break;
		case 'w':
			set("NSTACK_PCAP", optarg);
			break;
		case 'v':
			verbose++;
			break;
		case 'h':
			usage(stdout);
			return fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1;
		case OPT_VERSION:
			printf("nstack %s\n", NSTACK_VERSION);
			return fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "nstack: no program given\n");
		usage(stderr);
		return 2;
	}
	if (verbose)
		set("NSTACK_LOG", levels[verbose > 2 ? 2 : verbose]);
	if (find_library(lib, sizeof(lib))) {
		fprintf(stderr,
			"nstack: cannot find %s beside the nstack command, in $NSTACK_LIBDIR or in "
			"%s\n",
			LIBNAME, NSTACK_LIBDIR);
		return 1;
	}
	old = getenv("LD_PRELOAD");
	if (old && old[0]) {
		size_t len = strlen(lib) + strlen(old) + 2;
		size_t san = sanitizer_prefix(old);

		preload = malloc(len);
		if (!preload) {
			perror("nstack");
			return 1;
		}
		if (san)
			/* A sanitizer runtime must stay first (an ASan build of libnstack). */
			snprintf(preload, len, "%.*s:%s%s", (int)san, old, lib, old + san);
		else
			snprintf(preload, len, "%s:%s", lib, old);
	} else {
		preload = lib;
	}
	set("LD_PRELOAD", preload);
	warn_unpreloadable(argv[optind]);
	execvp(argv[optind], &argv[optind]);
	fprintf(stderr, "nstack: cannot run %s: %s\n", argv[optind], strerror(errno));
	return errno == ENOENT ? 127 : 126;
}
