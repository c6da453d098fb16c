/* portcullis check TARGET: one decision without traffic (SPEC §1).
 * Stdout: exactly one JSON object; stderr: one line for people. Exit 0 allow, 1 deny or ask,
 * 2 usage or configuration error. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "cli/cli.h"
#include "core/error.h"
#include "net/resolve.h"
#include "policy/decide.h"

enum {
	OPT_METHOD = PC_OPT_LOCAL,
	OPT_PROTOCOL,
};

static const char check_help[] =
        "usage: portcullis check [OPTIONS] TARGET\n"
        "\n"
        "Decides whether TARGET may be reached, without sending any traffic to it.\n"
        "TARGET is a URL (http://, https://, ws://, wss://), host:port, or a host.\n"
        "Prints one JSON object on stdout and a line for people on stderr.\n"
        "Exit status: 0 allow, 1 deny or ask, 2 usage or configuration error.\n"
        "\n"
        "options:\n"
        "  --method M        the HTTP method (default GET; CONNECT for https_connect)\n"
        "  --protocol P      http, https_connect, https, socks5_tcp or socks5_udp\n"
        "                    (default: from the URL scheme; http without one)\n" PC_CLI_SHARED_HELP;

struct scheme {
	const char *name;
	enum pc_protocol protocol;
	uint16_t port;
};

static const struct scheme schemes[] = {
        {"http", PC_PROTO_HTTP, 80},
        {"ws", PC_PROTO_HTTP, 80},
        {"https", PC_PROTO_HTTPS_CONNECT, 443},
        {"wss", PC_PROTO_HTTPS_CONNECT, 443},
};

static bool protocol_from_name(const char *name, enum pc_protocol *out)
{
	for (int p = PC_PROTO_HTTP; p <= PC_PROTO_SOCKS5_UDP; p++) {
		if (strcmp(name, pc_protocol_name((enum pc_protocol)p)) == 0) {
			*out = (enum pc_protocol)p;
			return true;
		}
	}
	return false;
}

/* Splits TARGET into the scheme's protocol and default port and the authority text. TARGET is
 * typed by a person and may be an IRI (http://bücher.example/), which the request-target
 * parser rightly refuses on the wire; the authority still goes through pc_authority_parse,
 * the one place host text becomes a host. */
static int split_target(const char *target, enum pc_protocol *proto, uint16_t *default_port,
                        const char **auth, size_t *auth_len)
{
	const char *sep = strstr(target, "://");

	*proto = PC_PROTO_HTTP;
	*default_port = 80;
	*auth = target;
	if (sep != NULL) {
		const struct scheme *sc = NULL;
		size_t n = (size_t)(sep - target);
		for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
			if (strlen(schemes[i].name) == n &&
			    strncasecmp(target, schemes[i].name, n) == 0)
				sc = &schemes[i];
		if (sc == NULL)
			return PC_EPARSE;
		*proto = sc->protocol;
		*default_port = sc->port;
		*auth = sep + 3;
	}
	*auth_len = strcspn(*auth, sep != NULL ? "/?#" : "");
	return 0;
}

struct check {
	struct pc_request req;
	struct pc_decision decision;
	const char *raw_host;
	size_t raw_host_len;
	bool done;
};

static void on_decided(void *data, const struct pc_decision *d)
{
	struct check *c = data;

	c->decision = *d;
	c->done = true;
}

static int decide_with_resolver(struct pc_policy *policy, struct check *c)
{
	const struct pc_settings *s = pc_policy_settings(policy);
	struct pc_resolver *resolver = NULL;
	struct pc_decide_req *pending;
	char servers[2048] = "";
	size_t off = 0;
	uv_loop_t loop;
	int rc;

	for (size_t i = 0; i < s->dns_servers.len; i++) {
		int n = snprintf(servers + off, sizeof(servers) - off, "%s%s", i ? "," : "",
		                 s->dns_servers.items[i]);
		if (n < 0 || (size_t)n >= sizeof(servers) - off) {
			pc_cli_error("dns_servers: too many servers");
			return PC_ECONFIG;
		}
		off += (size_t)n;
	}
	rc = uv_loop_init(&loop);
	if (rc < 0) {
		pc_cli_error("cannot start event loop: %s", uv_strerror(rc));
		return rc;
	}
	rc = pc_resolver_new(&loop, servers, &resolver);
	if (rc < 0) {
		pc_cli_error("dns_servers: invalid server list '%s'", servers);
	} else {
		rc = pc_decide(policy, resolver, &c->req, &c->decision, on_decided, c, &pending);
		if (rc == PC_POLICY_NEEDS_DNS) {
			while (!c->done && uv_run(&loop, UV_RUN_ONCE) != 0)
				;
			rc = c->done ? 0 : PC_EDNS;
			if (!c->done)
				pc_decide_cancel(pending);
		} else if (rc < 0) {
			pc_cli_error("cannot resolve: %s", pc_strerror(rc));
		}
		pc_resolver_free(resolver);
	}
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	return rc < 0 ? rc : 0;
}

