#include "policy/policy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "policy/pattern.h"

struct pc_policy {
	unsigned refs;
	struct pc_settings *settings;
	struct pc_pattern_set *allow;
	struct pc_pattern_set *deny;
};

static int compile_list(const struct pc_setting_list *list, unsigned flags,
                        struct pc_pattern_set **out, struct pc_config_error *err)
{
	struct pc_pattern_error perr;
	int rc = pc_pattern_set_build((const char *const *)list->items, list->len, flags, out,
	                              &perr);

	if (rc == PC_EPATTERN) {
		pc_config_error_set(err, &list->pos[perr.index], "%s", perr.msg);
		return PC_ECONFIG;
	}
	if (rc < 0)
		pc_config_error_set(err, NULL, "out of memory compiling patterns");
	return rc;
}

int pc_policy_new(struct pc_settings *s, struct pc_policy **out, struct pc_config_error *err)
{
	struct pc_policy *p = calloc(1, sizeof(*p));
	int rc;

	*out = NULL;
	if (p == NULL) {
		pc_settings_free(s);
		pc_config_error_set(err, NULL, "out of memory");
		return -ENOMEM;
	}
	p->refs = 1;
	p->settings = s;
	rc = compile_list(&s->allowed_domains, 0, &p->allow, err);
	if (rc == 0)
		rc = compile_list(&s->denied_domains, PC_PATTERN_NO_GLOBAL | PC_PATTERN_EMBEDDED_V4,
		                  &p->deny, err);
	if (rc < 0) {
		pc_policy_unref(p);
		return rc;
	}
	*out = p;
	return 0;
}

struct pc_policy *pc_policy_ref(struct pc_policy *p)
{
	p->refs++;
	return p;
}

void pc_policy_unref(struct pc_policy *p)
{
	if (p == NULL || --p->refs > 0)
		return;
	pc_pattern_set_free(p->allow);
	pc_pattern_set_free(p->deny);
	pc_settings_free(p->settings);
	free(p);
}

const struct pc_settings *pc_policy_settings(const struct pc_policy *p)
{
	return p->settings;
}

/* ---- the decision ---- */

/* Clears a decision's header: the address list is valid only as far as n says, so the 16
 * addresses are not zeroed on every request. */
static void reset(struct pc_decision *d)
{
	d->verdict = PC_VERDICT_ALLOW;
	d->reason = PC_REASON_NONE;
	d->source = PC_SOURCE_NONE;
	d->dns = PC_DNS_NONE;
	d->resolve_at_dial = false;
	d->addrs.n = 0;
}

static void decide(struct pc_decision *d, enum pc_verdict v, enum pc_reason r, enum pc_source src)
{
	d->verdict = v;
	d->reason = r;
	d->source = src;
}

static void deny(struct pc_decision *d, enum pc_reason r)
{
	decide(d, PC_VERDICT_DENY, r, PC_SOURCE_BASELINE_POLICY);
	d->addrs.n = 0;
	d->resolve_at_dial = false;
}

static void add_addr(struct pc_decision *d, const union pc_sockaddr *a, uint16_t port)
{
	if (d->addrs.n >= PC_ADDRS_MAX)
		return;
	d->addrs.addrs[d->addrs.n] = *a;
	pc_addr_set_port(&d->addrs.addrs[d->addrs.n], port);
	d->addrs.n++;
}

static void add_loopback(struct pc_decision *d, uint16_t port)
{
	union pc_sockaddr a;

	memset(&a, 0, sizeof(a));
	a.in.sin_family = AF_INET;
	a.in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	add_addr(d, &a, port);
	memset(&a, 0, sizeof(a));
	a.in6.sin6_family = AF_INET6;
	a.in6.sin6_addr = in6addr_loopback;
	add_addr(d, &a, port);
}

bool pc_policy_addr_denied(const struct pc_policy *p, const struct sockaddr *sa, uint16_t port)
{
	return pc_pattern_set_match_addr(p->deny, sa, port) != PC_MATCH_NONE;
}

static bool addrs_denied(const struct pc_policy *p, const struct pc_addr_list *addrs, uint16_t port)
{
	for (unsigned i = 0; i < addrs->n; i++)
		if (pc_policy_addr_denied(p, &addrs->addrs[i].sa, port))
			return true;
	return false;
}

