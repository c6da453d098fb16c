/* The proxy runtime shared by the front ends (HTTP, SOCKS5): listeners, the current policy
 * generation, the resolver, audit records, connection accounting, reload and draining.
 *
 * One server runs on one libuv loop. Front ends register each connection (pc_server_conn_add)
 * and unregister it when its memory is released; the server pauses its listeners at
 * max_connections and resumes them below it. */
#ifndef PC_PROXY_SERVER_H
#define PC_PROXY_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "audit/audit.h"
#include "core/bufpool.h"
#include "net/listen.h"
#include "net/resolve.h"
#include "policy/policy.h"

struct pc_server;

/* A connection as the server sees it, embedded in each front end's connection object. */
struct pc_conn_link {
	struct pc_conn_link *prev, *next;
	/* Stop taking new requests: close now if idle, else after the current exchange. */
	void (*drain)(struct pc_conn_link *l);
	/* Close now. */
	void (*abort)(struct pc_conn_link *l);
};

enum pc_listener_kind {
	PC_LISTENER_HTTP = 0,
	PC_LISTENER_SOCKS = 1,
};

/* Called for every block (after it is recorded), e.g. by the library's event callback. */
typedef void (*pc_block_hook)(void *data, const struct pc_block *b);

/* Creates a server on loop with policy (a reference is taken). audit_path as for
 * pc_audit_new. max_connections is further capped by the caller's RLIMIT_NOFILE. */
int pc_server_new(uv_loop_t *loop, struct pc_policy *policy, const char *audit_path,
                  struct pc_server **out);
/* Frees a server whose connections are all gone and whose listeners are closed (after
 * pc_server_drain completed or before anything started). The loop must run afterwards so
 * closing handles complete. */
void pc_server_free(struct pc_server *s);

/* Starts accepting on a listening fd (taken). */
int pc_server_listen(struct pc_server *s, enum pc_listener_kind kind, int fd);
/* The address of the first listener of kind, or -ENOENT. */
int pc_server_listen_address(const struct pc_server *s, enum pc_listener_kind kind,
                             union pc_sockaddr *out);
/* True when sa:port is one of this server's own listeners (a request to it would loop). */
bool pc_server_is_self(const struct pc_server *s, const struct sockaddr *sa);

/* The current policy generation (borrowed: take a reference to keep it). */
struct pc_policy *pc_server_policy(const struct pc_server *s);
/* Installs a new generation (a reference is taken) for every request that starts from now on;
 * requests under way keep theirs. Recreates the resolver when dns_servers changed. Returns 0
 * or a negative error (the old generation stays). */
int pc_server_set_policy(struct pc_server *s, struct pc_policy *policy);

struct pc_resolver *pc_server_resolver(const struct pc_server *s);
struct pc_bufpool *pc_server_pool(struct pc_server *s);
uv_loop_t *pc_server_loop(const struct pc_server *s);

/* Records a block: audit log, ring, summary counts, hook. */
void pc_server_record_block(struct pc_server *s, const struct pc_block *b);
struct pc_audit *pc_server_audit(const struct pc_server *s);
void pc_server_set_block_hook(struct pc_server *s, pc_block_hook hook, void *data);

/* Connection accounting. add returns false when the server is draining (the caller closes
 * the new connection at once). */
bool pc_server_conn_add(struct pc_server *s, struct pc_conn_link *l);
void pc_server_conn_remove(struct pc_server *s, struct pc_conn_link *l);
size_t pc_server_conn_count(const struct pc_server *s);
bool pc_server_draining(const struct pc_server *s);

/* A bound UDP socket (non-blocking, close-on-exec) on local's address with a port the kernel
 * picks, for a SOCKS5 UDP relay facing the client: the one place such sockets are made, so
 * that under run --isolate they are made inside the client's network namespace. Returns the
 * fd or -errno. */
int pc_server_udp_socket(struct pc_server *s, const union pc_sockaddr *local);
/* Makes pc_server_udp_socket create its sockets in the network namespace netns_fd (borrowed
 * for the call), through a thread that stays inside it (proxy/netns.h). Returns 0, or -errno
 * when that namespace cannot be entered (pc_server_udp_socket is then unchanged). */
int pc_server_set_client_netns(struct pc_server *s, int netns_fd);

/* Stops accepting, asks every connection to drain, and calls done once none is left or after
 * grace_ms (when the rest are aborted). */
void pc_server_drain(struct pc_server *s, uint64_t grace_ms, void (*done)(void *data), void *data);

#endif
