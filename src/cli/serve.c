/* portcullis serve: the long-running proxy on fixed ports (SPEC §1).
 *
 * SIGTERM/SIGINT: stop accepting, let open exchanges finish within the grace period, exit 0.
 * SIGHUP: re-read the configuration; a valid one applies to new requests at once, an invalid
 * one is reported and the running policy stays. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <uv.h>

#include "cli/cli.h"
#include "core/error.h"
#include "core/log.h"
#include "net/listen.h"
#include "proxy/server.h"

enum {
	OPT_HTTP = PC_OPT_LOCAL,
	OPT_SOCKS,
	OPT_READY_FILE,
	OPT_GRACE,
	OPT_VERBOSE,
};

static const char serve_help[] =
        "usage: portcullis serve [OPTIONS]\n"
        "\n"
        "Runs the proxy until SIGTERM or SIGINT; SIGHUP re-reads the configuration.\n"
        "\n"
        "options:\n"
        "  --http ADDR         HTTP listener (default: proxy_url, 127.0.0.1:3128; port 0 picks)\n"
        "  --socks ADDR        SOCKS5 listener (default: socks_url, 127.0.0.1:8081)\n"
        "  --ready-file PATH   write {\"http\":\"IP:PORT\",...} there once listening\n"
        "  --grace SECONDS     how long open exchanges may finish at shutdown (default 10)\n"
        "  --verbose           log each decision\n" PC_CLI_SHARED_HELP;

struct serve {
	struct pc_cli cli;
	uv_loop_t loop;
	struct pc_server *server;
	uv_signal_t sig_term, sig_int, sig_hup;
	uint64_t grace_ms;
	bool stopping;
};

/* Soft RLIMIT_NOFILE up to the hard limit: each connection needs two descriptors. */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			pc_log_warn("cannot raise the open-file limit");
	}
}

static int format_addr(const union pc_sockaddr *a, char *buf, size_t size)
{
	char ip[PC_ADDR_STRLEN];
	uint16_t port = pc_addr_port(a);

	if (pc_addr_format(&a->sa, ip, sizeof(ip)) < 0)
		return -EINVAL;
	return snprintf(buf, size, a->sa.sa_family == AF_INET6 ? "[%s]:%u" : "%s:%u", ip, port);
}

/* Writes the ready file atomically: a temporary file in the same directory, then rename. */
static int write_ready_file(const char *path, const char *json)
{
	char tmp[PATH_MAX];
	size_t len = strlen(json);
	int fd, rc = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (write(fd, json, len) != (ssize_t)len || fsync(fd) < 0)
		rc = errno ? -errno : -EIO;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0)
		unlink(tmp);
	return rc;
}

static void on_drained(void *data)
{
	struct serve *sv = data;

	uv_signal_stop(&sv->sig_term);
	uv_signal_stop(&sv->sig_int);
	uv_signal_stop(&sv->sig_hup);
	uv_stop(&sv->loop);
}

static void on_stop_signal(uv_signal_t *h, int signum)
{
	struct serve *sv = h->data;

	if (sv->stopping) {
		pc_log_info("second signal %d: stopping now", signum);
		sv->grace_ms = 0;
		pc_server_drain(sv->server, 0, on_drained, sv);
		return;
	}
	sv->stopping = true;
	pc_log_info("signal %d: finishing %zu open connections, then exiting", signum,
	            pc_server_conn_count(sv->server));
	pc_server_drain(sv->server, sv->grace_ms, on_drained, sv);
}