static bool method_is_read_only(const char *m)
{
	return strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0 || strcmp(m, "OPTIONS") == 0;
}

/* Step 6, limited mode: only GET, HEAD and OPTIONS; tunnels would hide the method, so they need
 * interception (which this build does not perform yet), and UDP is never read-only. Applies to
 * allowed requests and to allowlist misses, so nobody is asked about a request the mode would
 * refuse anyway. */
static void mode_guard(const struct pc_policy *p, const struct pc_request *req,
                       struct pc_decision *d)
{
	enum pc_reason r = PC_REASON_NONE;

	if (p->settings->mode != PC_MODE_LIMITED || d->verdict == PC_VERDICT_DENY)
		return;
	switch (req->protocol) {
	case PC_PROTO_HTTP:
	case PC_PROTO_HTTPS:
		if (req->method == NULL || !method_is_read_only(req->method))
			r = PC_REASON_METHOD_NOT_ALLOWED;
		break;
	case PC_PROTO_HTTPS_CONNECT:
		r = PC_REASON_MITM_REQUIRED;
		break;
	case PC_PROTO_SOCKS5_TCP:
		r = req->port == 443 ? PC_REASON_MITM_REQUIRED : PC_REASON_METHOD_NOT_ALLOWED;
		break;
	case PC_PROTO_SOCKS5_UDP:
		r = PC_REASON_METHOD_NOT_ALLOWED;
		break;
	}
	if (r != PC_REASON_NONE) {
		deny(d, r);
		d->source = PC_SOURCE_MODE_GUARD;
	}
}

static void allowlist_miss(const struct pc_policy *p, struct pc_decision *d)
{
	deny(d, PC_REASON_NOT_ALLOWED);
	if (p->settings->approval_policy == PC_APPROVAL_ON_REQUEST)
		d->verdict = PC_VERDICT_ASK;
}

static void allow(struct pc_decision *d)
{
	decide(d, PC_VERDICT_ALLOW, PC_REASON_NONE, PC_SOURCE_NONE);
}

int pc_policy_evaluate(const struct pc_policy *p, const struct pc_request *req,
                       struct pc_decision *d)
{
	const struct pc_settings *s = p->settings;
	struct pc_host_key key;
	bool localhost, literal;
	enum pc_match m;

	reset(d);
	if (!s->enabled) {
		deny(d, PC_REASON_PROXY_DISABLED);
		d->source = PC_SOURCE_PROXY_STATE;
		return PC_POLICY_DECIDED;
	}
	/* (1) a host that could not be normalised is never matched loosely */
	if (!req->host_ok || req->port == 0) {
		deny(d, PC_REASON_NOT_ALLOWED);
		return PC_POLICY_DECIDED;
	}
	/* (2) the denylist wins over everything */
	pc_host_key_init(&key, &req->host);
	if (pc_pattern_set_match_key(p->deny, &key, req->port) != PC_MATCH_NONE) {
		deny(d, PC_REASON_DENIED);
		return PC_POLICY_DECIDED;
	}
	m = pc_pattern_set_match_key(p->allow, &key, req->port);
	localhost = req->host.kind == PC_HOST_NAME && pc_host_is_localhost(&req->host);
	literal = req->host.kind != PC_HOST_NAME;

	/* (3) local destinations need an exact allowlist entry unless allow_local_binding */
	if (!s->allow_local_binding &&
	    (localhost || (literal && !pc_addr_is_public(&req->host.addr.sa)))) {
		if (m != PC_MATCH_EXACT) {
			deny(d, PC_REASON_NOT_ALLOWED_LOCAL);
			return PC_POLICY_DECIDED;
		}
	} else if (m == PC_MATCH_NONE) {
		/* (4) decided without any lookup */
		allowlist_miss(p, d);
		mode_guard(p, req, d);
		return PC_POLICY_DECIDED;
	}

	allow(d);
	if (literal) {
		add_addr(d, &req->host.addr, req->port);
	} else if (localhost) {
		add_loopback(d, req->port);
		if (addrs_denied(p, &d->addrs, req->port)) {
			deny(d, PC_REASON_DENIED);
			return PC_POLICY_DECIDED;
		}
	} else if (s->allow_local_binding) {
		d->resolve_at_dial = true;
	} else {
		/* (5) resolve, then check every address */
		return PC_POLICY_NEEDS_DNS;
	}
	mode_guard(p, req, d);
	return PC_POLICY_DECIDED;
}

