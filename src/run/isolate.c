#include "run/isolate.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/error.h"

/* Messages on the socketpair (SOCK_SEQPACKET: one message per send). */
enum {
	MSG_UNSHARED = 1, /* child → parent: write my maps */
	MSG_MAPPED,       /* parent → child */
	MSG_FDS,          /* child → parent, with SCM_RIGHTS */
	MSG_READY,        /* child → parent: every step done */
	MSG_GO,           /* parent → child: exec */
	MSG_FAIL,         /* child → parent: step and errno */
};

enum step {
	STEP_UNSHARE = 1,
	STEP_WAIT,
	STEP_LOOPBACK,
	STEP_LISTEN,
	STEP_NETNS,
	STEP_SEND,
	STEP_MOUNT,
	STEP_CWD,
	STEP_CAPS,
	STEP_SECCOMP,
};

struct msg {
	int32_t kind;
	int32_t step;
	int32_t err;
	int32_t mount; /* STEP_MOUNT: the index of the mount that failed, else -1 */
};

static const char *step_name(int step)
{
	switch (step) {
	case STEP_UNSHARE:
		return "create user, network and mount namespaces";
	case STEP_WAIT:
		return "coordinate with the proxy";
	case STEP_LOOPBACK:
		return "bring up loopback in the new network namespace";
	case STEP_LISTEN:
		return "create the proxy listeners inside the namespace";
	case STEP_NETNS:
		return "open the new network namespace";
	case STEP_SEND:
		return "pass the listeners to the proxy";
	case STEP_MOUNT:
		return "make portcullis's files read-only";
	case STEP_CWD:
		return "enter the working directory again";
	case STEP_CAPS:
		return "drop capabilities";
	case STEP_SECCOMP:
		return "install the seccomp filter";
	}
	return "set up isolation";
}

/* True when path is base or lies below it. */
static bool path_within(const char *path, const char *base)
{
	size_t len = strlen(base);

	return strncmp(path, base, len) == 0 &&
	       (path[len] == '\0' || path[len] == '/' || (len == 1 && base[0] == '/'));
}

static size_t path_depth(const char *path)
{
	size_t depth = 0;

	for (; *path != '\0'; path++)
		depth += *path == '/';
	return depth;
}

static void drop_mount(struct pc_isolate_plan *plan, size_t i)
{
	free(plan->mounts[i].path);
	plan->mounts[i] = plan->mounts[--plan->n_mounts];
}

static int add_mount(struct pc_isolate_plan *plan, char *path, unsigned long flags, bool ro)
{
	if (plan->n_mounts == PC_ISOLATE_MOUNTS_MAX) {
		free(path);
		return -ENOSPC;
	}
	plan->mounts[plan->n_mounts++] = (struct pc_isolate_mount){path, flags, ro};
	return 0;
}

int pc_isolate_plan_ro(struct pc_isolate_plan *plan, const char *path)
{
	struct statvfs st;
	unsigned long flags = 0;
	char *real;

	/* The real path: the mount lands there whatever symbolic links lead to it, and the
	 * directories to pin are the ones above it. */
	real = path != NULL ? realpath(path, NULL) : NULL;
	if (real == NULL)
		return path != NULL && errno == ENOMEM ? -ENOMEM : 0; /* nothing to protect */
	if (statvfs(real, &st) < 0) {
		free(real);
		return 0;
	}
	for (size_t i = 0; i < plan->n_mounts; i++) {
		if (path_within(real, plan->mounts[i].path)) {
			free(real);
			return 0;
		}
	}
	for (size_t i = plan->n_mounts; i-- > 0;)
		if (path_within(plan->mounts[i].path, real))
			drop_mount(plan, i);
	/* A remount inside a user namespace must keep the flags that lock the mount. */
	if (st.f_flag & ST_NOSUID)
		flags |= MS_NOSUID;
	if (st.f_flag & ST_NODEV)
		flags |= MS_NODEV;
	if (st.f_flag & ST_NOEXEC)
		flags |= MS_NOEXEC;
	if (st.f_flag & ST_NOATIME)
		flags |= MS_NOATIME;
	if (st.f_flag & ST_NODIRATIME)
		flags |= MS_NODIRATIME;
	if (st.f_flag & ST_RELATIME)
		flags |= MS_RELATIME;
	return add_mount(plan, real, flags, true);
}

