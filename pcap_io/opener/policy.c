/*
 * nstack-opener's policy file (see policy.h).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include "policy.h"

#define POLICY_FIELD_MAX 256

/* Digits only, fitting 32 bits. */
static bool parse_id(const char *s, unsigned long *id)
{
	char *end;

	if (!*s || strspn(s, "0123456789") != strlen(s))
		return false;
	errno = 0;
	*id = strtoul(s, &end, 10);
	return !errno && *id <= 0xffffffffu;
}

static bool who_matches(const char *f, const struct policy_who *w)
{
	unsigned long id;

	if (!strcmp(f, "*"))
		return true;
	if (f[0] == '@') {
		for (int i = 0; i < w->ngroups; i++) {
			if (parse_id(f + 1, &id) ? id == w->gids[i]
						 : w->groups[i] && !strcmp(f + 1, w->groups[i]))
				return true;
		}
		return false;
	}
	if (parse_id(f, &id))
		return id == w->uid;
	return w->user && !strcmp(f, w->user);
}

/* One prefix, IPv4 or IPv6 ("a.b.c.d/len", "x::/len"). */
struct prefix {
	int family;
	uint8_t net[16];
	unsigned int len;
};

/* false if malformed, or if host bits are set (probably not what was meant). */
static bool parse_prefix(const char *s, struct prefix *p)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash, *end;
	unsigned long len;

	if (strlen(s) >= sizeof(buf))
		return false;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (!slash)
		return false;
	*slash = '\0';
	errno = 0;
	len = strtoul(slash + 1, &end, 10);
	if (errno || end == slash + 1 || *end)
		return false;
	memset(p, 0, sizeof(*p));
	if (inet_pton(AF_INET, buf, p->net) == 1 && len <= 32)
		p->family = AF_INET;
	else if (inet_pton(AF_INET6, buf, p->net) == 1 && len <= 128)
		p->family = AF_INET6;
	else
		return false;
	p->len = (unsigned int)len;
	for (unsigned int bit = p->len; bit < (p->family == AF_INET ? 32u : 128u); bit++)
		if (p->net[bit / 8] & (0x80 >> (bit % 8)))
			return false;
	return true;
}

static bool prefix_has(const struct prefix *p, int family, const uint8_t *a)
{
	if (p->family != family)
		return false;
	for (unsigned int bit = 0; bit < p->len; bit++)
		if ((a[bit / 8] ^ p->net[bit / 8]) & (0x80 >> (bit % 8)))
			return false;
	return true;
}

/*
 * A comma-separated prefix list: -1 malformed, else bit 0 when the IPv4
 * address is in it, bit 1 when the IPv6 one is.
 */
static int addrs_match(char *list, uint32_t addr, const uint8_t *addr6)
{
	int hit = 0;

	for (char *save, *one = strtok_r(list, ",", &save); one; one = strtok_r(NULL, ",", &save)) {
		struct prefix p;

		if (!parse_prefix(one, &p))
			return -1;
		if (prefix_has(&p, AF_INET, (const uint8_t *)&addr))
			hit |= 1;
		if (addr6 && prefix_has(&p, AF_INET6, addr6))
			hit |= 2;
	}
	return hit;
}

int policy_check(const char *text, const struct policy_who *who, const char *ifname, uint32_t addr,
		 const uint8_t *addr6, unsigned int *bad_line)
{
	unsigned int lineno = 0;
	bool granted = false;
	const char *p = text;

	while (*p) {
		const char *eol = strchr(p, '\n');
		size_t n = eol ? (size_t)(eol - p) : strlen(p);
		char line[3 * POLICY_FIELD_MAX], *f[4], *save;
		int nf = 0, hit;

		lineno++;
		if (n >= sizeof(line))
			goto bad;
		memcpy(line, p, n);
		line[n] = '\0';
		p += n + (eol ? 1 : 0);
		line[strcspn(line, "#")] = '\0';
		for (char *t = strtok_r(line, " \t\r", &save); t;
		     t = strtok_r(NULL, " \t\r", &save)) {
			if (nf == 4)
				goto bad;
			f[nf++] = t;
		}
		if (nf == 0)
			continue;
		if (nf != 3 || (f[0][0] == '@' && !f[0][1]))
			goto bad;
		/* Every line is parsed, matching or not: a broken file grants nothing. */
		hit = addrs_match(f[2], addr, addr6);
		if (hit < 0)
			goto bad;
		if ((hit & 1) && (!addr6 || (hit & 2)) && who_matches(f[0], who) &&
		    (!strcmp(f[1], "*") || !strcmp(f[1], ifname)))
			granted = true;
	}
	return granted ? 0 : -EPERM;
bad:
	*bad_line = lineno;
	return -EINVAL;
}
