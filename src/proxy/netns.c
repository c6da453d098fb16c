#include "proxy/netns.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct pc_netns_worker {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int netns_fd;
	int start_err; /* 0 once inside, -errno if setns failed */
	bool started;
	bool stop;
	bool pending; /* a request waits for the thread */
	union pc_sockaddr local;
	int result;
};

int pc_udp_relay_socket(const union pc_sockaddr *local)
{
	union pc_sockaddr a = *local;
	int fd = socket(a.sa.sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), rc;

	if (fd < 0)
		return -errno;
	pc_addr_set_port(&a, 0);
	if (bind(fd, &a.sa, pc_addr_len(&a)) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

static void *worker_main(void *arg)
{
	struct pc_netns_worker *w = arg;
	int err = setns(w->netns_fd, CLONE_NEWNET) < 0 ? -errno : 0;

	pthread_mutex_lock(&w->mu);
	w->start_err = err;
	w->started = true;
	pthread_cond_broadcast(&w->cv);
	while (err == 0 && !w->stop) {
		if (w->pending) {
			w->result = pc_udp_relay_socket(&w->local);
			w->pending = false;
			pthread_cond_broadcast(&w->cv);
			continue;
		}
		pthread_cond_wait(&w->cv, &w->mu);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

int pc_netns_worker_start(int netns_fd, struct pc_netns_worker **out)
{
	struct pc_netns_worker *w = calloc(1, sizeof(*w));
	int rc;

	*out = NULL;
	if (w == NULL)
		return -ENOMEM;
	w->netns_fd = netns_fd;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	rc = pthread_create(&w->thread, NULL, worker_main, w);
	if (rc != 0) {
		pthread_cond_destroy(&w->cv);
		pthread_mutex_destroy(&w->mu);
		free(w);
		return -rc;
	}
	pthread_mutex_lock(&w->mu);
	while (!w->started)
		pthread_cond_wait(&w->cv, &w->mu);
	rc = w->start_err;
	pthread_mutex_unlock(&w->mu);
	if (rc < 0) {
		pc_netns_worker_stop(w);
		return rc;
	}
	*out = w;
	return 0;
}

int pc_netns_udp_socket(struct pc_netns_worker *w, const union pc_sockaddr *local)
{
	int fd;

	pthread_mutex_lock(&w->mu);
	w->local = *local;
	w->pending = true;
	pthread_cond_broadcast(&w->cv);
	while (w->pending)
		pthread_cond_wait(&w->cv, &w->mu);
	fd = w->result;
	pthread_mutex_unlock(&w->mu);
	return fd;
}

void pc_netns_worker_stop(struct pc_netns_worker *w)
{
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w);
}
