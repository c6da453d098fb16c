/* A thread that lives in another network namespace and makes sockets there for the loop
 * thread (run --isolate: SOCKS5 UDP relay sockets face the command inside its namespace).
 *
 * The thread enters the namespace once and stays: entering takes CAP_SYS_ADMIN over the
 * namespace's user namespace, which run has over its child's, but coming back to the proxy's
 * own namespace would take it over the initial user namespace, which an unprivileged run never
 * has. A request blocks the caller for the few microseconds a socket and a bind take. */
#ifndef PC_PROXY_NETNS_H
#define PC_PROXY_NETNS_H

#include "policy/addr.h"

struct pc_netns_worker;

/* Starts the thread in the network namespace netns_fd (borrowed for the call). Returns 0, or
 * -errno when the thread cannot enter it (then nothing is left running). */
int pc_netns_worker_start(int netns_fd, struct pc_netns_worker **out);

/* A UDP relay socket made by the worker inside its namespace (see pc_udp_relay_socket).
 * Returns the fd or -errno. */
int pc_netns_udp_socket(struct pc_netns_worker *w, const union pc_sockaddr *local);

/* Stops and joins the thread. Accepts NULL. */
void pc_netns_worker_stop(struct pc_netns_worker *w);

/* A bound UDP socket (non-blocking, close-on-exec) on local's address and a port the kernel
 * picks, in the calling thread's network namespace: the one function that makes a relay
 * socket. Returns the fd or -errno. */
int pc_udp_relay_socket(const union pc_sockaddr *local);

#endif
