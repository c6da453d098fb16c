#include "proxy/server.h"

#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/log.h"
#include "http/proxy.h"
#include "proxy/netns.h"
#include "socks/proxy.h"

#define LISTENERS_MAX   8
#define LOCAL_ADDRS_MAX 64
/* Buffers kept for reuse. Each is a mapping of its own (core/bufpool.h) whose untouched pages
 * cost nothing, so keeping enough for a few hundred busy connections costs little resident
 * memory and spares the mmap/munmap and page faults a smaller pool pays at every burst. */
#define POOL_KEEP 512
/* A resolver replaced by a reload lives on until its last lookup (2 s deadline) is over. */
#define RESOLVER_RETIRE_MS 5000
/* File descriptors kept for everything but connections (logs, resolver sockets, files). */
#define FD_RESERVE 64

struct retired_resolver {
	uv_timer_t timer;
	struct pc_resolver *resolver;
	struct pc_server *server;
	struct retired_resolver *next;
};

struct pc_server {
	uv_loop_t *loop;
	struct pc_policy *policy;
	struct pc_resolver *resolver;
	char *resolver_servers; /* the dns_servers list the resolver was made with */
	struct retired_resolver *retired;
	struct pc_audit *audit;
	struct pc_bufpool pool;
	pc_block_hook block_hook;
	void *block_hook_data;

	struct {
		struct pc_listener *l;
		enum pc_listener_kind kind;
		union pc_sockaddr addr;
	} listeners[LISTENERS_MAX];
	size_t n_listeners;
	bool paused;
	union pc_sockaddr local[LOCAL_ADDRS_MAX]; /* interface addresses, for wildcard listeners */
	size_t n_local;

	struct pc_conn_link conns; /* list head */
	size_t n_conns;
	size_t fd_cap; /* connections the fd limit admits */

	/* run --isolate: makes the UDP relay sockets inside the client's network namespace */
	struct pc_netns_worker *netns;

	bool draining;
	uv_timer_t drain_timer;
	bool drain_timer_init;
	void (*drain_done)(void *data);
	void *drain_data;
};

static char *join_servers(const struct pc_settings *st)
{
	size_t len = 1;
	char *out;

	for (size_t i = 0; i < st->dns_servers.len; i++)
		len += strlen(st->dns_servers.items[i]) + 1;
	out = malloc(len);
	if (out == NULL)
		return NULL;
	out[0] = '\0';
	for (size_t i = 0; i < st->dns_servers.len; i++) {
		if (i > 0)
			strcat(out, ",");
		strcat(out, st->dns_servers.items[i]);
	}
	return out;
}

int pc_server_new(uv_loop_t *loop, struct pc_policy *policy, const char *audit_path,
                  struct pc_server **out)
{
	struct pc_server *s = calloc(1, sizeof(*s));
	struct rlimit rl;
	int rc;

	*out = NULL;
	if (s == NULL)
		return -ENOMEM;
	s->loop = loop;
	s->conns.next = s->conns.prev = &s->conns;
	pc_bufpool_init(&s->pool, POOL_KEEP);
	s->fd_cap = SIZE_MAX;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		s->fd_cap = rl.rlim_cur > 2 * FD_RESERVE ? (rl.rlim_cur - FD_RESERVE) / 2 : 1;
	s->resolver_servers = join_servers(pc_policy_settings(policy));
	if (s->resolver_servers == NULL) {
		free(s);
		return -ENOMEM;
	}
	rc = pc_resolver_new(loop, s->resolver_servers, &s->resolver);
	if (rc == 0)
		rc = pc_audit_new(audit_path, &s->audit);
	if (rc < 0) {
		pc_resolver_free(s->resolver);
		free(s->resolver_servers);
		free(s);
		return rc;
	}
	s->policy = pc_policy_ref(policy);
	*out = s;
	return 0;
}

static void retire_now(struct retired_resolver *rr);

