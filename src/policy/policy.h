/* The decision: may this request reach this destination? (SPEC §3)
 *
 * A pc_policy is one immutable generation of configuration: the settings it was built from and
 * the compiled allow and deny patterns. Requests hold a reference for as long as they are being
 * decided, so a reload builds a new generation and swaps a pointer; a failed reload keeps the
 * old one. Every front end builds a pc_request and acts on the pc_decision; nothing else
 * decides.
 *
 * Deciding is two-phase because step 5 may need DNS: pc_policy_evaluate runs every step that
 * needs no lookup and either decides or asks the caller to resolve the host (with
 * PC_POLICY_DNS_TIMEOUT_MS as deadline) and call pc_policy_complete with the answer. Names that
 * no allowlist entry matches are decided before any lookup, so they never leave the machine. */
#ifndef PC_POLICY_POLICY_H
#define PC_POLICY_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "config/settings.h"
#include "policy/addr.h"
#include "policy/host.h"

#define PC_POLICY_DNS_TIMEOUT_MS 2000

enum pc_protocol {
	PC_PROTO_HTTP = 0,
	PC_PROTO_HTTPS_CONNECT,
	PC_PROTO_HTTPS,
	PC_PROTO_SOCKS5_TCP,
	PC_PROTO_SOCKS5_UDP,
};

enum pc_verdict {
	PC_VERDICT_ALLOW = 0,
	PC_VERDICT_DENY,
	PC_VERDICT_ASK, /* an allowlist miss that an approver may turn into an allow */
};

enum pc_reason {
	PC_REASON_NONE = 0,
	PC_REASON_NOT_ALLOWED,
	PC_REASON_NOT_ALLOWED_LOCAL,
	PC_REASON_DENIED,
	PC_REASON_METHOD_NOT_ALLOWED,
	PC_REASON_MITM_REQUIRED,
	PC_REASON_PROXY_DISABLED,
};

enum pc_source {
	PC_SOURCE_NONE = 0,
	PC_SOURCE_BASELINE_POLICY,
	PC_SOURCE_MODE_GUARD,
	PC_SOURCE_PROXY_STATE,
	PC_SOURCE_DECIDER,
};

/* Why a not_allowed_local decision involved DNS. */
enum pc_dns_outcome {
	PC_DNS_NONE = 0,
	PC_DNS_FAILED,
	PC_DNS_TIMED_OUT,
};

struct pc_request {
	enum pc_protocol protocol;
	bool host_ok;        /* false: the host could not be normalised */
	struct pc_host host; /* valid when host_ok */
	uint16_t port;
	const char *method; /* the HTTP method; NULL for tunnels and SOCKS */
};

struct pc_decision {
	enum pc_verdict verdict;
	enum pc_reason reason; /* PC_REASON_NONE when allowed */
	enum pc_source source; /* PC_SOURCE_NONE when allowed */
	enum pc_dns_outcome dns;
	/* Allowed with allow_local_binding: the dialer resolves the name itself at connect time
	 * (SPEC §3 step 5); addrs is empty. */
	bool resolve_at_dial;
	/* Allowed otherwise: exactly the addresses to dial (ports set), already checked. */
	struct pc_addr_list addrs;
};

struct pc_policy;

/* Compiles settings into a new generation that takes ownership of s (also on failure, when s
 * is freed). An invalid pattern fails with PC_ECONFIG and err naming the file position and the
 * pattern. The result starts with one reference. */
int pc_policy_new(struct pc_settings *s, struct pc_policy **out, struct pc_config_error *err);

struct pc_policy *pc_policy_ref(struct pc_policy *p);
/* Drops a reference; the last one frees the generation. Accepts NULL. */
void pc_policy_unref(struct pc_policy *p);

/* The settings this generation was built from. */
const struct pc_settings *pc_policy_settings(const struct pc_policy *p);

enum {
	PC_POLICY_DECIDED = 0,
	PC_POLICY_NEEDS_DNS = 1, /* resolve req->host.name, then call pc_policy_complete */
};

/* Runs the decision steps that need no lookup. Returns PC_POLICY_DECIDED with *d complete,
 * or PC_POLICY_NEEDS_DNS. */
int pc_policy_evaluate(const struct pc_policy *p, const struct pc_request *req,
                       struct pc_decision *d);

/* Finishes a decision that needed DNS: dns_status is the resolver's status (0, PC_EDNS or
 * PC_EDNS_TIMEOUT) and addrs its answer. */
void pc_policy_complete(const struct pc_policy *p, const struct pc_request *req, int dns_status,
                        const struct pc_addr_list *addrs, struct pc_decision *d);

/* True when the denylist's address patterns (literals, CIDR blocks) cover sa on port: the
 * dialer asks this of each address it resolves itself (resolve_at_dial). */
bool pc_policy_addr_denied(const struct pc_policy *p, const struct sockaddr *sa, uint16_t port);

/* Vocabulary shared by every surface (JSON, logs, headers): "http", "https_connect", ...;
 * "allow", "deny", "ask"; "not_allowed", ...; "baseline_policy", .... The reason and source
 * names are NULL for PC_REASON_NONE / PC_SOURCE_NONE. */
const char *pc_protocol_name(enum pc_protocol proto);
/* The approval and rule label: "http", "https" (https_connect and https), "socks5_tcp",
 * "socks5_udp". */
const char *pc_protocol_label(enum pc_protocol proto);
const char *pc_verdict_name(enum pc_verdict v);
const char *pc_reason_name(enum pc_reason r);
const char *pc_source_name(enum pc_source s);
/* A few plain words for people: "not in allowlist", "in denylist", ... */
const char *pc_decision_summary(const struct pc_decision *d);

#endif
