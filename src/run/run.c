#include "run/run.h"

#include <arpa/inet.h>
#include <linux/capability.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "core/error.h"
#include "core/log.h"
#include "net/listen.h"
#include "policy/policy.h"
#include "proxy/server.h"
#include "run/env.h"
#include "run/isolate.h"

extern char **environ;

/* Inside a fresh network namespace every port is free: the listeners take the SPEC's. */
#define ISOLATED_HTTP_PORT  3128
#define ISOLATED_SOCKS_PORT 8081
/* Once the command has exited, connections its leftovers still hold get this long. */
#define EXIT_GRACE_MS 1000

static const int forwarded_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

struct run {
	const struct pc_run_options *o;
	uv_loop_t loop;
	uv_poll_t sig_poll;
	int sigfd;
	pid_t child;
	int status; /* the exit status once the child is gone, else -1 */
	struct pc_server *server;
	struct pc_policy *policy;
};

void pc_run_print_env(FILE *f, uint16_t http_port, uint16_t socks_port, bool allow_local,
                      bool isolated)
{
	char http[64], socks[64];
	struct pc_env_spec spec = {http, socks_port ? socks : NULL, allow_local, isolated};
	size_t n;
	char **vars;

	snprintf(http, sizeof(http), "http://127.0.0.1:%u", http_port);
	snprintf(socks, sizeof(socks), "socks5h://127.0.0.1:%u", socks_port);
	vars = pc_env_vars(&spec, &n);
	for (size_t i = 0; vars != NULL && i < n; i++)
		fprintf(f, "%s\n", vars[i]);
	pc_env_free(vars, n);
}

/* Finds the file execve should run for word (PATH search as the shell does), before fork:
 * the child may not allocate. Returns a new string or NULL (errno set). */
static char *find_command(const char *word)
{
	const char *path = getenv("PATH");
	char buf[PATH_MAX];
	int saved = ENOENT;

	if (strchr(word, '/') != NULL)
		return strdup(word);
	if (path == NULL || path[0] == '\0')
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path != '\0') {
		size_t len = strcspn(path, ":");
		struct stat st;

		if (snprintf(buf, sizeof(buf), "%.*s%s%s", (int)len, len ? path : ".",
		             len ? "/" : "/", word) < (int)sizeof(buf) &&
		    stat(buf, &st) == 0 && S_ISREG(st.st_mode)) {
			if (access(buf, X_OK) == 0)
				return strdup(buf);
			saved = EACCES;
		}
		path += len;
		if (*path == ':')
			path++;
	}
	errno = saved;
	return NULL;
}

static uint16_t fd_port(int fd)
{
	union pc_sockaddr a;
	socklen_t len = sizeof(a);

	if (getsockname(fd, &a.sa, &len) < 0)
		return 0;
	return pc_addr_port(&a);
}

/* $VAR/portcullis, else $HOME/fallback/portcullis (XDG base directories); NULL when neither
 * is an absolute path. */
static char *xdg_dir(const char *var, const char *fallback)
{
	const char *xdg = getenv(var), *home = getenv("HOME");
	char buf[PATH_MAX];

	if (xdg != NULL && xdg[0] == '/')
		snprintf(buf, sizeof(buf), "%s/portcullis", xdg);
	else if (home != NULL && home[0] == '/')
		snprintf(buf, sizeof(buf), "%s/%s/portcullis", home, fallback);
	else
		return NULL;
	return strdup(buf);
}

/* Creates the missing directories of path, the last one included when whole (else up to its
 * last '/'). Failures are left for the caller to notice. */
static void make_dirs(const char *path, bool whole)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len >= sizeof(buf))
		return;
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p != '\0'; p++) {
		if (*p == '/') {
			*p = '\0';
			mkdir(buf, 0700);
			*p = '/';
		}
	}
	if (whole)
		mkdir(buf, 0700);
}

/* What the command may not change (SPEC §8): portcullis's configuration, rules and state.
 * Whatever of it is missing is created first (empty), or the command could create it with
 * contents of its choosing, e.g. a config.toml that a later run would read. */
