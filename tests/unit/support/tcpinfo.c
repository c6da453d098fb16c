/* Only the kernel's header has tcpi_segs_in, and it cannot share a translation unit with
 * glibc's <netinet/tcp.h> (which uv.h brings in). */
#include "support/tcpinfo.h"

#include <linux/tcp.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/socket.h>

#include <cmocka.h>

uint32_t pc_test_segs_in(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	assert_int_equal(getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len), 0);
	assert_true(len >= offsetof(struct tcp_info, tcpi_segs_in) + sizeof(ti.tcpi_segs_in));
	return ti.tcpi_segs_in;
}