/* Pins first, outermost first: each lands on top of the ones above it, and the read-only
 * views on top of them all. */
static int mount_order(const void *a, const void *b)
{
	const struct pc_isolate_mount *x = a, *y = b;
	size_t dx = path_depth(x->path), dy = path_depth(y->path);

	if (x->read_only != y->read_only)
		return x->read_only ? 1 : -1;
	return dx < dy ? -1 : dx > dy;
}

int pc_isolate_plan_finish(struct pc_isolate_plan *plan)
{
	size_t n_ro = plan->n_mounts;
	int rc;

	for (size_t i = 0; i < n_ro; i++) {
		const char *p = plan->mounts[i].path;

		for (const char *slash = strchr(p + 1, '/'); slash != NULL;
		     slash = strchr(slash + 1, '/')) {
			size_t len = (size_t)(slash - p), j;
			char *dir;

			for (j = n_ro; j < plan->n_mounts; j++)
				if (strlen(plan->mounts[j].path) == len &&
				    strncmp(plan->mounts[j].path, p, len) == 0)
					break;
			if (j < plan->n_mounts)
				continue;
			dir = strndup(p, len);
			if (dir == NULL)
				return -ENOMEM;
			if ((rc = add_mount(plan, dir, 0, false)) < 0)
				return rc;
		}
	}
	qsort(plan->mounts, plan->n_mounts, sizeof(plan->mounts[0]), mount_order);
	plan->cwd = getcwd(NULL, 0);
	if (plan->cwd == NULL && errno == ENOMEM)
		return -ENOMEM;
	return 0;
}

void pc_isolate_plan_free(struct pc_isolate_plan *plan)
{
	for (size_t i = 0; i < plan->n_mounts; i++)
		free(plan->mounts[i].path);
	plan->n_mounts = 0;
	free(plan->cwd);
	plan->cwd = NULL;
}

/* ---- the child (async-signal-safe from here to pc_isolate_child's end) ---- */

static int child_fail(int sock, enum step step, int err)
{
	struct msg m = {MSG_FAIL, step, err, -1};

	send(sock, &m, sizeof(m), MSG_NOSIGNAL);
	return -err;
}

static int send_msg(int sock, int kind)
{
	struct msg m = {kind, 0, 0, -1};

	return send(sock, &m, sizeof(m), MSG_NOSIGNAL) == (ssize_t)sizeof(m) ? 0 : -EPIPE;
}

static int wait_msg(int sock, int kind)
{
	struct msg m;
	ssize_t n;

	do
		n = recv(sock, &m, sizeof(m), 0);
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)sizeof(m) && m.kind == kind ? 0 : -EPIPE;
}

static int loopback_up(void)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = 0;

	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, "lo", 3);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) {
		rc = -errno;
	} else {
		ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
		if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
			rc = -errno;
	}
	close(fd);
	return rc;
}

static int listen_on(const union pc_sockaddr *a)
{
	static const int on = 1;
	int fd = socket(a->sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), rc;

	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) < 0 ||
	    bind(fd, &a->sa, pc_addr_len(a)) < 0 || listen(fd, 1024) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