static int plan_read_only(struct pc_isolate_plan *plan, const struct pc_settings *st,
                          const char *cdir, const char *sdir)
{
	const char *paths[3] = {cdir, sdir, "/etc/portcullis"};
	int rc = 0;

	if (cdir != NULL)
		make_dirs(cdir, true);
	if (sdir != NULL)
		make_dirs(sdir, true);
	if (geteuid() == 0)
		mkdir("/etc/portcullis", 0755);
	for (size_t i = 0; st->has_rules_files && i < st->rules_files.len; i++) {
		const char *f = st->rules_files.items[i];
		int fd;

		make_dirs(f, false);
		fd = open(f, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0)
			close(fd);
	}
	if (strcmp(st->source, "<embedded default>") != 0)
		rc = pc_isolate_plan_ro(plan, st->source);
	for (size_t i = 0; rc == 0 && i < sizeof(paths) / sizeof(paths[0]); i++)
		rc = pc_isolate_plan_ro(plan, paths[i]);
	for (size_t i = 0; rc == 0 && i < st->rules_files.len; i++)
		rc = pc_isolate_plan_ro(plan, st->rules_files.items[i]);
	return rc == 0 ? pc_isolate_plan_finish(plan) : rc;
}

/* Whether this process has CAP_SYS_ADMIN in its user namespace, which (with run's own user
 * namespace being the parent of the command's) is what entering the command's network
 * namespace takes: the SOCKS5 UDP relay sockets are made there (proxy/netns.h). */
static bool has_sys_admin(void)
{
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data) < 0)
		return false;
	return (data[CAP_TO_INDEX(CAP_SYS_ADMIN)].effective & CAP_TO_MASK(CAP_SYS_ADMIN)) != 0;
}

/* An unprivileged run puts itself in a user namespace of its own (mapping only its own ids)
 * before anything else: the command's namespaces are then nested in it, and run holds the
 * capabilities over them that making relay sockets inside takes. Nothing else changes for the
 * proxy: it keeps the host's network and the caller's files. Failing here is not fatal: the
 * command's own unshare then fails with the reason. */
static void enter_own_userns(void)
{
	char map[64];
	uid_t uid = geteuid();
	gid_t gid = getegid();
	int fd;

	if (unshare(CLONE_NEWUSER) < 0)
		return;
	if ((fd = open("/proc/self/setgroups", O_WRONLY | O_CLOEXEC)) >= 0) {
		if (write(fd, "deny", 4) < 0)
			pc_log_debug("setgroups: %s", strerror(errno));
		close(fd);
	}
	snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)uid, (unsigned)uid);
	if ((fd = open("/proc/self/uid_map", O_WRONLY | O_CLOEXEC)) >= 0) {
		if (write(fd, map, strlen(map)) < 0)
			pc_log_debug("uid_map: %s", strerror(errno));
		close(fd);
	}
	snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)gid, (unsigned)gid);
	if ((fd = open("/proc/self/gid_map", O_WRONLY | O_CLOEXEC)) >= 0) {
		if (write(fd, map, strlen(map)) < 0)
			pc_log_debug("gid_map: %s", strerror(errno));
		close(fd);
	}
}

/* ---- after fork ---- */

static int exit_status(int wstatus)
{
	if (WIFEXITED(wstatus))
		return WEXITSTATUS(wstatus);
	if (WIFSIGNALED(wstatus))
		return 128 + WTERMSIG(wstatus);
	return 1;
}

static void on_drained(void *data)
{
	struct run *r = data;

	uv_poll_stop(&r->sig_poll);
	uv_stop(&r->loop);
}

