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
	STEP_CAPS,
	STEP_SECCOMP,
};

struct msg {
	int32_t kind;
	int32_t step;
	int32_t err;
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
	case STEP_CAPS:
		return "drop capabilities";
	case STEP_SECCOMP:
		return "install the seccomp filter";
	}
	return "set up isolation";
}

int pc_isolate_plan_ro(struct pc_isolate_plan *plan, const char *path)
{
	struct statvfs st;
	unsigned long flags = 0;

	if (path == NULL || statvfs(path, &st) < 0)
		return 0; /* nothing there to protect */
	for (size_t i = 0; i < plan->n_ro; i++)
		if (strcmp(plan->ro_paths[i], path) == 0)
			return 0;
	if (plan->n_ro == PC_ISOLATE_RO_MAX)
		return -ENOSPC;
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
	plan->ro_paths[plan->n_ro] = path;
	plan->ro_flags[plan->n_ro] = flags;
	plan->n_ro++;
	return 0;
}

/* ---- the child (async-signal-safe from here to pc_isolate_child's end) ---- */

static int child_fail(int sock, enum step step, int err)
{
	struct msg m = {MSG_FAIL, step, err};

	send(sock, &m, sizeof(m), MSG_NOSIGNAL);
	return -err;
}

static int send_msg(int sock, int kind)
{
	struct msg m = {kind, 0, 0};

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
	struct msg m = {MSG_FDS, 0, 0};
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

static int make_read_only(const struct pc_isolate_plan *plan)
{
	/* nothing done here may reach the mounts of the proxy's namespace */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return -errno;
	for (size_t i = 0; i < plan->n_ro; i++) {
		const char *p = plan->ro_paths[i];
		if (mount(p, p, NULL, MS_BIND | MS_REC, NULL) < 0 ||
		    mount(NULL, p, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | plan->ro_flags[i],
			  NULL) < 0)
			return -errno;
	}
	return 0;
}

/* Capabilities the command must never have, even as root of its user namespace: they could
 * unmount the read-only views, reconfigure the network namespace, or reach the kernel. */
static const int dropped_caps[] = {
	CAP_SYS_ADMIN, CAP_NET_ADMIN,   CAP_NET_RAW,   CAP_SYS_PTRACE, CAP_SYS_MODULE,
	CAP_SYS_RAWIO, CAP_SYS_BOOT,    CAP_MAC_ADMIN, CAP_MAC_OVERRIDE, CAP_SYSLOG,
	CAP_BPF,       CAP_PERFMON,     CAP_SYS_TIME,  CAP_SETPCAP,
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

#define SYSCALL_NR offsetof(struct seccomp_data, nr)
#define SYSCALL_ARG0 offsetof(struct seccomp_data, args[0])
#define DENY(err) BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((err) & SECCOMP_RET_DATA))
#define ALLOW BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)
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
	if ((rc = make_read_only(plan)) < 0)
		return child_fail(plan->sock, STEP_MOUNT, -rc);
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

int pc_isolate_parent(pid_t child, int sock, bool socks, int *http_fd, int *socks_fd,
		      int *netns_fd, char *why, size_t why_size)
{
	struct msg m;
	int fds[3], rc;
	size_t nfds = 0, want = socks ? 3 : 2;

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
	if (m.kind == MSG_FAIL) {
		snprintf(why, why_size, "cannot %s: %s", step_name(m.step), strerror(m.err));
		return -m.err;
	}
	if (m.kind != MSG_FDS || nfds != want) {
		for (size_t i = 0; i < nfds; i++)
			close(fds[i]);
		snprintf(why, why_size, "the isolated child sent no listeners");
		return -EPROTO;
	}
	*http_fd = fds[0];
	*socks_fd = socks ? fds[1] : -1;
	*netns_fd = fds[want - 1];
	/* the rest of the child's setup (mounts, capabilities, seccomp) may still fail */
	return 0;
}

int pc_isolate_go(int sock, char *why, size_t why_size)
{
	struct msg m;
	int fds[3];
	size_t nfds = 0;
	int rc = recv_msg(sock, &m, fds, &nfds);

	for (size_t i = 0; i < nfds; i++)
		close(fds[i]);
	if (rc == 0 && m.kind == MSG_FAIL) {
		snprintf(why, why_size, "cannot %s: %s", step_name(m.step), strerror(m.err));
		return -m.err;
	}
	if (rc < 0 || m.kind != MSG_READY) {
		snprintf(why, why_size, "the isolated child went away during setup");
		return rc < 0 ? rc : -EPROTO;
	}
	return send_msg(sock, MSG_GO);
}