static int send_fds(int sock, const int *fds, size_t n)
{
	struct msg m = {MSG_FDS, 0, 0, -1};
	union {
		char buf[CMSG_SPACE(3 * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = {&m, sizeof(m)};
	struct msghdr mh;
	struct cmsghdr *cm;

	memset(&mh, 0, sizeof(mh));
	memset(&u, 0, sizeof(u));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = u.buf;
	mh.msg_controllen = CMSG_SPACE(n * sizeof(int));
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(n * sizeof(int));
	memcpy(CMSG_DATA(cm), fds, n * sizeof(int));
	return sendmsg(sock, &mh, MSG_NOSIGNAL) == (ssize_t)sizeof(m) ? 0 : -errno;
}

/* Makes the planned mounts. Fails with the errno and the index of the mount that failed. */
static int make_read_only(const struct pc_isolate_plan *plan)
{
	const unsigned long read_only = MS_REMOUNT | MS_BIND | MS_RDONLY;
	struct msg m = {MSG_FAIL, STEP_MOUNT, 0, -1};

	/* nothing done here may reach the mounts of the proxy's namespace */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		goto fail;
	for (size_t i = 0; i < plan->n_mounts; i++) {
		const struct pc_isolate_mount *p = &plan->mounts[i];

		m.mount = (int32_t)i;
		if (mount(p->path, p->path, NULL, MS_BIND | MS_REC, NULL) < 0)
			goto fail;
		if (p->read_only && mount(NULL, p->path, NULL, read_only | p->flags, NULL) < 0)
			goto fail;
	}
	return 0;
fail:
	m.err = errno;
	send(plan->sock, &m, sizeof(m), MSG_NOSIGNAL);
	return -m.err;
}

/* Capabilities the command must never have, even as root of its user namespace: they could
 * unmount the read-only views, reconfigure the network namespace, or reach the kernel. */
static const int dropped_caps[] = {
        CAP_SYS_ADMIN, CAP_NET_ADMIN, CAP_NET_RAW,   CAP_SYS_PTRACE,   CAP_SYS_MODULE,
        CAP_SYS_RAWIO, CAP_SYS_BOOT,  CAP_MAC_ADMIN, CAP_MAC_OVERRIDE, CAP_SYSLOG,
        CAP_BPF,       CAP_PERFMON,   CAP_SYS_TIME,  CAP_SETPCAP,
};

static int drop_caps(void)
{
	for (size_t i = 0; i < sizeof(dropped_caps) / sizeof(dropped_caps[0]); i++)
		if (prctl(PR_CAPBSET_DROP, dropped_caps[i], 0, 0, 0) < 0 && errno != EINVAL)
			return -errno;
	return 0;
}

#if defined(__x86_64__)
#define PC_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define PC_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

#define SYSCALL_NR   offsetof(struct seccomp_data, nr)
#define SYSCALL_ARG0 offsetof(struct seccomp_data, args[0])
#define DENY(err)    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((err)&SECCOMP_RET_DATA))
#define ALLOW        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)
/* if the syscall number is nr, continue at the next instruction, else skip one */
#define IF_NR(nr) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1)

static int install_seccomp(void)
{
#ifdef PC_AUDIT_ARCH
	static struct sock_filter filter[] = {
	        /* another ABI (i386 through int 0x80, x32) would bypass the numbers below */
	        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
	        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PC_AUDIT_ARCH, 1, 0),
	        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
	        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SYSCALL_NR),
#ifdef __x86_64__
	        BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 0, 1),
	        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
#endif
	        /* io_uring can open sockets without socket(2); programs fall back on ENOSYS */
	        IF_NR(__NR_io_uring_setup),
	        DENY(ENOSYS),
	        /* another process's descriptors or memory */
	        IF_NR(__NR_pidfd_getfd),
	        DENY(EPERM),
	        IF_NR(__NR_process_vm_readv),
	        DENY(EPERM),
	        IF_NR(__NR_process_vm_writev),
	        DENY(EPERM),
	        /* socket(AF_UNIX, ...): file-system sockets lie outside the network namespace */
	        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_socket, 0, 3),
	        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SYSCALL_ARG0),
	        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_UNIX, 0, 1),
	        DENY(EPERM),
	        ALLOW,
	};
	struct sock_fprog prog = {(unsigned short)(sizeof(filter) / sizeof(filter[0])), filter};

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0)
		return -errno;
	return 0;
#else
	return -ENOTSUP;
