/* Records of blocked requests (SPEC §10): one JSON line per block in the audit log, the last
 * PC_AUDIT_RING blocks in memory, and per-destination counts for run's summary at exit.
 *
 * The log is opened once; each block is one write(2) of one complete line with O_APPEND, so
 * concurrent writers never interleave within a line. A failing log never stops the proxy: the
 * error is reported once and blocks keep being counted. */
#ifndef PC_AUDIT_AUDIT_H
#define PC_AUDIT_AUDIT_H

#include <stdint.h>
#include <stdio.h>

#include "policy/policy.h"

#define PC_AUDIT_RING 200

struct pc_block {
	int64_t ts_ms; /* wall clock, milliseconds since the epoch */
	char host[PC_HOST_NAME_MAX + 1];
	uint16_t port;
	enum pc_protocol protocol;
	enum pc_verdict decision;
	enum pc_reason reason;
	enum pc_source source;
	enum pc_dns_outcome dns;
	char method[24];                 /* "" for tunnels and SOCKS */
	char client[PC_ADDR_STRLEN + 8]; /* "ip:port" or "[ip]:port" of the client */
	enum pc_mode mode;
};

struct pc_audit;

/* Opens the log: path NULL writes to stderr, "off" writes nowhere (the ring and the counts are
 * still kept), anything else is a file appended to (created 0600, its directory 0700 when
 * missing). Returns 0 or a negative error. */
int pc_audit_new(const char *path, struct pc_audit **out);
void pc_audit_free(struct pc_audit *a);

/* Records one block. ts_ms of 0 is replaced by the current time. */
void pc_audit_record(struct pc_audit *a, const struct pc_block *b);

/* Fills b from a request and its decision. raw_host (raw_len bytes, may be NULL) is the host
 * text as the client sent it, used when it could not be normalised (non-printable bytes become
 * '?'). client may be NULL. */
void pc_block_fill(struct pc_block *b, const struct pc_request *req, const char *raw_host,
                   size_t raw_len, const struct pc_decision *d, const struct sockaddr *client,
                   enum pc_mode mode);

/* Formats b as one JSON object followed by '\n'. Returns the length, or -ENOSPC. */
int pc_audit_format(const struct pc_block *b, char *buf, size_t size);

/* The ring, oldest first: copies at most max blocks into out and returns how many. */
size_t pc_audit_recent(const struct pc_audit *a, struct pc_block *out, size_t max);

/* Total blocks recorded. */
uint64_t pc_audit_count(const struct pc_audit *a);

/* Writes run's summary: one line per destination, in order of first block,
 * "blocked: HOST:PORT xN (words)", ASCII only. Nothing when nothing was blocked. */
void pc_audit_write_summary(const struct pc_audit *a, FILE *f);

#endif
