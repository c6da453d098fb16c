/* Reading libuv streams; see stream.h. */
#include "net/stream.h"

#include <errno.h>
#include <sys/socket.h>

/* What libuv asks alloc_cb for on each read. */
#define READ_SUGGESTED_SIZE 65536

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

int pc_stream_read_now(uv_stream_t *s, uv_alloc_cb alloc_cb, uv_read_cb read_cb)
{
	uv_buf_t buf = uv_buf_init(NULL, 0);
	uv_os_fd_t fd;
	ssize_t n;
	int rc = pc_stream_read(s, alloc_cb, read_cb);

	if (rc < 0)
		return rc;
	rc = uv_fileno((uv_handle_t *)s, &fd);
	if (rc < 0)
		return 0; /* nothing to read now: the poll will tell */
	alloc_cb((uv_handle_t *)s, READ_SUGGESTED_SIZE, &buf);
	if (buf.base == NULL || buf.len == 0) {
		read_cb(s, UV_ENOBUFS, &buf);
		return 0;
	}
	do
		n = recv(fd, buf.base, buf.len, 0);
	while (n < 0 && errno == EINTR);
	if (n > 0) {
		read_cb(s, n, &buf);
		return 0;
	}
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		read_cb(s, 0, &buf);
		return 0;
	}
	/* as libuv does on EOF and on errors: no more reading, then the callback */
	rc = n == 0 ? UV_EOF : -errno;
	uv_read_stop(s);
	read_cb(s, rc, &buf);
	return 0;
}