#endif
}

int pc_isolate_child(const struct pc_isolate_plan *plan)
{
	int fds[3], n = 0, rc;

	if (unshare(CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWNS) < 0)
		return child_fail(plan->sock, STEP_UNSHARE, errno);
	if (send_msg(plan->sock, MSG_UNSHARED) < 0 || wait_msg(plan->sock, MSG_MAPPED) < 0)
		return child_fail(plan->sock, STEP_WAIT, EPIPE);
	if ((rc = loopback_up()) < 0)
		return child_fail(plan->sock, STEP_LOOPBACK, -rc);
	if ((fds[n++] = listen_on(&plan->http_addr)) < 0)
		return child_fail(plan->sock, STEP_LISTEN, -fds[n - 1]);
	if (plan->socks && (fds[n++] = listen_on(&plan->socks_addr)) < 0)
		return child_fail(plan->sock, STEP_LISTEN, -fds[n - 1]);
	if ((fds[n++] = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)) < 0)
		return child_fail(plan->sock, STEP_NETNS, errno);
	rc = send_fds(plan->sock, fds, (size_t)n);
	/* the proxy holds them now; the command must not */
	for (int i = 0; i < n; i++)
		close(fds[i]);
	if (rc < 0)
		return child_fail(plan->sock, STEP_SEND, -rc);
	if (make_read_only(plan) < 0)
		return -EPERM;
	/* The working directory was looked up before those mounts were made: relative paths
	 * from it would reach around them. */
	if (plan->cwd != NULL && chdir(plan->cwd) < 0)
		return child_fail(plan->sock, STEP_CWD, errno);
	if ((rc = drop_caps()) < 0)
		return child_fail(plan->sock, STEP_CAPS, -rc);
	if ((rc = install_seccomp()) < 0)
		return child_fail(plan->sock, STEP_SECCOMP, -rc);
	if (send_msg(plan->sock, MSG_READY) < 0 || wait_msg(plan->sock, MSG_GO) < 0)
		return -EPIPE;
	return 0;
}

/* ---- the parent ---- */

static int write_file(pid_t pid, const char *name, const char *text)
{
	char path[64];
	size_t len = strlen(text);
	int fd, rc = 0;

	snprintf(path, sizeof(path), "/proc/%ld/%s", (long)pid, name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, text, len) != (ssize_t)len)
		rc = -errno;
	close(fd);
	return rc;
}

/* Maps every identity of run's own user namespace to itself in the child's ("0 0 4294967295"
 * in the initial namespace, "0 0 1" for root of a namespace that maps one identity). */
static int mirror_map(pid_t pid, const char *name)
{
	char path[32], in[8192], out[8192];
	size_t len = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, in, sizeof(in) - 1);
	close(fd);
	if (n <= 0 || n == (ssize_t)sizeof(in) - 1)
		return n < 0 ? -errno : -EINVAL;
	in[n] = '\0';
	for (char *line = in, *next; *line != '\0'; line = next) {
		unsigned long first, outside, count;
		int w;

		next = strchr(line, '\n');
		next = next != NULL ? next + 1 : line + strlen(line);
		if (sscanf(line, "%lu %lu %lu", &first, &outside, &count) != 3)
			return -EINVAL;
		w = snprintf(out + len, sizeof(out) - len, "%lu %lu %lu\n", first, first, count);
		if (w < 0 || (size_t)w >= sizeof(out) - len)
			return -E2BIG;
		len += (size_t)w;
	}
	/* the whole map in one write, as the kernel requires */
	return write_file(pid, name, out);
}

static int write_maps(pid_t pid)
{
	char map[64];
	int rc;

	if (geteuid() == 0) {
		/* root keeps every identity it has, so file access inside is what it was outside */
		rc = mirror_map(pid, "uid_map");
		if (rc == 0)
			rc = mirror_map(pid, "gid_map");
		return rc;
	}
	rc = write_file(pid, "setgroups", "deny\n");
	if (rc < 0)
		return rc;
	snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)geteuid(), (unsigned)geteuid());
	rc = write_file(pid, "uid_map", map);
	if (rc < 0)
		return rc;
	snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)getegid(), (unsigned)getegid());
	return write_file(pid, "gid_map", map);
}