static void print_result(const struct check *c)
{
	const struct pc_decision *d = &c->decision;
	const char *reason = pc_reason_name(d->reason), *source = pc_source_name(d->source);
	json_t *o = json_object(), *addrs = json_array();
	char host[PC_HOST_NAME_MAX + 64];
	char *text;

	if (c->req.host_ok)
		snprintf(host, sizeof(host), "%s", c->req.host.name);
	else
		snprintf(host, sizeof(host), "%.*s",
		         (int)(c->raw_host_len > PC_HOST_NAME_MAX ? PC_HOST_NAME_MAX
		                                                  : c->raw_host_len),
		         c->raw_host);
	for (unsigned i = 0; i < d->addrs.n; i++) {
		char a[PC_ADDR_STRLEN];
		if (pc_addr_format(&d->addrs.addrs[i].sa, a, sizeof(a)) >= 0)
			json_array_append_new(addrs, json_string(a));
	}
	json_object_set_new(o, "decision", json_string(pc_verdict_name(d->verdict)));
	json_object_set_new(o, "reason", reason ? json_string(reason) : json_null());
	json_object_set_new(o, "source", source ? json_string(source) : json_null());
	json_object_set_new(o, "host", json_stringn_nocheck(host, strlen(host)));
	json_object_set_new(o, "port", json_integer(c->req.port));
	json_object_set_new(o, "protocol", json_string(pc_protocol_name(c->req.protocol)));
	json_object_set_new(o, "addresses", addrs);
	text = json_dumps(o, JSON_PRESERVE_ORDER | JSON_COMPACT | JSON_ENSURE_ASCII);
	if (text != NULL) {
		puts(text);
		free(text);
	}
	json_decref(o);

	if (d->verdict == PC_VERDICT_ALLOW) {
		fprintf(stderr, "allow: %s:%u (%s)%s\n", host, c->req.port,
		        pc_protocol_name(c->req.protocol),
		        d->resolve_at_dial ? ", resolved when dialled" : "");
	} else {
		fprintf(stderr, "%s: %s:%u (%s): %s [%s, %s]\n", pc_verdict_name(d->verdict), host,
		        c->req.port, pc_protocol_name(c->req.protocol), pc_decision_summary(d),
		        reason, source);
	}
}

int pc_cmd_check(int argc, char **argv)
{
	static const struct option options[] = {
	        {"method", required_argument, NULL, OPT_METHOD},
	        {"protocol", required_argument, NULL, OPT_PROTOCOL},
	        PC_CLI_SHARED_OPTIONS,
	        {NULL, 0, NULL, 0},
	};
	struct pc_cli cli;
	struct pc_policy *policy = NULL;
	struct check c;
	const char *method = NULL, *protocol = NULL, *auth;
	enum pc_protocol proto;
	uint16_t default_port, port = 0;
	size_t auth_len;
	int opt, rc, status = 2;

	if (pc_cli_init(&cli, argc, argv) < 0) {
		pc_cli_error("out of memory");
		return 2;
	}
	memset(&c, 0, sizeof(c));
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "+", options, NULL)) != -1) {
		if (pc_cli_shared_option(&cli, opt, optarg))
			continue;
		switch (opt) {
		case OPT_METHOD:
			method = optarg;
			break;
		case OPT_PROTOCOL:
			protocol = optarg;
			break;
		default:
			pc_cli_bad_option("check", argv);
			goto out;
		}
	}
	if (cli.help) {
		fputs(check_help, stdout);
		status = 0;
		goto out;
	}
	if (optind != argc - 1) {
		pc_cli_error("check: expected exactly one TARGET (try --help)");
		goto out;
	}
	if (split_target(argv[optind], &proto, &default_port, &auth, &auth_len) < 0) {
		pc_cli_error("check: unsupported URL scheme in '%s'", argv[optind]);
		goto out;
	}
	if (protocol != NULL && !protocol_from_name(protocol, &proto)) {
		pc_cli_error("check: unknown protocol '%s'", protocol);
		goto out;
	}
	if (method != NULL && (method[0] == '\0' || strcspn(method, " \t\r\n") != strlen(method))) {
		pc_cli_error("check: invalid method '%s'", method);
		goto out;
	}
	if (pc_cli_load_policy(&cli, &policy) < 0)
		goto out;

	c.req.protocol = proto;
	c.req.method = method != NULL                                      ? method
	               : proto == PC_PROTO_HTTP || proto == PC_PROTO_HTTPS ? "GET"
	                                                                   : NULL;
	c.raw_host = auth;
	c.raw_host_len = auth_len;
	c.req.host_ok = pc_authority_parse(auth, auth_len, &c.req.host, &port) == 0;
	c.req.port = port != 0 ? port : default_port;
	rc = decide_with_resolver(policy, &c);
	if (rc < 0)
		goto out;
	print_result(&c);
	status = c.decision.verdict == PC_VERDICT_ALLOW ? 0 : 1;
out:
	pc_policy_unref(policy);
	pc_cli_free(&cli);
	return status;
}