static bool same_text(const char *a, const char *b)
{
	return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Settings a running serve cannot change: said once per reload, so that nobody believes an
 * edit took effect when it did not. */
static void warn_fixed_settings(const struct pc_settings *old, const struct pc_settings *new)
{
	if (!same_text(old->proxy_url, new->proxy_url) ||
	    !same_text(old->socks_url, new->socks_url) || old->enable_socks5 != new->enable_socks5)
		pc_log_warnx("reload: the listeners stay as they are until a restart");
	if (!same_text(old->audit_log, new->audit_log))
		pc_log_warnx("reload: audit_log stays as it is until a restart");
}

static void on_hup(uv_signal_t *h, int signum)
{
	struct serve *sv = h->data;
	struct pc_config_error err;
	struct pc_settings *s;
	struct pc_policy *p;
	int rc;
	(void)signum;

	rc = pc_settings_load(&sv->cli.ov, &s, &err);
	if (rc == 0)
		rc = pc_policy_new(s, &p, &err);
	if (rc < 0) {
		pc_log_warnx("reload refused, the running policy stays: %s", err.text);
		return;
	}
	warn_fixed_settings(pc_policy_settings(pc_server_policy(sv->server)),
	                    pc_policy_settings(p));
	rc = pc_server_set_policy(sv->server, p);
	if (rc < 0)
		pc_log_warnx("reload refused, the running policy stays: %s", pc_strerror(rc));
	else
		pc_log_info("configuration reloaded from %s", pc_policy_settings(p)->source);
	pc_policy_unref(p);
}

/* Opens a listening socket on flag, or on the configured url, clamped to loopback unless the
 * configuration dares otherwise. Returns the fd or a negative error (reported). */
static int open_listener(const struct pc_settings *s, const char *flag, const char *url,
                         union pc_sockaddr *addr)
{
	const char *text = flag != NULL ? flag : url;
	char shown[PC_ADDR_STRLEN + 8];
	int fd;

	if (pc_listen_addr_parse(text, addr) < 0) {
		pc_cli_error("serve: invalid listener address '%s' (want IP:PORT)", text);
		return -EINVAL;
	}
	if (pc_listen_clamp(addr, s->dangerously_allow_non_loopback_proxy) == 1) {
		format_addr(addr, shown, sizeof(shown));
		pc_log_warnx("listener '%s' is not loopback; listening on %s instead (set "
		             "dangerously_allow_non_loopback_proxy to override)",
		             text, shown);
	}
	fd = pc_listen_socket(addr, 1024);
	if (fd < 0) {
		format_addr(addr, shown, sizeof(shown));
		pc_cli_error("serve: cannot listen on %s: %s", shown, strerror(-fd));
	}
	return fd;
}

int pc_cmd_serve(int argc, char **argv)
{
	static const struct option options[] = {
	        {"http", required_argument, NULL, OPT_HTTP},
	        {"socks", required_argument, NULL, OPT_SOCKS},
	        {"ready-file", required_argument, NULL, OPT_READY_FILE},
	        {"grace", required_argument, NULL, OPT_GRACE},
	        {"verbose", no_argument, NULL, OPT_VERBOSE},
	        PC_CLI_SHARED_OPTIONS,
	        {NULL, 0, NULL, 0},
	};
	struct serve sv;
	struct pc_policy *policy = NULL;
	const struct pc_settings *s;
	const char *http_flag = NULL, *socks_flag = NULL, *ready_file = NULL;
	union pc_sockaddr addr;
	char json[256], shown[PC_ADDR_STRLEN + 8];
	int opt, fd, socks_fd = -1, rc, n, status = 2;
	bool loop_open = false;

	memset(&sv, 0, sizeof(sv));
	sv.grace_ms = 10000;
	if (pc_cli_init(&sv.cli, argc, argv) < 0) {
		pc_cli_error("out of memory");
		return 2;
	}
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "+", options, NULL)) != -1) {
		if (pc_cli_shared_option(&sv.cli, opt, optarg))
			continue;
		switch (opt) {
		case OPT_HTTP:
			http_flag = optarg;
			break;
		case OPT_SOCKS:
			socks_flag = optarg;
			break;
		case OPT_READY_FILE:
			ready_file = optarg;
			break;
		case OPT_GRACE: {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || v < 0 || v > 3600) {
				pc_cli_error("serve: --grace wants 0-3600 seconds");
				goto out;
			}
			sv.grace_ms = (uint64_t)v * 1000;
			break;
		}
		case OPT_VERBOSE:
			pc_log_init(NULL, PC_LOG_DEBUG);
			break;
		default:
			pc_cli_error("serve: unknown or incomplete option '%s' (try --help)",
			             argv[optind - 1]);
			goto out;
		}
	}
	if (sv.cli.help) {
		fputs(serve_help, stdout);
		status = 0;
		goto out;
	}
	if (optind != argc) {
		pc_cli_error("serve: unexpected argument '%s' (try --help)", argv[optind]);
		goto out;
	}
	raise_fd_limit();
	if (pc_cli_load_policy(&sv.cli, &policy) < 0)
		goto out;
	s = pc_policy_settings(policy);
	signal(SIGPIPE, SIG_IGN);
	fd = open_listener(s, http_flag, s->proxy_url, &addr);
	if (fd < 0)
		goto out;
	if (s->enable_socks5) {
		socks_fd = open_listener(s, socks_flag, s->socks_url, &addr);
		if (socks_fd < 0) {
			close(fd);
			goto out;
		}
	} else if (socks_flag != NULL) {
		pc_log_warnx("--socks ignored: enable_socks5 is false");
	}
	if (uv_loop_init(&sv.loop) < 0) {
		close(fd);
		if (socks_fd >= 0)
			close(socks_fd);
		pc_cli_error("serve: cannot start the event loop");
		goto out;
	}
	loop_open = true;
	rc = pc_server_new(&sv.loop, policy, s->audit_log, &sv.server);
	if (rc == 0) {
		rc = pc_server_listen(sv.server, PC_LISTENER_HTTP, fd);
	} else {
		close(fd);
	}
	if (socks_fd >= 0) {
		if (rc == 0)
			rc = pc_server_listen(sv.server, PC_LISTENER_SOCKS, socks_fd);
		else
			close(socks_fd);
	}
	if (rc < 0) {
		pc_cli_error("serve: cannot start: %s", pc_strerror(rc));
		goto out;
	}
	/* The signals are ours before anyone learns that we are ready: a SIGHUP sent the moment
	 * the ready file appears reloads, it does not kill. */
	uv_signal_init(&sv.loop, &sv.sig_term);
	uv_signal_init(&sv.loop, &sv.sig_int);
	uv_signal_init(&sv.loop, &sv.sig_hup);
	sv.sig_term.data = sv.sig_int.data = sv.sig_hup.data = &sv;
	uv_signal_start(&sv.sig_term, on_stop_signal, SIGTERM);
	uv_signal_start(&sv.sig_int, on_stop_signal, SIGINT);
	uv_signal_start(&sv.sig_hup, on_hup, SIGHUP);

	pc_server_listen_address(sv.server, PC_LISTENER_HTTP, &addr);
	format_addr(&addr, shown, sizeof(shown));
	n = snprintf(json, sizeof(json), "{\"http\":\"%s\"", shown);
	pc_log_info("HTTP proxy listening on %s (configuration: %s)", shown, s->source);
	if (pc_server_listen_address(sv.server, PC_LISTENER_SOCKS, &addr) == 0) {
		format_addr(&addr, shown, sizeof(shown));
		n += snprintf(json + n, sizeof(json) - (size_t)n, ",\"socks\":\"%s\"", shown);
		pc_log_info("SOCKS5 proxy listening on %s", shown);
	}
	snprintf(json + n, sizeof(json) - (size_t)n, "}\n");
	if (ready_file != NULL && (rc = write_ready_file(ready_file, json)) < 0) {
		pc_cli_error("serve: cannot write %s: %s", ready_file, strerror(-rc));
		goto out;
	}

	uv_run(&sv.loop, UV_RUN_DEFAULT);
	status = 0;
out:
	if (sv.server != NULL)
		pc_server_free(sv.server);
	if (loop_open) {
		if (sv.sig_term.loop != NULL) {
			uv_close((uv_handle_t *)&sv.sig_term, NULL);
			uv_close((uv_handle_t *)&sv.sig_int, NULL);
			uv_close((uv_handle_t *)&sv.sig_hup, NULL);
		}
		uv_run(&sv.loop, UV_RUN_DEFAULT);
		uv_loop_close(&sv.loop);
	}
	pc_policy_unref(policy);
	pc_cli_free(&sv.cli);
	return status;
}
