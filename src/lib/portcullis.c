/* libportcullis (include/portcullis.h): the proxy runtime on a thread of its own. */
#include "portcullis.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "core/error.h"
#include "core/log.h"
#include "net/listen.h"
#include "proxy/server.h"

struct portcullis {
	uv_loop_t loop;
	bool loop_open;
	uv_async_t stop_async;
	bool async_open;
	uv_thread_t thread;
	bool running;
	struct pc_policy *policy;
	struct pc_server *server;
	char http[64];
	char socks[64];
	unsigned grace_ms;
	portcullis_block_fn on_block;
	void *on_block_data;
	_Atomic uint64_t blocked;
};

__attribute__((format(printf, 3, 4))) static void set_err(char *err, size_t size, const char *fmt,
                                                          ...)
{
	va_list ap;

	if (err == NULL || size == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, size, fmt, ap);
	va_end(ap);
}

static void discard_log(void *data, enum pc_log_level level, const char *line)
{
	(void)data;
	(void)level;
	(void)line;
}

static void on_block(void *data, const struct pc_block *b)
{
	struct portcullis *p = data;
	struct portcullis_block e;

	atomic_fetch_add(&p->blocked, 1);
	if (p->on_block == NULL)
		return;
	e.host = b->host;
	e.port = b->port;
	e.protocol = pc_protocol_name(b->protocol);
	e.reason = pc_reason_name(b->reason);
	e.decision = pc_verdict_name(b->decision);
	e.source = pc_source_name(b->source);
	e.method = b->method[0] ? b->method : NULL;
	e.client = b->client[0] ? b->client : NULL;
	p->on_block(p->on_block_data, &e);
}

/* Binds 127.0.0.1:0 and hands the socket to the server; the address goes into buf. */
static int reserve(struct portcullis *p, enum pc_listener_kind kind, char *buf, size_t size)
{
	union pc_sockaddr a;
	socklen_t len = sizeof(a);
	int fd, rc;

	pc_listen_addr_parse("127.0.0.1:0", &a);
	fd = pc_listen_socket(&a, 1024);
	if (fd < 0)
		return fd;
	if (getsockname(fd, &a.sa, &len) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	snprintf(buf, size, "127.0.0.1:%u", ntohs(a.in.sin_port));
	return pc_server_listen(p->server, kind, fd);
}

int portcullis_new(const struct portcullis_options *o, struct portcullis **out, char *err,
                   size_t err_size)
{
	struct pc_overrides ov;
	struct pc_config_error cerr;
	struct pc_settings *s = NULL;
	const struct pc_settings *st;
	struct portcullis *p;
	const char *audit;
	int rc;

	*out = NULL;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return -ENOMEM;
	/* a library does not write to the embedding program's stderr */
	pc_log_set_sink(discard_log, NULL);
	memset(&ov, 0, sizeof(ov));
	ov.config_path = o->config_path;
	ov.allow = (const char **)o->allow;
	ov.n_allow = o->n_allow;
	ov.deny = (const char **)o->deny;
	ov.n_deny = o->n_deny;
	ov.allow_local = o->allow_local != 0;
	ov.limited = o->limited != 0;
	rc = pc_settings_load(&ov, &s, &cerr);
	if (rc == 0)
		rc = pc_policy_new(s, &p->policy, &cerr);
	if (rc < 0) {
		set_err(err, err_size, "%s", cerr.text);
		goto fail;
	}
	st = pc_policy_settings(p->policy);
	audit = o->audit_log != NULL ? o->audit_log : st->audit_log != NULL ? st->audit_log : "off";
	rc = uv_loop_init(&p->loop);
	if (rc < 0) {
		set_err(err, err_size, "cannot create an event loop: %s", uv_strerror(rc));
		goto fail;
	}
	p->loop_open = true;
	rc = pc_server_new(&p->loop, p->policy, audit, &p->server);
	if (rc < 0) {
		set_err(err, err_size, "cannot start the proxy: %s", pc_strerror(rc));
		goto fail;
	}
	pc_server_set_block_hook(p->server, on_block, p);
	rc = reserve(p, PC_LISTENER_HTTP, p->http, sizeof(p->http));
	if (rc == 0 && st->enable_socks5 && !o->no_socks)
		rc = reserve(p, PC_LISTENER_SOCKS, p->socks, sizeof(p->socks));
	if (rc < 0) {
		set_err(err, err_size, "cannot listen on 127.0.0.1: %s", pc_strerror(rc));
		goto fail;
	}
	*out = p;
	return 0;
fail:
	portcullis_free(p);
	return rc < 0 ? rc : -EINVAL;
}

static int copy_address(const char *addr, char *buf, size_t size)
{
	if (addr[0] == '\0')
		return -ENOENT;
	if (strlen(addr) >= size)
		return -ENOSPC;
	memcpy(buf, addr, strlen(addr) + 1);
	return 0;
}

int portcullis_http_address(const struct portcullis *p, char *buf, size_t size)
{
	return copy_address(p->http, buf, size);
}

int portcullis_socks_address(const struct portcullis *p, char *buf, size_t size)
{
	return copy_address(p->socks, buf, size);
}

int portcullis_on_block(struct portcullis *p, portcullis_block_fn fn, void *data)
{
	if (p->running)
		return -EBUSY;
	p->on_block = fn;
	p->on_block_data = data;
	return 0;
}

static void on_drained(void *data)
{
	struct portcullis *p = data;

	uv_close((uv_handle_t *)&p->stop_async, NULL);
	p->async_open = false;
	uv_stop(&p->loop);
}

static void on_stop(uv_async_t *a)
{
	struct portcullis *p = a->data;

	pc_server_drain(p->server, p->grace_ms, on_drained, p);
}

static void run_loop(void *arg)
{
	struct portcullis *p = arg;

	uv_run(&p->loop, UV_RUN_DEFAULT);
}

int portcullis_start(struct portcullis *p)
{
	int rc;

	if (p->running || p->server == NULL)
		return -EINVAL;
	rc = uv_async_init(&p->loop, &p->stop_async, on_stop);
	if (rc < 0)
		return rc;
	p->stop_async.data = p;
	p->async_open = true;
	rc = uv_thread_create(&p->thread, run_loop, p);
	if (rc < 0) {
		uv_close((uv_handle_t *)&p->stop_async, NULL);
		p->async_open = false;
		uv_run(&p->loop, UV_RUN_NOWAIT);
		return rc;
	}
	p->running = true;
	return 0;
}

int portcullis_stop(struct portcullis *p, unsigned grace_ms)
{
	if (!p->running)
		return -EINVAL;
	p->grace_ms = grace_ms;
	uv_async_send(&p->stop_async);
	uv_thread_join(&p->thread);
	p->running = false;
	return 0;
}

uint64_t portcullis_blocked_count(const struct portcullis *p)
{
	return atomic_load(&((struct portcullis *)p)->blocked);
}

void portcullis_free(struct portcullis *p)
{
	if (p == NULL)
		return;
	if (p->running)
		portcullis_stop(p, 0);
	if (p->server != NULL)
		pc_server_free(p->server);
	if (p->async_open)
		uv_close((uv_handle_t *)&p->stop_async, NULL);
	if (p->loop_open) {
		uv_run(&p->loop, UV_RUN_DEFAULT);
		uv_loop_close(&p->loop);
	}
	pc_policy_unref(p->policy);
	free(p);
}