/* Receives one message; with fds (up to 3) when it is MSG_FDS. */
static int recv_msg(int sock, struct msg *m, int *fds, size_t *nfds)
{
	union {
		char buf[CMSG_SPACE(3 * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = {m, sizeof(*m)};
	struct msghdr mh;
	struct cmsghdr *cm;
	ssize_t n;

	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = u.buf;
	mh.msg_controllen = sizeof(u.buf);
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n != (ssize_t)sizeof(*m))
		return -EPIPE;
	*nfds = 0;
	for (cm = CMSG_FIRSTHDR(&mh); cm != NULL; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
			size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			if (k > 3)
				k = 3;
			memcpy(fds, CMSG_DATA(cm), k * sizeof(int));
			*nfds = k;
		}
	}
	return 0;
}

/* The reason for a MSG_FAIL, as one line. */
static int failure(const struct pc_isolate_plan *plan, const struct msg *m, char *why,
                   size_t why_size)
{
	if (m->step == STEP_MOUNT && m->mount >= 0 && (size_t)m->mount < plan->n_mounts)
		snprintf(why, why_size, "cannot %s (%s %s): %s", step_name(m->step),
		         plan->mounts[m->mount].read_only ? "read-only view of" : "pinning",
		         plan->mounts[m->mount].path, strerror(m->err));
	else
		snprintf(why, why_size, "cannot %s: %s", step_name(m->step), strerror(m->err));
	return m->err > 0 ? -m->err : -EPROTO;
}

int pc_isolate_parent(pid_t child, const struct pc_isolate_plan *plan, int sock, int *http_fd,
                      int *socks_fd, int *netns_fd, char *why, size_t why_size)
{
	struct msg m;
	int fds[3], rc;
	size_t nfds = 0, want = plan->socks ? 3 : 2;

	*http_fd = *socks_fd = *netns_fd = -1;
	rc = recv_msg(sock, &m, fds, &nfds);
	if (rc == 0 && m.kind == MSG_UNSHARED) {
		rc = write_maps(child);
		if (rc < 0) {
			snprintf(why, why_size, "cannot write the user namespace maps: %s",
			         strerror(-rc));
			return rc;
		}
		rc = send_msg(sock, MSG_MAPPED);
		if (rc == 0)
			rc = recv_msg(sock, &m, fds, &nfds);
	}
	if (rc < 0) {
		snprintf(why, why_size, "the isolated child went away during setup");
		return rc;
	}
	if (m.kind == MSG_FAIL)
		return failure(plan, &m, why, why_size);
	if (m.kind != MSG_FDS || nfds != want) {
		for (size_t i = 0; i < nfds; i++)
			close(fds[i]);
		snprintf(why, why_size, "the isolated child sent no listeners");
		return -EPROTO;
	}
	*http_fd = fds[0];
	*socks_fd = plan->socks ? fds[1] : -1;
	*netns_fd = fds[want - 1];
	/* the rest of the child's setup (mounts, capabilities, seccomp) may still fail */
	return 0;
}

int pc_isolate_go(const struct pc_isolate_plan *plan, int sock, char *why, size_t why_size)
{
	struct msg m;
	int fds[3];
	size_t nfds = 0;
	int rc = recv_msg(sock, &m, fds, &nfds);

	for (size_t i = 0; i < nfds; i++)
		close(fds[i]);
	if (rc == 0 && m.kind == MSG_FAIL)
		return failure(plan, &m, why, why_size);
	if (rc < 0 || m.kind != MSG_READY) {
		snprintf(why, why_size, "the isolated child went away during setup");
		return rc < 0 ? rc : -EPROTO;
	}
	return send_msg(sock, MSG_GO);
}
