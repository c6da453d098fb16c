/* bench_policy: policy decisions per second on one core, at 10, 1,000 and 100,000 patterns.
 *
 * Two figures per target kind: "decide" runs the decision steps (pc_policy_evaluate) on hosts
 * already normalised; "parse+decide" is what a front end does per request before any DNS:
 * normalise the authority text the client sent (pc_authority_parse), then decide.
 * allow_local_binding is on so that allowed names are decided completely without a lookup
 * (the dialer would resolve them); every other step runs as usual, denylist first.
 *
 * Pattern mix (allowlist; the denylist gets 1/10 as many of the same kinds):
 *   60% exact names, 20% suffix patterns (half "*.", half "**."), 5% in-label globs (about
 *   two under each domain), 10% CIDR blocks (half IPv4 /24, half IPv6 /64).
 * Targets: half hit an allowlist pattern, half miss (names under unrelated domains, addresses
 * outside every block), drawn from a fixed pseudo-random sequence. Two working sets: 64
 * destinations (what one agent session talks to: the tables it touches stay in cache) and
 * 4096 destinations scattered over all patterns (every lookup goes to memory, so this figure
 * is bounded by the cache, not by the number of patterns).
 *
 * Usage: bench_policy [SECONDS]   seconds per cell (default 1)
 *        bench_policy xN        exactly N passes over the targets per cell (for callgrind,
 *                               whose instruction counts are stable on a noisy machine) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/settings.h"
#include "policy/policy.h"

#define N_TARGETS_MAX 4096

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

enum kind { EXACT, SUB, APEX, GLOB, CIDR4, CIDR6 };

/* The kinds in a cycle of 20, arranged so that even 10 patterns hold one of each: 60% exact,
 * 20% suffix, 5% glob, 10% CIDR (half IPv4, half IPv6). */
static const enum kind cycle[20] = {EXACT, SUB,   APEX,  GLOB,  CIDR4, CIDR6, SUB,
                                    APEX,  EXACT, EXACT, EXACT, EXACT, EXACT, EXACT,
                                    EXACT, EXACT, EXACT, EXACT, EXACT, EXACT};
#define CIDR4_SLOT 4
#define CIDR6_SLOT 5

/* Globs live under their own domains, about two to a domain, as allowlists write them
 * ("region*.s3.example.com"); the matcher files them by that literal suffix. */
static int glob_domain(int i)
{
	return i / 40;
}

static void pattern_text(int i, char *buf, size_t size)
{
	switch (cycle[i % 20]) {
	case EXACT:
		snprintf(buf, size, "svc%d.team%d.example.com", i, i % 97);
		break;
	case SUB:
		snprintf(buf, size, "*.zone%d.example.net", i);
		break;
	case APEX:
		snprintf(buf, size, "**.apex%d.example.org", i);
		break;
	case GLOB:
		snprintf(buf, size, "region%d-*.glob%d.example.io", i, glob_domain(i));
		break;
	case CIDR4:
		snprintf(buf, size, "%d.%d.%d.0/24", 11 + (i >> 16) % 100, (i >> 8) & 255, i & 255);
		break;
	case CIDR6:
		snprintf(buf, size, "2001:db8:%x:%x::/64", (i >> 16) & 0xffff, i & 0xffff);
		break;
	}
}

/* A hostname target: even k hit pattern i (or an exact pattern near it), odd k miss. */
static void name_target(int n_patterns, int k, char *buf, size_t size)
{
	int i = (int)(rng() % (uint64_t)n_patterns);

	if (k % 2 == 1) {
		snprintf(buf, size, "host%d.unrelated%d.example.edu", i, k);
		return;
	}
	switch (cycle[i % 20]) {
	case SUB:
		snprintf(buf, size, "api.zone%d.example.net", i);
		break;
	case APEX:
		snprintf(buf, size, "apex%d.example.org", i);
		break;
	case GLOB:
		snprintf(buf, size, "region%d-eu.glob%d.example.io", i, glob_domain(i));
		break;
	case CIDR4:
	case CIDR6:
		/* CIDR patterns do not match names: take an exact pattern of the cycle */
		i = i / 20 * 20 + 8;
		if (i >= n_patterns)
			i = 0;
		/* fallthrough */
	case EXACT:
		snprintf(buf, size, "svc%d.team%d.example.com", i, i % 97);
		break;
	}
}

/* An IP literal target: even k fall inside a CIDR pattern (IPv4 and IPv6 by turns), odd k
 * outside every one (also by turns). */
static void literal_target(int n_patterns, int k, char *buf, size_t size)
{
	bool v6 = (k / 2) % 2 == 1;
	int i = (int)(rng() % (uint64_t)n_patterns) / 20 * 20 + (v6 ? CIDR6_SLOT : CIDR4_SLOT);

	if (i >= n_patterns)
		i -= 20;
	if (k % 2 == 1)
		snprintf(buf, size, v6 ? "[2001:db9:%x::%x]" : "%d.%d.%d.7",
		         v6 ? (unsigned)k : (unsigned)(150 + k % 50),
		         v6 ? (unsigned)k : (unsigned)((k >> 8) & 255), (unsigned)(k & 255));
	else if (!v6)
		snprintf(buf, size, "%d.%d.%d.77", 11 + (i >> 16) % 100, (i >> 8) & 255, i & 255);
	else
		snprintf(buf, size, "[2001:db8:%x:%x::5]", (i >> 16) & 0xffff, i & 0xffff);
}