static void on_server_closed(uv_handle_t *h)
{
	free(h->data);
}

void pc_server_free(struct pc_server *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n_listeners; i++)
		pc_listener_close(s->listeners[i].l);
	while (s->retired != NULL)
		retire_now(s->retired);
	pc_resolver_free(s->resolver);
	free(s->resolver_servers);
	pc_audit_free(s->audit);
	pc_policy_unref(s->policy);
	pc_bufpool_destroy(&s->pool);
	pc_netns_worker_stop(s->netns);
	if (s->drain_timer_init) {
		/* the embedded timer is freed with the server once libuv is done with it */
		s->drain_timer.data = s;
		uv_close((uv_handle_t *)&s->drain_timer, on_server_closed);
		return;
	}
	free(s);
}

static size_t max_conns(const struct pc_server *s)
{
	size_t cap = (size_t)pc_policy_settings(s->policy)->max_connections;
	return cap < s->fd_cap ? cap : s->fd_cap;
}

static void update_accepting(struct pc_server *s)
{
	bool pause = s->draining || s->n_conns >= max_conns(s);

	if (pause == s->paused)
		return;
	s->paused = pause;
	for (size_t i = 0; i < s->n_listeners; i++) {
		if (pause)
			pc_listener_pause(s->listeners[i].l);
		else
			pc_listener_resume(s->listeners[i].l);
	}
}

static bool is_wildcard(const union pc_sockaddr *a)
{
	static const struct in6_addr any6 = IN6ADDR_ANY_INIT;

	if (a->sa.sa_family == AF_INET)
		return a->in.sin_addr.s_addr == htonl(INADDR_ANY);
	return memcmp(&a->in6.sin6_addr, &any6, sizeof(any6)) == 0;
}

/* sa as a connect would see it: an IPv4-mapped IPv6 address reaches the IPv4 address. out
 * must not overlap sa. */
static void canonical(const struct sockaddr *sa, union pc_sockaddr *out)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	memset(out, 0, sizeof(*out));
	if (sa->sa_family == AF_INET) {
		memcpy(&out->in, sa, sizeof(out->in));
		return;
	}
	memcpy(&out->in6, sa, sizeof(out->in6));
	if (memcmp(out->in6.sin6_addr.s6_addr, mapped, 12) == 0) {
		struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = out->in6.sin6_port};
		memcpy(&in.sin_addr, out->in6.sin6_addr.s6_addr + 12, 4);
		memset(out, 0, sizeof(*out));
		out->in = in;
	}
}

static bool same_address(const union pc_sockaddr *a, const union pc_sockaddr *b)
{
	if (a->sa.sa_family != b->sa.sa_family)
		return false;
	if (a->sa.sa_family == AF_INET)
		return a->in.sin_addr.s_addr == b->in.sin_addr.s_addr;
	return memcmp(&a->in6.sin6_addr, &b->in6.sin6_addr, 16) == 0;
}

/* Addresses of this host's interfaces, for listeners on a wildcard address. */
static void learn_local_addresses(struct pc_server *s)
{
	struct ifaddrs *ifa, *i;

	s->n_local = 0;
	if (getifaddrs(&ifa) < 0)
		return;
	for (i = ifa; i != NULL && s->n_local < LOCAL_ADDRS_MAX; i = i->ifa_next) {
		if (i->ifa_addr == NULL ||
		    (i->ifa_addr->sa_family != AF_INET && i->ifa_addr->sa_family != AF_INET6))
			continue;
		canonical(i->ifa_addr, &s->local[s->n_local++]);
	}
	freeifaddrs(ifa);
}

static void on_http_accept(void *data, int fd, const union pc_sockaddr *peer)
{
	pc_http_accept(data, fd, peer);
}

static void on_socks_accept(void *data, int fd, const union pc_sockaddr *peer)
{
	pc_socks_accept(data, fd, peer);
}

