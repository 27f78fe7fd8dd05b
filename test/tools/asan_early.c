/*
 * Preloaded after the ASan runtime by asan_lab.sh: makes ASan initialise
 * before the first bindtextdomain() takes glibc's gettext lock.
 *
 * libpcap's dependencies (libdbus, libsystemd, libgcrypt) bring
 * libgpg-error, whose constructor calls bindtextdomain() before any
 * constructor of a preloaded library runs; its malloc() under the gettext
 * lock was the process's first, ASan initialised inside it and called
 * dlerror(), which takes that lock again, and every program that later
 * called textdomain() (bash, coreutils) hung at start (llvm-project #49223).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>

void *volatile asan_early_sink;

char *bindtextdomain(const char *domain, const char *dir)
{
	static char *(*real)(const char *, const char *);

	/* Any allocation initialises ASan; here no lock of glibc's is held. */
	asan_early_sink = malloc(1);
	free(asan_early_sink);
	if (!real)
		real = (char *(*)(const char *, const char *))dlsym(RTLD_NEXT, "bindtextdomain");
	return real ? real(domain, dir) : NULL;
}