static struct pc_policy *make_policy(int n)
{
	struct pc_settings *s = NULL;
	struct pc_config_error err;
	struct pc_policy *p = NULL;
	const char *text = "[network]\nallow_local_binding = true\n";
	char buf[128];

	if (pc_settings_parse(text, strlen(text), "bench", &s, &err) != 0) {
		fprintf(stderr, "%s\n", err.text);
		exit(1);
	}
	s->allowed_domains.items = calloc((size_t)n, sizeof(char *));
	s->allowed_domains.pos = calloc((size_t)n, sizeof(struct pc_pos));
	s->denied_domains.items = calloc((size_t)n / 10 + 1, sizeof(char *));
	s->denied_domains.pos = calloc((size_t)n / 10 + 1, sizeof(struct pc_pos));
	for (int i = 0; i < n; i++) {
		pattern_text(i, buf, sizeof(buf));
		s->allowed_domains.items[s->allowed_domains.len++] = strdup(buf);
	}
	for (int i = 0; i < n / 10; i++) {
		pattern_text(i + 7, buf, sizeof(buf));
		/* deny entries live in other domains so they never shadow the allow hits */
		char *dot = strstr(buf, ".example.");
		if (dot != NULL)
			memcpy(dot, ".denied0.", 9);
		s->denied_domains.items[s->denied_domains.len++] = strdup(buf);
	}
	if (pc_policy_new(s, &p, &err) != 0) {
		fprintf(stderr, "%s\n", err.text);
		exit(1);
	}
	return p;
}

struct row {
	double rate;
	long allowed;
};

struct target {
	char text[96];
	size_t len;
	struct pc_request req;
};

static long passes; /* > 0: a fixed number of passes instead of a duration */

static struct row run(struct pc_policy *p, struct target *targets, int n_targets, bool parse,
                      double seconds)
{
	struct row r = {0, 0};
	long done = 0;
	double start = now(), elapsed;

	do {
		for (int k = 0; k < n_targets; k++) {
			struct pc_request *req = &targets[k].req;
			struct pc_decision d;

			if (parse) {
				uint16_t port = 0;
				req->host_ok = pc_authority_parse(targets[k].text, targets[k].len,
				                                  &req->host, &port) == 0;
			}
			pc_policy_evaluate(p, req, &d);
			r.allowed += d.verdict == PC_VERDICT_ALLOW;
		}
		done += n_targets;
		elapsed = now() - start;
	} while (passes > 0 ? done < passes * n_targets : elapsed < seconds);
	r.rate = (double)done / elapsed;
	r.allowed = r.allowed * 1000 / done;
	return r;
}

static void prepare(struct target *t, void (*make)(int, int, char *, size_t), int n, int k)
{
	uint16_t port = 0;

	make(n, k, t->text, sizeof(t->text));
	t->len = strlen(t->text);
	memset(&t->req, 0, sizeof(t->req));
	t->req.protocol = PC_PROTO_HTTPS_CONNECT;
	t->req.port = 443;
	t->req.host_ok = pc_authority_parse(t->text, t->len, &t->req.host, &port) == 0;
}

int main(int argc, char **argv)
{
	static const int sizes[] = {10, 1000, 100000};
	static const int working_sets[] = {64, N_TARGETS_MAX};
	static struct target names[N_TARGETS_MAX], literals[N_TARGETS_MAX];
	double seconds = argc > 1 && argv[1][0] != 'x' ? atof(argv[1]) : 1.0;

	if (argc > 1 && argv[1][0] == 'x')
		passes = atol(argv[1] + 1);
	if (seconds <= 0)
		seconds = 1.0;
	for (size_t w = 0; w < sizeof(working_sets) / sizeof(working_sets[0]); w++) {
		int nt = working_sets[w];
		struct row base[4];

		printf("\n%d destinations\n\n| patterns | hostnames: decide | parse+decide | "
		       "IP literals: decide | parse+decide | allowed (names / literals) |\n"
		       "|---:|---:|---:|---:|---:|---:|\n",
		       nt);
		for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
			int n = sizes[s];
			struct pc_policy *p = make_policy(n);
			struct row r[4];

			rng_state = 0x9e3779b97f4a7c15ULL;
			for (int k = 0; k < nt; k++) {
				prepare(&names[k], name_target, n, k);
				prepare(&literals[k], literal_target, n, k);
			}
			r[0] = run(p, names, nt, false, seconds);
			r[1] = run(p, names, nt, true, seconds);
			r[2] = run(p, literals, nt, false, seconds);
			r[3] = run(p, literals, nt, true, seconds);
			if (s == 0)
				memcpy(base, r, sizeof(base));
			printf("| %d |", n);
			for (int i = 0; i < 4; i++)
				printf(" %.2fM/s (%.0f%%) |", r[i].rate / 1e6,
				       100 * r[i].rate / base[i].rate);
			printf(" %ld / %ld per mille |\n", r[1].allowed, r[3].allowed);
			fflush(stdout);
			pc_policy_unref(p);
		}
	}
	return 0;
}