static void on_signal(uv_poll_t *h, int status, int events)
{
	struct run *r = h->data;
	struct signalfd_siginfo si;
	(void)status;
	(void)events;

	while (read(r->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGCHLD) {
			int ws;
			pid_t p = waitpid(r->child, &ws, WNOHANG);
			if (p == r->child && r->status < 0) {
				r->status = exit_status(ws);
				pc_server_drain(r->server, EXIT_GRACE_MS, on_drained, r);
			}
			continue;
		}
		/* Sent by another process: pass it on. From the terminal (SI_KERNEL) the
		 * child's process group got it already; sending it again would double it. */
		if ((si.ssi_code == SI_USER || si.ssi_code == SI_QUEUE) && r->status < 0)
			kill(r->child, (int)si.ssi_signo);
	}
}

/* Waits for the exec report: EOF when execve succeeded (the pipe is close-on-exec), else the
 * child's errno. */
static int exec_result(int fd)
{
	int err = 0;
	ssize_t n;

	do
		n = read(fd, &err, sizeof(err));
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)sizeof(err) ? err : 0;
}

static _Noreturn void child_main(const struct pc_run_options *o, struct pc_isolate_plan *plan,
                                 const char *path, char **envp, const sigset_t *mask,
                                 const struct rlimit *nofile, int exec_fd)
{
	int err;

	if (o->isolate && pc_isolate_child(plan) < 0)
		_exit(PC_RUN_EXIT_ISOLATE);
	/* the command starts with the signal state and file limit run was started with */
	signal(SIGPIPE, SIG_DFL);
	for (size_t i = 0; i < sizeof(forwarded_signals) / sizeof(forwarded_signals[0]); i++)
		signal(forwarded_signals[i], SIG_DFL);
	sigprocmask(SIG_SETMASK, mask, NULL);
	setrlimit(RLIMIT_NOFILE, nofile);
	execve(path, o->argv, envp);
	err = errno;
	if (write(exec_fd, &err, sizeof(err)) < 0)
		_exit(PC_RUN_EXIT_EXEC);
	_exit(PC_RUN_EXIT_EXEC);
}

static void kill_and_reap(pid_t pid)
{
	int ws;

	kill(pid, SIGKILL);
	while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
		;
}

