/* run --isolate (SPEC §8): the command runs where the proxy is its only way out.
 *
 * The child, right after fork, unshares user, network and mount namespaces; the parent writes
 * its identity maps (root: the full range, so file access is unchanged; others: their own uid,
 * after setgroups=deny). The child then brings loopback up, creates the listeners the command
 * will use inside its namespace (close-on-exec) and passes them, with its network namespace, to
 * the parent over the socketpair (SCM_RIGHTS); binds portcullis's configuration, rules and
 * state read-only; drops the capabilities that could undo any of this (CAP_SYS_ADMIN,
 * CAP_NET_ADMIN and friends, from the bounding set); and installs a seccomp filter refusing
 * socket(AF_UNIX, ...) (file-system sockets are not covered by a network namespace), io_uring
 * (which can create sockets without the socket syscall) and reaching into other processes'
 * descriptors or memory. It execs only after the parent says go.
 *
 * Every step is required: any failure is reported to the parent, which exits with a one-line
 * reason; the command never runs unisolated. The child side uses only async-signal-safe calls,
 * and the fork happens before the proxy starts any thread. */
#ifndef PC_RUN_ISOLATE_H
#define PC_RUN_ISOLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "policy/addr.h"

#define PC_ISOLATE_RO_MAX 16

/* Everything the child needs, prepared before fork (the child may not allocate). */
struct pc_isolate_plan {
	int sock;                     /* the child's end of the socketpair */
	union pc_sockaddr http_addr;  /* listeners to create inside the namespace */
	union pc_sockaddr socks_addr;
	bool socks;
	size_t n_ro;
	const char *ro_paths[PC_ISOLATE_RO_MAX]; /* existing files or directories */
	unsigned long ro_flags[PC_ISOLATE_RO_MAX]; /* their mounts' locked flags (MS_NOSUID...) */
};

/* Adds path (if it exists) to the paths made read-only, with the flags its mount needs to
 * keep. Call before fork. Returns 0, or -ENOSPC when the plan is full. */
int pc_isolate_plan_ro(struct pc_isolate_plan *plan, const char *path);

/* In the child after fork: sets everything up and returns 0 once the parent said go (the
 * caller then execs). On failure reports to the parent and returns a negative errno; the
 * caller _exits. Async-signal-safe. */
int pc_isolate_child(const struct pc_isolate_plan *plan);

/* In the parent after fork: completes the child's namespaces and receives the listener fds and
 * the child's network namespace fd (socks_fd -1 when not planned). On failure returns a
 * negative errno with a one-line reason in why. */
int pc_isolate_parent(pid_t child, int sock, bool socks, int *http_fd, int *socks_fd,
		      int *netns_fd, char *why, size_t why_size);

/* Waits until the child finished every step, then lets it exec. On failure returns a negative
 * errno with a one-line reason in why. */
int pc_isolate_go(int sock, char *why, size_t why_size);

#endif
