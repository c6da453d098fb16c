/* Reading a libuv stream: taking over a handle that is already reading, and reading at once
 * what is known to be waiting, without a trip through the poll. */
#ifndef PC_NET_STREAM_H
#define PC_NET_STREAM_H

#include <uv.h>

/* Starts reading s with alloc_cb and read_cb. If s is already reading, its reading goes on
 * with these callbacks instead: libuv forgets a descriptor's epoll registration once nothing
 * is polled on it, so a stop and a start would cost two epoll_ctl calls. Returns 0 or the error
 * of uv_read_start. */
int pc_stream_read(uv_stream_t *s, uv_alloc_cb alloc_cb, uv_read_cb read_cb);

/* pc_stream_read, then one read of the socket now, delivered to read_cb as libuv delivers one:
 * bytes; UV_EOF, after which s reads no more; another error, after which it reads no more
 * either; UV_ENOBUFS when alloc_cb gave no room; or 0 when nothing was waiting. For a TCP
 * connection whose peer has spoken (a deferred accept): its first bytes need no poll. read_cb
 * may stop or close s. Returns 0, or the error of uv_read_start (and then nothing was read). */
int pc_stream_read_now(uv_stream_t *s, uv_alloc_cb alloc_cb, uv_read_cb read_cb);

#endif