int pc_run(const struct pc_run_options *o)
{
	struct run r;
	struct rlimit nofile, raised;
	struct pc_config_error err;
	struct pc_settings *s = NULL;
	const struct pc_settings *st;
	struct pc_isolate_plan plan;
	char *path = NULL, *audit = NULL, *sdir = NULL, *cdir = NULL;
	char **vars = NULL, **envp = NULL;
	char http_url[64], socks_url[64], why[256];
	size_t nvars = 0;
	sigset_t block, orig;
	int http_fd = -1, socks_fd = -1, netns_fd = -1, pair[2] = {-1, -1}, exec_pipe[2] = {-1, -1};
	int status = PC_RUN_EXIT_USAGE, rc;
	bool socks, loop_open = false;

	memset(&r, 0, sizeof(r));
	memset(&plan, 0, sizeof(plan));
	r.o = o;
	r.sigfd = -1;
	r.status = -1;
	r.child = -1;

	/* the limit the command gets is the one run started with */
	getrlimit(RLIMIT_NOFILE, &nofile);
	raised = nofile;
	raised.rlim_cur = raised.rlim_max;
	setrlimit(RLIMIT_NOFILE, &raised);

	/* single-threaded still, as unshare(CLONE_NEWUSER) requires */
	if (o->isolate && geteuid() != 0)
		enter_own_userns();
	rc = pc_settings_load(&o->ov, &s, &err);
	if (rc == 0) {
		/* The relay sockets of SOCKS5 UDP are made inside the command's namespace; where
		 * that cannot be entered, UDP ASSOCIATE is refused as unsupported. */
		if (o->isolate && s->enable_socks5_udp && !has_sys_admin())
			s->enable_socks5_udp = false;
		rc = pc_policy_new(s, &r.policy, &err);
	}
	if (rc < 0) {
		fprintf(stderr, "portcullis: %s\n", err.text);
		goto out;
	}
	st = pc_policy_settings(r.policy);
	socks = st->enable_socks5 && !o->no_socks;

	path = find_command(o->argv[0]);
	if (path == NULL) {
		fprintf(stderr, "portcullis: cannot execute '%s': %s\n", o->argv[0],
		        errno == ENOENT ? "command not found" : strerror(errno));
		status = PC_RUN_EXIT_EXEC;
		goto out;
	}
	sdir = xdg_dir("XDG_STATE_HOME", ".local/state");
	cdir = xdg_dir("XDG_CONFIG_HOME", ".config");
	if (st->audit_log != NULL) {
		audit = strdup(st->audit_log);
	} else if (sdir != NULL) {
		size_t n = strlen(sdir) + sizeof("/audit.jsonl");
		audit = malloc(n);
		if (audit != NULL)
			snprintf(audit, n, "%s/audit.jsonl", sdir);
	} else {
		audit = strdup("off");
	}

	/* Reserve the listeners before anything else: the ports are fixed before the child
	 * starts, and these very sockets are the ones the event loop serves. */
	if (!o->isolate) {
		union pc_sockaddr a;
		pc_listen_addr_parse("127.0.0.1:0", &a);
		http_fd = pc_listen_socket(&a, 1024);
		if (socks && http_fd >= 0)
			socks_fd = pc_listen_socket(&a, 1024);
		if (http_fd < 0 || (socks && socks_fd < 0)) {
			fprintf(stderr, "portcullis: cannot listen on 127.0.0.1: %s\n",
			        strerror(-(http_fd < 0 ? http_fd : socks_fd)));
			goto out;
		}
		snprintf(http_url, sizeof(http_url), "http://127.0.0.1:%u", fd_port(http_fd));
		snprintf(socks_url, sizeof(socks_url), "socks5h://127.0.0.1:%u",
		         socks ? fd_port(socks_fd) : 0);
	} else {
		pc_listen_addr_parse("127.0.0.1:3128", &plan.http_addr);
		pc_listen_addr_parse("127.0.0.1:8081", &plan.socks_addr);
		plan.socks = socks;
		snprintf(http_url, sizeof(http_url), "http://127.0.0.1:%u", ISOLATED_HTTP_PORT);
		snprintf(socks_url, sizeof(socks_url), "socks5h://127.0.0.1:%u",
		         ISOLATED_SOCKS_PORT);
		rc = plan_read_only(&plan, st, cdir, sdir);
		if (rc < 0) {
			fprintf(stderr,
			        "portcullis: --isolate: cannot plan the read-only views: %s\n",
			        rc == -ENOSPC ? "too many paths to protect" : strerror(-rc));
			status = PC_RUN_EXIT_ISOLATE;
			goto out;
		}
	}
	{
		struct pc_env_spec spec = {http_url, socks ? socks_url : NULL,
		                           st->allow_local_binding, o->isolate};
		vars = pc_env_vars(&spec, &nvars);
		envp = vars != NULL ? pc_env_merge(environ, vars, nvars) : NULL;
		if (envp == NULL) {
			fprintf(stderr, "portcullis: out of memory\n");
			goto out;
		}
	}

	/* Signals are read from a signalfd, so their sender can be told apart: blocked before
	 * the fork, and restored in the child before exec. */
	sigemptyset(&block);
	sigaddset(&block, SIGCHLD);
	for (size_t i = 0; i < sizeof(forwarded_signals) / sizeof(forwarded_signals[0]); i++)
		sigaddset(&block, forwarded_signals[i]);
	sigprocmask(SIG_BLOCK, &block, &orig);
	r.sigfd = signalfd(-1, &block, SFD_NONBLOCK | SFD_CLOEXEC);
	if (r.sigfd < 0 || pipe2(exec_pipe, O_CLOEXEC) < 0 ||
	    (o->isolate && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0)) {
		fprintf(stderr, "portcullis: cannot prepare the child: %s\n", strerror(errno));
		goto out;
	}
	plan.sock = pair[1];
	signal(SIGPIPE, SIG_IGN);

	/* No thread exists yet: the child may run until exec on async-signal-safe calls. */
	r.child = fork();
	if (r.child < 0) {
		fprintf(stderr, "portcullis: cannot fork: %s\n", strerror(errno));
		goto out;
	}
	if (r.child == 0) {
		close(exec_pipe[0]);
		if (pair[0] >= 0)
			close(pair[0]);
		child_main(o, &plan, path, envp, &orig, &nofile, exec_pipe[1]);
	}
	close(exec_pipe[1]);
	exec_pipe[1] = -1;
	if (o->isolate) {
		/* The command must not read this process's memory or take its descriptors. Not
		 * before fork: the child would be non-dumpable too, its /proc files root's, and an
		 * unprivileged run could not write its identity maps. */
		prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
		close(pair[1]);
		pair[1] = -1;
		rc = pc_isolate_parent(r.child, &plan, pair[0], &http_fd, &socks_fd, &netns_fd, why,
		                       sizeof(why));
		if (rc < 0) {
			fprintf(stderr, "portcullis: --isolate: %s\n", why);
			kill_and_reap(r.child);
			status = PC_RUN_EXIT_ISOLATE;
			goto out;
		}
	}

	if (uv_loop_init(&r.loop) < 0) {
		kill_and_reap(r.child);
		goto out;
	}
	loop_open = true;
	if (!o->verbose)
		pc_log_init(NULL, PC_LOG_WARN);
	rc = pc_server_new(&r.loop, r.policy, audit, &r.server);
	if (rc == 0) {
		rc = pc_server_listen(r.server, PC_LISTENER_HTTP, http_fd);
		http_fd = -1;
	}
	if (rc == 0 && socks_fd >= 0) {
		rc = pc_server_listen(r.server, PC_LISTENER_SOCKS, socks_fd);
		socks_fd = -1;
	}
	if (rc == 0 && netns_fd >= 0 && socks && st->enable_socks5_udp)
		rc = pc_server_set_client_netns(r.server, netns_fd);
	if (rc < 0) {
		fprintf(stderr, "portcullis: cannot start the proxy: %s\n", pc_strerror(rc));
		kill_and_reap(r.child);
		goto out;
	}
	if (o->isolate && (rc = pc_isolate_go(&plan, pair[0], why, sizeof(why))) < 0) {
		fprintf(stderr, "portcullis: --isolate: %s\n", why);
		kill_and_reap(r.child);
		status = PC_RUN_EXIT_ISOLATE;
		goto out;
	}
	rc = exec_result(exec_pipe[0]);
	if (rc != 0) {
		fprintf(stderr, "portcullis: cannot execute '%s': %s\n", o->argv[0], strerror(rc));
		kill_and_reap(r.child);
		status = PC_RUN_EXIT_EXEC;
		goto out;
	}

	uv_poll_init(&r.loop, &r.sig_poll, r.sigfd);
	r.sig_poll.data = &r;
	uv_poll_start(&r.sig_poll, UV_READABLE, on_signal);
	/* a SIGCHLD that came before the poll started is still pending in the signalfd */
	uv_run(&r.loop, UV_RUN_DEFAULT);
	status = r.status >= 0 ? r.status : 1;
	if (!o->quiet)
		pc_audit_write_summary(pc_server_audit(r.server), stderr);
out:
	if (r.server != NULL)
		pc_server_free(r.server);
	if (loop_open) {
		if (r.sig_poll.loop != NULL)
			uv_close((uv_handle_t *)&r.sig_poll, NULL);
		uv_run(&r.loop, UV_RUN_DEFAULT);
		uv_loop_close(&r.loop);
	}
	for (int i = 0; i < 2; i++) {
		if (pair[i] >= 0)
			close(pair[i]);
		if (exec_pipe[i] >= 0)
			close(exec_pipe[i]);
	}
	if (http_fd >= 0)
		close(http_fd);
	if (socks_fd >= 0)
		close(socks_fd);
	if (netns_fd >= 0)
		close(netns_fd);
	if (r.sigfd >= 0)
		close(r.sigfd);
	pc_policy_unref(r.policy);
	pc_isolate_plan_free(&plan);
	free(envp);
	pc_env_free(vars, nvars);
	free(path);
	free(audit);
	free(sdir);
	free(cdir);
	return status;
}
