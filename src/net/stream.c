/* Connected libuv streams; see stream.h. */
#include "net/stream.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

int pc_stream_read(uv_stream_t *s, uv_alloc_cb alloc_cb, uv_read_cb read_cb)
{
	int rc = uv_read_start(s, alloc_cb, read_cb);

	if (rc == UV_EALREADY) {
		/* public fields of the handle, read by libuv on each readable event */
		s->alloc_cb = alloc_cb;
		s->read_cb = read_cb;
		rc = 0;
	}
	return rc;
}

void pc_stream_ack_now(uv_tcp_t *tcp, bool *done)
{
	static const int on = 1;
	uv_os_fd_t fd;

	if (*done)
		return;
	*done = true;
	if (uv_fileno((uv_handle_t *)tcp, &fd) == 0)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &on, sizeof(on));
}
