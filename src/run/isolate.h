/* run --isolate (SPEC §8): the command runs where the proxy is its only way out.
 *
 * The child, right after fork, unshares user, network and mount namespaces; the parent writes
 * its identity maps (root: every identity root has, so file access is unchanged; others: their
 * own uid, after setgroups=deny). The child then brings loopback up, creates the listeners the
 * command will use inside its namespace (close-on-exec) and passes them, with its network
 * namespace, to the parent over the socketpair (SCM_RIGHTS); binds portcullis's configuration,
 * rules and state read-only and pins every directory above them, so that their paths keep
 * naming them; drops the capabilities that could undo any of this (CAP_SYS_ADMIN,
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

#define PC_ISOLATE_MOUNTS_MAX 128

/* One mount the child makes before the command starts. */
struct pc_isolate_mount {
	char *path;          /* a real path (no symbolic link in it), owned by the plan */
	unsigned long flags; /* read-only views: the locked flags the remount must keep */
	bool read_only;      /* else a directory above a read-only view, bound onto itself: a
	                        mount point cannot be renamed or removed (EBUSY), so the view's
	                        path cannot be made to name another file */
};

/* Everything the child needs, prepared before fork (the child may not allocate). Zero it,
 * add paths with pc_isolate_plan_ro, then call pc_isolate_plan_finish; free with
 * pc_isolate_plan_free. */
struct pc_isolate_plan {
	int sock;                    /* the child's end of the socketpair */
	union pc_sockaddr http_addr; /* listeners to create inside the namespace */
	union pc_sockaddr socks_addr;
	bool socks;
	char *cwd; /* the working directory, looked up again once the mounts are made */
	size_t n_mounts;
	struct pc_isolate_mount mounts[PC_ISOLATE_MOUNTS_MAX];
};

/* Makes path read-only inside, if it exists (a path inside one already planned is covered by
 * it). Returns 0, -ENOSPC when the plan is full or -ENOMEM. */
int pc_isolate_plan_ro(struct pc_isolate_plan *plan, const char *path);

/* Adds the directories above the read-only paths (each bound onto itself, outermost first,
 * before the read-only views) and records the working directory. Returns 0, -ENOSPC or
 * -ENOMEM. */
int pc_isolate_plan_finish(struct pc_isolate_plan *plan);

/* Frees what the plan owns. */
void pc_isolate_plan_free(struct pc_isolate_plan *plan);

/* In the child after fork: sets everything up and returns 0 once the parent said go (the
 * caller then execs). On failure reports to the parent and returns a negative errno; the
 * caller _exits. Async-signal-safe. */
int pc_isolate_child(const struct pc_isolate_plan *plan);

/* In the parent after fork: completes the child's namespaces and receives the listener fds and
 * the child's network namespace fd (socks_fd -1 when not planned). On failure returns a
 * negative errno with a one-line reason in why. */
int pc_isolate_parent(pid_t child, const struct pc_isolate_plan *plan, int sock, int *http_fd,
                      int *socks_fd, int *netns_fd, char *why, size_t why_size);

/* Waits until the child finished every step, then lets it exec. On failure returns a negative
 * errno with a one-line reason in why. */
int pc_isolate_go(const struct pc_isolate_plan *plan, int sock, char *why, size_t why_size);

#endif