void pc_policy_complete(const struct pc_policy *p, const struct pc_request *req, int dns_status,
                        const struct pc_addr_list *addrs, struct pc_decision *d)
{
	reset(d);
	if (dns_status < 0 || addrs == NULL || addrs->n == 0) {
		deny(d, PC_REASON_NOT_ALLOWED_LOCAL);
		d->dns = dns_status == PC_EDNS_TIMEOUT ? PC_DNS_TIMED_OUT : PC_DNS_FAILED;
		return;
	}
	/* A name may resolve into a denied block even though the name itself is not denied. */
	if (addrs_denied(p, addrs, req->port)) {
		deny(d, PC_REASON_DENIED);
		return;
	}
	/* One non-public answer is enough to refuse: a rebinding name would answer both. */
	for (unsigned i = 0; i < addrs->n; i++) {
		if (!pc_addr_is_public(&addrs->addrs[i].sa)) {
			deny(d, PC_REASON_NOT_ALLOWED_LOCAL);
			return;
		}
	}
	allow(d);
	for (unsigned i = 0; i < addrs->n; i++)
		add_addr(d, &addrs->addrs[i], req->port);
	mode_guard(p, req, d);
}

/* ---- vocabulary ---- */

const char *pc_protocol_name(enum pc_protocol proto)
{
	switch (proto) {
	case PC_PROTO_HTTP:
		return "http";
	case PC_PROTO_HTTPS_CONNECT:
		return "https_connect";
	case PC_PROTO_HTTPS:
		return "https";
	case PC_PROTO_SOCKS5_TCP:
		return "socks5_tcp";
	case PC_PROTO_SOCKS5_UDP:
		return "socks5_udp";
	}
	return "unknown";
}

const char *pc_protocol_label(enum pc_protocol proto)
{
	switch (proto) {
	case PC_PROTO_HTTPS_CONNECT:
	case PC_PROTO_HTTPS:
		return "https";
	default:
		return pc_protocol_name(proto);
	}
}

const char *pc_verdict_name(enum pc_verdict v)
{
	switch (v) {
	case PC_VERDICT_ALLOW:
		return "allow";
	case PC_VERDICT_DENY:
		return "deny";
	case PC_VERDICT_ASK:
		return "ask";
	}
	return "deny";
}

const char *pc_reason_name(enum pc_reason r)
{
	switch (r) {
	case PC_REASON_NONE:
		return NULL;
	case PC_REASON_NOT_ALLOWED:
		return "not_allowed";
	case PC_REASON_NOT_ALLOWED_LOCAL:
		return "not_allowed_local";
	case PC_REASON_DENIED:
		return "denied";
	case PC_REASON_METHOD_NOT_ALLOWED:
		return "method_not_allowed";
	case PC_REASON_MITM_REQUIRED:
		return "mitm_required";
	case PC_REASON_PROXY_DISABLED:
		return "proxy_disabled";
	}
	return NULL;
}

const char *pc_source_name(enum pc_source s)
{
	switch (s) {
	case PC_SOURCE_NONE:
		return NULL;
	case PC_SOURCE_BASELINE_POLICY:
		return "baseline_policy";
	case PC_SOURCE_MODE_GUARD:
		return "mode_guard";
	case PC_SOURCE_PROXY_STATE:
		return "proxy_state";
	case PC_SOURCE_DECIDER:
		return "decider";
	}
	return NULL;
}

const char *pc_decision_summary(const struct pc_decision *d)
{
	switch (d->reason) {
	case PC_REASON_NONE:
		return "allowed";
	case PC_REASON_NOT_ALLOWED:
		return "not in allowlist";
	case PC_REASON_NOT_ALLOWED_LOCAL:
		if (d->dns == PC_DNS_TIMED_OUT)
			return "name resolution timed out";
		if (d->dns == PC_DNS_FAILED)
			return "name resolution failed";
		return "local or private address";
	case PC_REASON_DENIED:
		return "in denylist";
	case PC_REASON_METHOD_NOT_ALLOWED:
		return "method not allowed in limited mode";
	case PC_REASON_MITM_REQUIRED:
		return "limited mode needs TLS interception";
	case PC_REASON_PROXY_DISABLED:
		return "proxy disabled";
	}
	return "blocked";
}