int pc_server_listen(struct pc_server *s, enum pc_listener_kind kind, int fd)
{
	struct pc_listener *l;
	int rc;

	if (s->n_listeners == LISTENERS_MAX) {
		close(fd);
		return -ENOSPC;
	}
	rc = pc_listener_start(s->loop, fd,
	                       kind == PC_LISTENER_HTTP ? on_http_accept : on_socks_accept, s, &l);
	if (rc < 0)
		return rc;
	s->listeners[s->n_listeners].l = l;
	s->listeners[s->n_listeners].kind = kind;
	rc = pc_listener_address(l, &s->listeners[s->n_listeners].addr);
	if (rc < 0) {
		pc_listener_close(l);
		return rc;
	}
	{
		union pc_sockaddr bound = s->listeners[s->n_listeners].addr;
		canonical(&bound.sa, &s->listeners[s->n_listeners].addr);
	}
	if (is_wildcard(&s->listeners[s->n_listeners].addr))
		learn_local_addresses(s);
	s->n_listeners++;
	if (s->paused)
		pc_listener_pause(l);
	return 0;
}

int pc_server_listen_address(const struct pc_server *s, enum pc_listener_kind kind,
                             union pc_sockaddr *out)
{
	for (size_t i = 0; i < s->n_listeners; i++) {
		if (s->listeners[i].kind == kind) {
			*out = s->listeners[i].addr;
			return 0;
		}
	}
	return -ENOENT;
}

bool pc_server_is_self(const struct pc_server *s, const struct sockaddr *sa)
{
	union pc_sockaddr a;

	canonical(sa, &a);
	for (size_t i = 0; i < s->n_listeners; i++) {
		const union pc_sockaddr *l = &s->listeners[i].addr;

		if (pc_addr_port(&a) != pc_addr_port(l))
			continue;
		if (same_address(&a, l))
			return true;
		if (!is_wildcard(l))
			continue;
		/* a wildcard listener answers on loopback and every interface address */
		if (pc_addr_is_loopback(&a.sa))
			return true;
		for (size_t j = 0; j < s->n_local; j++)
			if (same_address(&a, &s->local[j]))
				return true;
	}
	return false;
}

struct pc_policy *pc_server_policy(const struct pc_server *s)
{
	return s->policy;
}

static void on_retired_close(uv_handle_t *h)
{
	free(h->data);
}

static void retire_now(struct retired_resolver *rr)
{
	struct retired_resolver **pp = &rr->server->retired;

	while (*pp != rr)
		pp = &(*pp)->next;
	*pp = rr->next;
	pc_resolver_free(rr->resolver);
	rr->timer.data = rr;
	uv_close((uv_handle_t *)&rr->timer, on_retired_close);
}

static void on_retire(uv_timer_t *t)
{
	retire_now(t->data);
}

int pc_server_set_policy(struct pc_server *s, struct pc_policy *policy)
{
	char *servers = join_servers(pc_policy_settings(policy));
	int rc;

	if (servers == NULL)
		return -ENOMEM;
	if (strcmp(servers, s->resolver_servers) != 0) {
		struct pc_resolver *r;
		struct retired_resolver *rr = malloc(sizeof(*rr));

		if (rr == NULL) {
			free(servers);
			return -ENOMEM;
		}
		rc = pc_resolver_new(s->loop, servers, &r);
		if (rc < 0) {
			free(rr);
			free(servers);
			return rc;
		}
		/* lookups under way finish on the old resolver */
		rr->resolver = s->resolver;
		rr->server = s;
		rr->next = s->retired;
		s->retired = rr;
		uv_timer_init(s->loop, &rr->timer);
		rr->timer.data = rr;
		uv_timer_start(&rr->timer, on_retire, RESOLVER_RETIRE_MS, 0);
		uv_unref((uv_handle_t *)&rr->timer);
		s->resolver = r;
		free(s->resolver_servers);
		s->resolver_servers = servers;
	} else {
		free(servers);
	}
	pc_policy_unref(s->policy);
	s->policy = pc_policy_ref(policy);
	update_accepting(s);
	return 0;
}

