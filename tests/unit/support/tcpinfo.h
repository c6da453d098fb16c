/* What the kernel says about a TCP socket that glibc's struct tcp_info does not carry. */
#ifndef PC_TEST_TCPINFO_H
#define PC_TEST_TCPINFO_H

#include <stdint.h>

/* Segments fd has received so far (TCP_INFO's tcpi_segs_in); fails the test on error. */
uint32_t pc_test_segs_in(int fd);

#endif