struct pc_resolver *pc_server_resolver(const struct pc_server *s)
{
	return s->resolver;
}

struct pc_bufpool *pc_server_pool(struct pc_server *s)
{
	return &s->pool;
}

uv_loop_t *pc_server_loop(const struct pc_server *s)
{
	return s->loop;
}

void pc_server_record_block(struct pc_server *s, const struct pc_block *b)
{
	pc_audit_record(s->audit, b);
	if (s->block_hook != NULL)
		s->block_hook(s->block_hook_data, b);
}

struct pc_audit *pc_server_audit(const struct pc_server *s)
{
	return s->audit;
}

void pc_server_set_block_hook(struct pc_server *s, pc_block_hook hook, void *data)
{
	s->block_hook = hook;
	s->block_hook_data = data;
}

bool pc_server_conn_add(struct pc_server *s, struct pc_conn_link *l)
{
	if (s->draining)
		return false;
	l->next = s->conns.next;
	l->prev = &s->conns;
	s->conns.next->prev = l;
	s->conns.next = l;
	s->n_conns++;
	update_accepting(s);
	return true;
}

static void drain_finish(struct pc_server *s)
{
	void (*done)(void *) = s->drain_done;

	if (done == NULL)
		return;
	s->drain_done = NULL;
	uv_timer_stop(&s->drain_timer);
	done(s->drain_data);
}

void pc_server_conn_remove(struct pc_server *s, struct pc_conn_link *l)
{
	l->prev->next = l->next;
	l->next->prev = l->prev;
	l->next = l->prev = l;
	s->n_conns--;
	update_accepting(s);
	if (s->draining && s->n_conns == 0)
		drain_finish(s);
}

size_t pc_server_conn_count(const struct pc_server *s)
{
	return s->n_conns;
}

bool pc_server_draining(const struct pc_server *s)
{
	return s->draining;
}

static void on_drain_timeout(uv_timer_t *t)
{
	struct pc_server *s = t->data;
	struct pc_conn_link *l = s->conns.next;

	if (s->n_conns > 0)
		pc_log_warnx("closing %zu connections still open after the grace period",
		             s->n_conns);
	/* abort may unlink the connection at once or later; walk with care */
	while (l != &s->conns) {
		struct pc_conn_link *next = l->next;
		l->abort(l);
		l = next;
	}
	drain_finish(s);
}

void pc_server_drain(struct pc_server *s, uint64_t grace_ms, void (*done)(void *data), void *data)
{
	struct pc_conn_link *l;

	s->draining = true;
	s->drain_done = done;
	s->drain_data = data;
	for (size_t i = 0; i < s->n_listeners; i++)
		pc_listener_close(s->listeners[i].l);
	s->n_listeners = 0;
	s->paused = true;
	if (!s->drain_timer_init) {
		uv_timer_init(s->loop, &s->drain_timer);
		s->drain_timer.data = s;
		s->drain_timer_init = true;
	}
	uv_timer_start(&s->drain_timer, on_drain_timeout, grace_ms, 0);
	l = s->conns.next;
	while (l != &s->conns) {
		struct pc_conn_link *next = l->next;
		l->drain(l);
		l = next;
	}
	if (s->n_conns == 0)
		drain_finish(s);
}

int pc_server_set_client_netns(struct pc_server *s, int netns_fd)
{
	pc_netns_worker_stop(s->netns);
	s->netns = NULL;
	return pc_netns_worker_start(netns_fd, &s->netns);
}

int pc_server_udp_socket(struct pc_server *s, const union pc_sockaddr *local)
{
	if (s->netns != NULL)
		return pc_netns_udp_socket(s->netns, local);
	return pc_udp_relay_socket(local);
}
